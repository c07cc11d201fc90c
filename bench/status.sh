#!/usr/bin/env bash
# Public status page under load: a page of 50 components, each following its own service with
# one HTTP monitor every 10 s against a local target that flips between 200 and 503 every
# few seconds (so monitors keep changing state), read by wrk over 64 keep-alive connections.
#
# Phases (DURATION_S seconds each): `summary` (statuspage.io summary.json) and `html` (the page).
# For each: requests/s, p50/p99, the server's CPU-ms per 1,000 requests and peak RSS; then how
# long a change (a component set by hand) took to show while the page is under load (the page is
# rendered at most every 2 s).
#
#   bench/status.sh                                  # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck DURATION_S=10 bench/status.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=status
# shellcheck source=bench/lib.sh
source "$repo_root/bench/lib.sh"
duration_s=${DURATION_S:-15}
components=${COMPONENTS:-50}

# The monitors' target: answers 200, or 503 while the flag file exists.
target_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
flag="$work/failing"
python3 - "$target_port" "$flag" >"$work/target.log" 2>&1 <<'EOF' &
import http.server, os, sys
port, flag = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        code = 503 if os.path.exists(flag) else 200
        self.send_response(code); self.send_header("content-length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
target_pid=$!
trap 'kill $target_pid 2>/dev/null || true; cleanup' EXIT

bench_token
start_server
comps="["
for i in $(seq 1 "$components"); do
    sid=$(api POST /api/v1/services "{\"name\": \"Service $i\"}" | json_field id)
    api POST /api/v1/monitors "{\"name\": \"check $i\", \"service_id\": \"$sid\", \"type\": \"http\", \
        \"interval_seconds\": 10, \"timeout_seconds\": 2, \"settings\": {\"url\": \"http://127.0.0.1:$target_port/\"}}" >/dev/null
    comps+="{\"name\": \"Component $i\", \"service_id\": \"$sid\", \"group\": \"Group $(( (i - 1) / 10 + 1 ))\"},"
done
comps="${comps%,}]"
api POST /api/v1/status-pages "{\"title\": \"Bench\", \"slug\": \"bench\", \"components\": $comps}" >/dev/null
# Flip the target every 7 s for the whole run.
( while sleep 7; do if [[ -e $flag ]]; then rm -f "$flag"; else touch "$flag"; fi; done ) & flipper=$!
trap 'kill $flipper $target_pid 2>/dev/null || true; cleanup' EXIT
sleep 12

summary=()
run_phase() {  # run_phase NAME PATH
    local name=$1 out="$work/$1.txt" cpu0 cpu1 cpu_s per1000 rate p50 p99
    echo "== $name: wrk -t2 -c64 -d${duration_s}s $url$2"
    cpu0=$(cpu_ticks)
    wrk -t2 -c64 -d"${duration_s}s" --latency "$url$2" | tee "$out"
    cpu1=$(cpu_ticks)
    rate=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")
    p50=$(awk '$1 == "50%" {print $2}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    cpu_s=$(awk -v t="$((cpu1 - cpu0))" -v hz="$tick" 'BEGIN {printf "%.2f", t / hz}')
    per1000=$(awk -v c="$cpu_s" -v r="$rate" -v d="$duration_s" 'BEGIN {printf "%.1f", c * 1e6 / (r * d)}')
    summary+=("$(printf '%-8s %8s req/s  p50 %s  p99 %s  %s CPU-ms per 1,000  peak RSS %s MiB' \
        "$name" "$rate" "$p50" "$p99" "$per1000" "$(mib "$(status_kb VmHWM)")")")
}
run_phase summary /status/bench/api/v2/summary.json
run_phase html /status/bench

# Freshness: set a component's status by hand while wrk keeps reading the page, and time until
# summary.json shows it (the rendering is reused for at most 2 s).
kill $flipper 2>/dev/null || true
page_json=$(api GET /api/v1/status-pages | python3 -c 'import json,sys; p=json.load(sys.stdin)["items"][0]; print(p["id"], p["components"][0]["id"])')
read -r page_id comp_id <<<"$page_json"
wrk -t1 -c16 -d15s "$url/status/bench/api/v2/summary.json" >/dev/null & load=$!
sleep 2
t0=$(ns_now)
api PUT "/api/v1/status-pages/$page_id/components/$comp_id/override" '{"status": "under_maintenance", "minutes": 10}' >/dev/null
seen=""
for _ in $(seq 1 300); do
    shown=$(curl -sf "$url/status/bench/api/v2/components.json" | python3 -c '
import json, sys
print(next((c["status"] for c in json.load(sys.stdin)["components"] if c["id"] == sys.argv[1]), "missing"))' "$comp_id")
    if [[ $shown == under_maintenance ]]; then
        seen=$(ns_now)
        break
    fi
    sleep 0.05
done
wait $load 2>/dev/null || true
echo
echo "== summary ($(nproc) cores, ${duration_s}s per phase, $components components, SQLite)"
printf '%s\n' "${summary[@]}"
plain=$(curl -s -o /dev/null -w '%{size_download}' "$url/status/bench")
gz=$(curl -s -H 'accept-encoding: gzip' -o /dev/null -w '%{size_download}' "$url/status/bench")
echo "the HTML page: $plain bytes, $gz bytes gzipped (for browsers that accept gzip)"
if [[ -n $seen ]]; then
    echo "a component set by hand showed on components.json after $(( (seen - t0) / 1000000 )) ms, under load"
else
    echo "a component set by hand did not show on components.json within 15 s"
fi
