#!/usr/bin/env bash
# THE test command for Opsdeck: prepares a fresh Debian machine (only what is
# missing, so reruns are fast) and runs every test.
#
#   scripts/test.sh            # everything: cargo tests + browser tests
#   scripts/test.sh --no-e2e   # skip the browser tests (quick local runs)
#
# Environment:
#   OPSDECK_TEST_POSTGRES_URL  use this PostgreSQL server (superuser URL; the
#                              tests create their own databases on it) instead
#                              of starting a private one
#   CARGO_TARGET_DIR           build dir; default ~/.cache/opsdeck-target so
#                              the build cache outlives a fresh clone
#   CHROMIUM                   browser for the e2e tests; default /usr/bin/chromium
#
# Exits non-zero as soon as any phase fails.
set -euo pipefail

run_e2e=1
for arg in "$@"; do
    case $arg in
    --no-e2e) run_e2e=0 ;;
    -h | --help)
        sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "unknown argument: $arg (try --help)" >&2
        exit 2
        ;;
    esac
done

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

section() { printf '\n==== %s ====\n' "$*"; }

# ---------------------------------------------------------------------------
section "prerequisites"
# Check each tool with a cheap file/PATH test and collect what is missing, so
# apt-get update (slow) runs at most once and only when something is needed.
# Browsers come from Debian's chromium package: nothing may be downloaded by
# playwright (the machine reaches package registries only).
missing=()
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    missing+=(postgresql) # initdb/pg_ctl for the private test cluster
fi
[[ -x /usr/lib/nagios/plugins/check_tcp ]] || missing+=(monitoring-plugins-basic) # real plugins for the command-probe tests
[[ -x /usr/bin/prometheus ]] || missing+=(prometheus)                              # real alert senders for the ingest tests
[[ -x /usr/bin/prometheus-alertmanager ]] || missing+=(prometheus-alertmanager)
[[ -x /usr/sbin/dovecot ]] || missing+=(dovecot-imapd)                              # the desk's mailbox for the IMAP tests
command -v curl >/dev/null 2>&1 || missing+=(curl) # the schema fuzz waits for the server with it
if ((run_e2e)); then
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "all present"
fi

# Python peers: icalendar parses our iCalendar feeds, aiosmtpd is the SMTP sink, schemathesis
# fuzzes the API against its OpenAPI document, ansible-core's ansible-inventory writes and reads
# the inventories the CMDB imports and serves, and the official MCP SDK (`mcp`) is the client of
# the /mcp server.
if ! python3 -c 'import icalendar, aiosmtpd, schemathesis, ansible; from mcp.client.streamable_http import streamable_http_client' 2>/dev/null \
    || ! command -v ansible-inventory >/dev/null 2>&1; then
    echo "installing Python packages: icalendar aiosmtpd schemathesis ansible-core mcp"
    python3 -m pip install --quiet --disable-pip-version-check icalendar aiosmtpd 'schemathesis>=4.32,<5' \
        'ansible-core>=2.15,<2.20' 'mcp>=1.24'
fi

# rustup puts cargo in ~/.cargo/bin; a non-login shell (CI) may not have it
# on PATH.
: "${HOME:=$(cd ~ && pwd)}"
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# Outside the clone, so a fresh clone (as CI makes) reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# ---------------------------------------------------------------------------
section "postgresql"
# The PostgreSQL integration tests read OPSDECK_TEST_POSTGRES_URL. Unless the
# caller gave one, start a private cluster (never the machine-wide server that
# may be on 5432) and stop it however this script exits.
pg_dir=""
cleanup() {
    if [[ -n $pg_dir ]]; then
        "$repo_root/scripts/pg-private.sh" stop "$pg_dir" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
# Make Ctrl-C / SIGTERM go through the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z ${OPSDECK_TEST_POSTGRES_URL:-} ]]; then
    # Under /tmp, not $TMPDIR: the postgres user must reach the directory, and
    # the Unix socket path inside it must stay short (~100 bytes max).
    pg_dir=$(mktemp -d /tmp/opsdeck-pg.XXXXXX)
    OPSDECK_TEST_POSTGRES_URL=$("$repo_root/scripts/pg-private.sh" start "$pg_dir")
    export OPSDECK_TEST_POSTGRES_URL
    echo "private cluster: $OPSDECK_TEST_POSTGRES_URL (log: $pg_dir/log)"
else
    echo "using the given OPSDECK_TEST_POSTGRES_URL"
fi

# ---------------------------------------------------------------------------
section "lint (rustfmt, clippy with unwrap/expect/panic denied outside tests)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# ---------------------------------------------------------------------------
section "cargo test (unit + integration)"
cargo test --workspace --locked

# cargo test already built the binary for the CLI tests (crates/opsdeck/tests), with the
# same features; a separate `cargo build -p opsdeck` would compile the crates a second time.
export OPSDECK_BIN="$CARGO_TARGET_DIR/debug/opsdeck"
[[ -x $OPSDECK_BIN ]] || { echo "missing $OPSDECK_BIN: cargo test should have built it" >&2; exit 1; }

# ---------------------------------------------------------------------------
section "schema fuzz (schemathesis: the OpenAPI document against the server)"
"$repo_root/scripts/schemathesis.sh"

# ---------------------------------------------------------------------------
if ((!run_e2e)); then
    section "browser tests skipped (--no-e2e)"
    exit 0
fi

# ---------------------------------------------------------------------------
section "browser tests (e2e)"
cd "$repo_root/e2e"
# playwright-core never downloads browsers itself; this makes sure nothing
# else in the tree tries to either.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund
else
    npm install --no-audit --no-fund
fi

if ! compgen -G 'tests/*.test.mjs' >/dev/null; then
    echo "no e2e/tests/*.test.mjs found: the browser suite is missing" >&2
    exit 1
fi

# One file at a time: each starts its own server and browser, and the machine
# has 2 cores. --test-concurrency needs node >= 20.10; older nodes warn here.
concurrency=(--test-concurrency=1)
if ! node --help | grep -q -- '--test-concurrency'; then
    echo "WARNING: node $(node --version) lacks --test-concurrency; files may run in parallel" >&2
    concurrency=()
fi
node --test "${concurrency[@]}" tests/
