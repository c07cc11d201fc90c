#!/usr/bin/env bash
# HTTP benchmark of the foundation: authenticated GET /api/v1/services (100 services, keep-alive,
# 64 connections), the login page, idle RSS, binary size and cold start to /readyz.
# Everything runs on loopback; the load generator (wrk) shares the machine with the server.
#
#   bench/http.sh            # builds the release binary, prints the figures
#   DURATION=30s bench/http.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
duration=${DURATION:-10s}

command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

(cd "$repo_root" && cargo build --release --locked -p opsdeck)
bin="$CARGO_TARGET_DIR/release/opsdeck"
work=$(mktemp -d /tmp/opsdeck-bench.XXXXXX)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
export OPSDECK_DATA_DIR="$work" OPSDECK_LOG=warn

ms_now() { date +%s%3N; }
wait_ready() {
    for _ in $(seq 1 2000); do
        curl -sf "$url/readyz" >/dev/null 2>&1 && return 0
        sleep 0.005
    done
    echo "server did not become ready" >&2; exit 1
}

# Cold start on an empty data directory (creates and migrates the database).
t0=$(ms_now); "$bin" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 & pid=$!; wait_ready; t1=$(ms_now)
cold_fresh=$((t1 - t0))
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

echo 'bench password 123' | "$bin" user add --username bench --role admin --password-stdin >/dev/null
token=$("$bin" token create --user bench --name bench 2>/dev/null | tail -n 1)

# Cold start on an existing database.
t0=$(ms_now); "$bin" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 & pid=$!; wait_ready; t1=$(ms_now)
cold_existing=$((t1 - t0))

for i in $(seq -w 1 100); do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
        -d "{\"name\": \"Service $i\", \"tier\": $(( (10#$i % 4) + 1 )), \"tags\": [\"prod\", \"bench\"], \"runbook_url\": \"https://wiki.example.com/runbooks/service-$i\"}" \
        "$url/api/v1/services"
done
count=$(curl -sf -H "Authorization: Bearer $token" "$url/api/v1/services?limit=500" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[[ $count == 100 ]] || { echo "expected 100 services, found $count" >&2; exit 1; }

sleep 2
rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")

echo "== GET /api/v1/services?limit=100 (bearer token, 64 connections, $duration)"
wrk -t2 -c64 -d"$duration" --latency -H "Authorization: Bearer $token" "$url/api/v1/services?limit=100" | tee "$work/api.txt"
echo "== GET /login (64 connections, $duration)"
wrk -t2 -c64 -d"$duration" --latency "$url/login" | tee "$work/login.txt"
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")

size=$(stat -c %s "$bin")
echo
echo "== summary"
printf 'api list      %s req/s, p99 %s\n' "$(awk '/Requests\/sec/ {print $2}' "$work/api.txt")" "$(awk '/ 99%/ {print $2}' "$work/api.txt")"
printf 'login page    %s req/s, p99 %s\n' "$(awk '/Requests\/sec/ {print $2}' "$work/login.txt")" "$(awk '/ 99%/ {print $2}' "$work/login.txt")"
printf 'idle RSS      %s MiB (after load: %s MiB)\n' "$((rss_idle / 1024))" "$((rss_after / 1024))"
printf 'binary        %s MiB\n' "$((size / 1024 / 1024))"
printf 'cold start    %s ms to /readyz on a new data dir, %s ms on an existing one\n' "$cold_fresh" "$cold_existing"
