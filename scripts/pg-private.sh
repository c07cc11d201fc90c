#!/usr/bin/env bash
# Start or stop a private, throw-away PostgreSQL cluster for the test suite.
#
#   scripts/pg-private.sh start DIR   # prints ONLY the connection URL on stdout
#   scripts/pg-private.sh stop  DIR   # stops the cluster and deletes DIR
#   scripts/pg-private.sh halt  DIR   # stops the server only (-m fast), keeping DIR
#   scripts/pg-private.sh resume DIR  # starts a halted server again, on the same port
#   scripts/pg-private.sh crash DIR   # stops the server as a crash would (-m immediate:
#                                     # no checkpoint; the next start recovers from the WAL)
#
# PG_PRIVATE_DURABLE=1 at `start` keeps synchronous_commit on (for as long as DIR lives), so a
# committed transaction survives `crash`; the default switches it off for speed.
#
# Why a private cluster instead of the machine-wide one on 5432: the tests then
# never depend on (or disturb) whatever a machine happens to run, they get a
# known superuser with trust auth, and durability is switched off (fsync etc.)
# because test data is disposable and the speed-up is large.
#
# Layout of DIR:
#   DIR/data        the cluster (initdb output)
#   DIR/log         server log (pg_ctl -l)
#   DIR/initdb.log  initdb output, shown on stderr if initdb fails
#   DIR/.s.PGSQL.*  the Unix socket (-k DIR), so nothing touches /var/run
#   DIR/.opsdeck-pg-private  marker holding the bin dir; `stop` only deletes
#                            a DIR that has it (guards against `stop /`)
#
# Everything except the URL goes to stderr or to files in DIR, so callers can
# simply do URL=$(scripts/pg-private.sh start "$dir").
set -euo pipefail

MARKER_NAME=.opsdeck-pg-private

usage() {
    echo "usage: $0 start|stop|halt|resume|crash DIR" >&2
    exit 2
}

log() { echo "pg-private: $*" >&2; }

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root to run: $*"
        return 1
    fi
}

# The highest installed server version's bin dir, e.g. /usr/lib/postgresql/15/bin.
# Debian keeps initdb/pg_ctl there, not on PATH (only wrappers are on PATH).
find_bin_dir() {
    local d best="" best_ver=-1 ver
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
        ver=${d#/usr/lib/postgresql/}
        ver=${ver%/bin}
        # Versions are plain integers (12, 15, 16, ...); ignore anything odd.
        [[ $ver =~ ^[0-9]+$ ]] || continue
        if ((ver > best_ver)); then
            best_ver=$ver
            best=$d
        fi
    done
    [[ -n $best ]] && echo "$best"
}

ensure_postgres_installed() {
    if find_bin_dir >/dev/null; then
        return 0
    fi
    log "initdb not found; installing Debian's postgresql package"
    # apt's output goes to stderr: stdout is reserved for the URL.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update >&2
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends postgresql >&2
    find_bin_dir >/dev/null || { log "initdb still missing after install"; exit 1; }
}

# A TCP port on 127.0.0.1 that is free right now. There is a small race
# between releasing it here and postgres binding it; `start` retries on failure.
pick_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    else
        echo $((20000 + RANDOM % 30000))
    fi
}

# initdb refuses to run as root, so as root we run the server tools as the
# postgres user (created by Debian's postgresql-common) in a DIR it owns.
# We cd into DIR first so the tools do not complain about an unreadable cwd.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd "$DIR" && runuser -u postgres -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

# fsync/synchronous_commit/full_page_writes off: test data is disposable (a
# fast shutdown still writes everything); synchronous_commit stays on with the
# `durable` marker (PG_PRIVATE_DURABLE=1 at start), so commits survive `crash`. max_connections=300: tests run many
# pools in parallel.
server_start() {
    local sync=off
    [[ -f $DIR/durable ]] && sync=on
    as_owner "$1/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 start \
        -o "-p $2 -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=$sync -c full_page_writes=off -c max_connections=300" \
        >&2
}

