#!/usr/bin/env bash
# Start or stop a private, throw-away Dovecot IMAP server for the test suite.
#
#   scripts/imap-private.sh start DIR   # prints ONLY the URL on stdout:
#                                       #   imap://desk:desk-secret@127.0.0.1:PORT
#   scripts/imap-private.sh stop  DIR   # stops the server and deletes DIR
#
# The server listens on 127.0.0.1 only, on a free port, speaks plaintext IMAP
# (no TLS) and knows these users (USERS below):
#   desk / desk-secret          requester / requester-secret
#
# Why a private server: the tests never depend on (or disturb) a system
# dovecot (/etc/dovecot, port 143); the config is ours alone (dovecot -c).
#
# Dovecot runs unprivileged: every process runs as one user, the caller, or
# `dovecot` (made by Debian's package) when called as root, because dovecot
# refuses mail access and login processes as root. As root, DIR is chowned to
# that user, so a message file a root test drops into a Maildir must be
# world-readable (0644, not tempfile's 0600), and folders must be made over IMAP.
#
# Layout of DIR:
#   DIR/dovecot.conf          the config
#   DIR/users                 passwd-file (plaintext passwords)
#   DIR/log                   everything dovecot logs
#   DIR/run                   base_dir: master.pid and sockets (the path must
#                             stay short: Unix sockets allow ~107 bytes)
#   DIR/state                 state_dir
#   DIR/mail/USER/Maildir     USER's mailbox; INBOX is the Maildir root, so a
#                             message written to DIR/mail/USER/Maildir/new/ (write
#                             it in tmp/ first, then rename) shows up in INBOX
#   DIR/port                  the port
#   DIR/.opsdeck-imap-private marker; `stop` only deletes a DIR that has it
#
# Everything except the URL goes to stderr or to files in DIR, so callers can
# simply do URL=$(scripts/imap-private.sh start "$dir").
set -euo pipefail

MARKER_NAME=.opsdeck-imap-private
USERS=(desk:desk-secret requester:requester-secret) # the first one is in the URL

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

log() { echo "imap-private: $*" >&2; }

ensure_dovecot_installed() {
    # dovecot-core alone has no IMAP server: check for the imap binary.
    if command -v dovecot >/dev/null 2>&1 && [[ -x /usr/lib/dovecot/imap ]]; then
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || { log "dovecot-imapd is not installed (needs root)"; exit 1; }
    log "dovecot not found; installing Debian's dovecot-imapd package"
    # apt's output goes to stderr: stdout is reserved for the URL.
    DEBIAN_FRONTEND=noninteractive apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dovecot-imapd >&2
}

# Same as in pg-private.sh: a TCP port on 127.0.0.1 that is free right now.
# There is a small race before dovecot binds it; `start` retries on failure.
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

# Run a command as the user dovecot runs as (see the header), inside DIR.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd "$DIR" && runuser -u dovecot -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

# Is the master whose pid is in DIR/run/master.pid still running? A zombie
# counts as gone (a container's pid 1 may be slow to reap it).
master_alive() {
    local pid
    pid=$(cat "$DIR/run/master.pid" 2>/dev/null) || return 1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# Ready means a client gets the "* OK" greeting (the master accepts
# connections before a working imap-login process answers them).
greets() {
    [[ $(timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c 4 <&3' _ "$1" 2>/dev/null) == '* OK' ]]
}

write_config() { # $1 = user, $2 = group, $3 = port
    cat >"$DIR/dovecot.conf" <<EOF
# Private test server written by scripts/imap-private.sh; nothing from /etc/dovecot.
instance_name = opsdeck-imap-$3
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/log
protocols = imap
listen = 127.0.0.1
ssl = no
# Dovecot 2.3 (Debian 12); 2.4 renamed this to auth_allow_cleartext = yes.
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong-password tests: no 2 s failure delay, and no per-IP penalty (anvil).
auth_failure_delay = 0

# Unprivileged mode: every process runs as $1.
default_internal_user = $1
default_internal_group = $2
default_login_user = $1
mail_uid = $1
mail_gid = $2
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
mail_fsync = never

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/users
}
userdb {
  driver = static
  args = home=$DIR/mail/%u
}

service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $3
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
}

start() {
    ensure_dovecot_installed

    mkdir -p "$DIR"
    if [[ -n $(ls -A "$DIR") ]]; then
        log "$DIR is not empty; refusing to reuse it"
        exit 1
    fi
    # Absolute path: it goes into the config.
    DIR=$(cd "$DIR" && pwd)
    # Longest socket is run/token-login/imap-urlauth; sun_path holds 107 bytes.
    if ((${#DIR} + 29 > 107)); then
        log "$DIR is too long for dovecot's Unix sockets; use a shorter path"
        exit 1
    fi
    : >"$DIR/$MARKER_NAME"

    local user group u
    if [[ $(id -u) -eq 0 ]]; then
        user=dovecot group=$(id -gn dovecot)
    else
        user=$(id -un) group=$(id -gn)
    fi
    mkdir -p "$DIR/state"
    : >"$DIR/users"
    for u in "${USERS[@]}"; do
        echo "${u%%:*}:{PLAIN}${u#*:}" >>"$DIR/users"
        mkdir -p "$DIR/mail/${u%%:*}/Maildir/"{cur,new,tmp}
    done
    chmod 700 "$DIR"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$user:$group" "$DIR"
        # dovecot must be able to reach DIR: every parent needs o+x.
        if ! runuser -u "$user" -- test -w "$DIR"; then
            log "user $user cannot write $DIR (check parent directory permissions)"
            exit 1
        fi
    fi

    local attempt port deadline
    for attempt in 1 2 3 4 5; do
        port=$(pick_port)
        write_config "$user" "$group" "$port"
        # dovecot binds its listeners before it forks into the background, so
        # a taken port makes this fail (the error is on stderr and in the log).
        if as_owner dovecot -c "$DIR/dovecot.conf" </dev/null >/dev/null 2>>"$DIR/start.err"; then
            deadline=$((SECONDS + 10))
            while ((SECONDS < deadline)); do
                if greets "$port"; then
                    echo "$port" >"$DIR/port"
                    local first=${USERS[0]}
                    echo "imap://${first%%:*}:${first#*:}@127.0.0.1:$port"
                    return 0
                fi
                master_alive || break
                sleep 0.1
            done
            log "dovecot on port $port did not greet; log:"
            cat "$DIR/log" >&2 || true
            stop_server
            exit 1
        fi
        log "start on port $port failed (attempt $attempt); log tail:"
        tail -n 5 "$DIR/log" "$DIR/start.err" >&2 || true
    done
    log "giving up; full log in $DIR/log"
    exit 1
}

# SIGTERM makes the master stop its children and remove master.pid.
stop_server() {
    master_alive || return 0
    local pid i
    pid=$(cat "$DIR/run/master.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # up to ~10 s
        master_alive || return 0
        sleep 0.1
    done
    log "dovecot (pid $pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
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
    stop_server
    rm -rf "$DIR"
}

[[ $# -eq 2 ]] || usage
DIR=$2
case $1 in
start) start ;;
stop) stop ;;
*) usage ;;
esac
