# Shared by the ingest drivers (bench/ingest.sh, bench/alertmanager.sh); sourced, not run.
# Before sourcing, set `bench_name` (prefix of error messages) and `repo_root` (and
# `bench_no_opsdeck=1` when no Opsdeck binary is needed). Provides:
#   bin, work, port, url, tick   the binary (OPSDECK_BIN, else a release build), a temp data
#                                dir (removed on exit), a free port and its URL, clock ticks/s
#   pid                          the server, once start_server ran (stopped on exit)
#   fail, ns_now, cpu_ticks, status_kb, mib, api, json_field, wait_ready, start_server, bench_token
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"

command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

if [[ -n ${bench_no_opsdeck:-} ]]; then
    bin=/bin/true  # the driver measures a peer instead (bench/alertmanager.sh with PEER=alertmanager)
elif [[ -n ${OPSDECK_BIN:-} ]]; then
    bin=$OPSDECK_BIN
else
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    bin="$CARGO_TARGET_DIR/release/opsdeck"
fi
[[ -x $bin ]] || { echo "no opsdeck binary at $bin" >&2; exit 1; }

work=$(mktemp -d "/tmp/opsdeck-$bench_name.XXXXXX")
pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
export OPSDECK_DATA_DIR="$work" OPSDECK_LOG=warn
tick=$(getconf CLK_TCK)

fail() { echo "$bench_name bench: $*" >&2; [[ -s $work/server.log ]] && tail -n 20 "$work/server.log" >&2; exit 1; }
ns_now() { date +%s%N; }
# utime + stime of the server, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() {
    local stat rest f
    stat=$(<"/proc/$pid/stat")
    rest=${stat##*) }
    read -ra f <<<"$rest"
    echo $((f[11] + f[12]))
}
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
mib() { awk -v kb="$1" 'BEGIN {printf "%.1f", kb / 1024}'; }
api() {  # api METHOD PATH [JSON]: prints the body, fails on a non-2xx answer
    curl -sS -f -X "$1" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
        ${3:+-d "$3"} "$url$2"
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# An admin and its API token in $token, before the server starts.
bench_token() {
    echo 'bench password 123' | "$bin" user add --username bench --role admin --password-stdin >/dev/null
    token=$("$bin" token create --user bench --name bench 2>/dev/null | tail -n 1)
}
wait_ready() {  # wait_ready PATH WHAT: up to 30 s for $pid to answer PATH on $url
    for _ in $(seq 1 3000); do
        curl -sf "$url$1" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || fail "$2 exited"
        sleep 0.01
    done
    fail "$2 did not become ready"
}
start_server() {  # start_server [EXTRA ARGS…]
    (cd "$work" && exec "$bin" serve --listen "127.0.0.1:$port" "$@" >>"$work/server.log" 2>&1) & pid=$!
    wait_ready /readyz server
}