# halt and resume: a database restart in the middle of a test, on the same port.
halt() {
    [[ -f $DIR/$MARKER_NAME ]] || { log "$DIR was not made by '$0 start'"; exit 1; }
    DIR=$(cd "$DIR" && pwd)
    as_owner "$(cat "$DIR/$MARKER_NAME")/pg_ctl" -D "$DIR/data" -m fast -w stop >&2
}

crash() {
    [[ -f $DIR/$MARKER_NAME ]] || { log "$DIR was not made by '$0 start'"; exit 1; }
    DIR=$(cd "$DIR" && pwd)
    as_owner "$(cat "$DIR/$MARKER_NAME")/pg_ctl" -D "$DIR/data" -m immediate -w stop >&2
}

resume() {
    [[ -f $DIR/$MARKER_NAME && -f $DIR/port ]] || { log "$DIR was not made by '$0 start'"; exit 1; }
    DIR=$(cd "$DIR" && pwd)
    server_start "$(cat "$DIR/$MARKER_NAME")" "$(cat "$DIR/port")"
}

start() {
    ensure_postgres_installed
    local bin
    bin=$(find_bin_dir)

    mkdir -p "$DIR"
    if [[ -n $(ls -A "$DIR") ]]; then
        log "$DIR is not empty; refusing to reuse it"
        exit 1
    fi
    # Absolute path: the socket dir and log path are handed to the server.
    DIR=$(cd "$DIR" && pwd)
    echo "$bin" >"$DIR/$MARKER_NAME"
    if [[ ${PG_PRIVATE_DURABLE:-} == 1 ]]; then
        : >"$DIR/durable"
    fi
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$DIR" "$DIR/$MARKER_NAME"
        # postgres must be able to reach DIR: every parent needs o+x.
        if ! runuser -u postgres -- test -w "$DIR"; then
            log "user postgres cannot write $DIR (check parent directory permissions)"
            exit 1
        fi
    fi
    chmod 700 "$DIR"

    # C.UTF-8: deterministic codepoint ordering (like SQLite's default) but
    # full Unicode case mapping; built into Debian's glibc, so always present.
    if ! as_owner "$bin/initdb" -D "$DIR/data" -A trust -U postgres --no-sync \
        -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1; then
        log "initdb failed:"
        cat "$DIR/initdb.log" >&2
        exit 1
    fi

    local attempt port
    for attempt in 1 2 3 4 5; do
        port=$(pick_port)
        if server_start "$bin" "$port"; then
            echo "$port" >"$DIR/port"
            echo "postgres://postgres@127.0.0.1:$port/postgres"
            return 0
        fi
        log "start on port $port failed (attempt $attempt); log tail:"
        tail -n 5 "$DIR/log" >&2 || true
    done
    log "giving up; full log in $DIR/log"
    exit 1
}

stop() {
    if [[ ! -d $DIR ]]; then
        return 0 # already gone: stopping is idempotent
    fi
    if [[ ! -f $DIR/$MARKER_NAME ]]; then
        log "$DIR was not made by '$0 start'; not touching it"
        exit 1
    fi
    DIR=$(cd "$DIR" && pwd)
    local bin
    bin=$(cat "$DIR/$MARKER_NAME")
    if [[ -f $DIR/data/postmaster.pid ]]; then
        # -m fast: disconnect clients and stop now, no waiting for them.
        if ! as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >&2; then
            # Do not leave an orphaned server behind once its files are gone:
            # the first line of postmaster.pid is the postmaster's pid.
            log "pg_ctl stop failed; killing the postmaster"
            kill -9 "$(head -n 1 "$DIR/data/postmaster.pid")" 2>/dev/null || true
        fi
    fi
    rm -rf "$DIR"
}

[[ $# -eq 2 ]] || usage
DIR=$2
case $1 in
start) start ;;
stop) stop ;;
halt) halt ;;
crash) crash ;;
resume) resume ;;
*) usage ;;
esac
