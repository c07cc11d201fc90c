#!/usr/bin/env bash
# Alert-ingest benchmark: PagerDuty Events API v2 triggers to POST /v2/enqueue on a fresh server
# (SQLite, temp data dir). Everything runs on loopback; the load generator shares the machine.
#
# Phase 1, sustained: wrk -t2 -c64 (keep-alive) for DURATION_S seconds, each body built per
#   request by bench/ingest.lua: half the events repeat one of 1,000 hot dedup keys, half carry
#   a fresh key. Reports accepted events/s (202s / duration), 429s and other answers, p50/p99
#   latency, the server's CPU (utime + stime from /proc: CPU-seconds, share of one core, CPU-ms
#   per 1,000 accepted events) and its RSS (peak VmHWM and after the run).
# Phase 3, overload: the server restarted with --ingest-queue 100 and OVERLOAD_CONNECTIONS
#   (1,024) connections for OVERLOAD_S (10) seconds: 429s instead of an unbounded queue.
# Phase 2, storm: a fresh service and integration, then STORM_EVENTS (10,000) triggers with
#   distinct dedup keys as fast as possible (bench/ingest_storm.py, 64 keep-alive connections,
#   429s retried); reports wall time, events/s, and the service's incidents (expected: one, with
#   alert_count = STORM_EVENTS).
#
#   bench/ingest.sh                     # builds the release binary, prints the figures
#   DURATION_S=30 bench/ingest.sh
#   OPSDECK_BIN=$HOME/.cache/opsdeck-target/debug/opsdeck DURATION_S=5 bench/ingest.sh   # no build
#   RESULTS_OUT=/tmp/ingest.txt bench/ingest.sh    # also writes the figures as key=value lines
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration_s=${DURATION_S:-60}
connections=${CONNECTIONS:-64}
hot_keys=${HOT_KEYS:-1000}
storm_events=${STORM_EVENTS:-10000}

bench_name=ingest
# shellcheck source=bench/lib.sh
source "$repo_root/bench/lib.sh"

# new_integration NAME: creates a service and a PagerDuty integration; prints "SERVICE_ID KEY".
new_integration() {
    local sid key
    sid=$(api POST /api/v1/services "{\"name\": \"$1\"}" | json_field id) || fail "creating service $1 failed"
    key=$(api POST "/api/v1/services/$sid/integrations" '{"type": "pagerduty"}' | json_field key) \
        || fail "creating the integration of $1 failed"
    [[ $key =~ ^[0-9a-f]{32}$ ]] || fail "unexpected integration key: $key"
    echo "$sid $key"
}
# incidents SERVICE_ID: prints "INCIDENTS ALERTS" (alerts summed over the service's incidents).
incidents() {
    api GET "/api/v1/incidents?service_id=$1&limit=500" | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
print(len(items), sum(i["alert_count"] for i in items))'
}

bench_token
start_server

# ---- phase 1: sustained ------------------------------------------------------------------
ids=$(new_integration "Ingest sustained"); read -r sustained_service sustained_key <<<"$ids"
# One event first, so the integration route is cached and the incident is open before the run.
curl -sf -o /dev/null -H 'content-type: application/json' \
    -d "{\"routing_key\": \"$sustained_key\", \"event_action\": \"trigger\", \"dedup_key\": \"hot-0\", \"payload\": {\"summary\": \"warm-up\", \"source\": \"bench\", \"severity\": \"warning\"}}" \
    "$url/v2/enqueue" || fail "the warm-up event was not accepted"
sleep 1
rss_before=$(status_kb VmRSS)

echo "== sustained: POST /v2/enqueue, $connections connections, 2 threads, ${duration_s}s (half new keys, half repeats of $hot_keys)"
cpu0=$(cpu_ticks); t0=$(ns_now)
wrk -t2 -c"$connections" -d"${duration_s}s" --latency -s "$repo_root/bench/ingest.lua" "$url/v2/enqueue" \
    -- "$sustained_key" "$hot_keys" 0.5 | tee "$work/sustained.txt"
t1=$(ns_now); cpu1=$(cpu_ticks)
rss_peak=$(status_kb VmHWM)
rss_after=$(status_kb VmRSS)

val() { awk -v k="ingest.$1" '$1 == k {print $2}' "$work/sustained.txt"; }
accepted=$(val status_202)
[[ -n $accepted ]] || fail "no figures in the wrk output"
(( accepted > 0 )) || fail "no event was accepted (first unexpected status: $(val first_unexpected_status))"
counts=$(incidents "$sustained_service"); read -r sustained_incidents sustained_alerts <<<"$counts"
cpu_s=$(awk -v t="$((cpu1 - cpu0))" -v hz="$tick" 'BEGIN {printf "%.2f", t / hz}')
wall_s=$(awk -v ns="$((t1 - t0))" 'BEGIN {printf "%.2f", ns / 1e9}')
cpu_pct=$(awk -v c="$cpu_s" -v w="$wall_s" 'BEGIN {printf "%.1f", 100 * c / w}')
cpu_ms_per_1000=$(awk -v c="$cpu_s" -v n="$accepted" 'BEGIN {printf "%.1f", c * 1000 / (n / 1000)}')

# ---- phase 2: storm ----------------------------------------------------------------------
ids=$(new_integration "Ingest storm"); read -r storm_service storm_key <<<"$ids"
echo
echo "== storm: $storm_events triggers with distinct dedup keys, $connections connections"
python3 "$repo_root/bench/ingest_storm.py" "$url" "$storm_key" "$storm_events" "$connections" | tee "$work/storm.json"
sval() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/storm.json" "$1"; }
counts=$(incidents "$storm_service"); read -r storm_incidents storm_alerts <<<"$counts"
storm_peak=$(status_kb VmHWM)

# ---- phase 3: overload -------------------------------------------------------------------
# A small ingest queue (--ingest-queue 100) and far more connections than it holds: the server
# must answer 429 at once for what does not fit, keep its memory bounded, and keep serving.
overload_s=${OVERLOAD_S:-10}
overload_conns=${OVERLOAD_CONNECTIONS:-1024}
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true
kill "$pid"; wait "$pid" 2>/dev/null || true
start_server --ingest-queue 100
echo
echo "== overload: --ingest-queue 100, $overload_conns connections, ${overload_s}s"
wrk -t2 -c"$overload_conns" -d"${overload_s}s" --latency -s "$repo_root/bench/ingest.lua" "$url/v2/enqueue" \
    -- "$sustained_key" "$hot_keys" 0.5 | tee "$work/overload.txt"
oval() { awk -v k="ingest.$1" '$1 == k {print $2}' "$work/overload.txt"; }
overload_peak=$(status_kb VmHWM)

declare -A r=(
    [duration_s]=$(val duration_s)
    [connections]=$connections
    [accepted]=$accepted
    [accepted_per_s]=$(val accepted_per_s)
    [accepted_new]=$(val accepted_new)
    [accepted_repeat]=$(val accepted_repeat)
    [status_429]=$(val status_429)
    [status_other]=$(($(val status_4xx_other) + $(val status_5xx) + $(val status_other)))
    [socket_errors]=$(val socket_errors)
    [latency_p50_ms]=$(val latency_p50_ms)
    [latency_p99_ms]=$(val latency_p99_ms)
    [server_cpu_s]=$cpu_s
    [server_cpu_pct]=$cpu_pct
    [cpu_ms_per_1000_accepted]=$cpu_ms_per_1000
    [rss_before_mib]=$(mib "$rss_before")
    [rss_peak_mib]=$(mib "$rss_peak")
    [rss_after_mib]=$(mib "$rss_after")
    [sustained_incidents]=$sustained_incidents
    [sustained_alerts]=$sustained_alerts
    [sustained_sent_new]=$(val sent_new)
    [storm_events]=$storm_events
    [storm_accepted]=$(sval accepted)
    [storm_retries]=$(sval retries)
    [storm_failed]=$(sval failed)
    [storm_wall_s]=$(sval wall_s)
    [storm_events_per_s]=$(sval events_per_s)
    [storm_latency_p50_ms]=$(sval latency_p50_ms)
    [storm_latency_p99_ms]=$(sval latency_p99_ms)
    [storm_client_cpu_s]=$(sval client_cpu_s)
    [storm_incidents]=$storm_incidents
    [storm_alert_count]=$storm_alerts
    [storm_rss_peak_mib]=$(mib "$storm_peak")
    [overload_connections]=$overload_conns
    [overload_accepted_per_s]=$(oval accepted_per_s)
    [overload_status_429]=$(oval status_429)
    [overload_status_202]=$(oval status_202)
    [overload_other]=$(($(oval status_4xx_other) + $(oval status_5xx) + $(oval status_other)))
    [overload_latency_p99_ms]=$(oval latency_p99_ms)
    [overload_rss_peak_mib]=$(mib "$overload_peak")
)

echo
echo "== summary"
printf 'sustained     %s accepted events/s (%s accepted in %s s: %s new alerts, %s repeats), 429: %s, other: %s, socket errors: %s\n' \
    "${r[accepted_per_s]}" "${r[accepted]}" "${r[duration_s]}" "${r[accepted_new]}" "${r[accepted_repeat]}" \
    "${r[status_429]}" "${r[status_other]}" "${r[socket_errors]}"
printf 'latency       p50 %s ms, p99 %s ms (%s connections)\n' "${r[latency_p50_ms]}" "${r[latency_p99_ms]}" "$connections"
printf 'server CPU    %s CPU-s in %s s wall = %s %% of one core; %s CPU-ms per 1,000 accepted events\n' \
    "$cpu_s" "$wall_s" "$cpu_pct" "$cpu_ms_per_1000"
printf 'server RSS    %s MiB before, peak %s MiB, %s MiB after the run\n' \
    "${r[rss_before_mib]}" "${r[rss_peak_mib]}" "${r[rss_after_mib]}"
printf 'grouping      sustained service: %s incident(s), %s alerts (expected: %s new keys sent, in-flight ones included, + up to %s hot keys)\n' \
    "$sustained_incidents" "$sustained_alerts" "${r[sustained_sent_new]}" "$hot_keys"
printf 'storm         %s events in %s s = %s events/s (p50 %s ms, p99 %s ms; %s retries after 429/503, %s failed; client CPU %s s)\n' \
    "${r[storm_accepted]}" "${r[storm_wall_s]}" "${r[storm_events_per_s]}" "${r[storm_latency_p50_ms]}" \
    "${r[storm_latency_p99_ms]}" "${r[storm_retries]}" "${r[storm_failed]}" "${r[storm_client_cpu_s]}"
printf 'storm result  %s incident(s) for the service (expected 1), alert_count %s (expected %s); peak RSS %s MiB\n' \
    "$storm_incidents" "$storm_alerts" "$storm_events" "${r[storm_rss_peak_mib]}"
printf 'overload      %s connections, queue 100: %s accepted (%s/s), %s answered 429, %s other; p99 %s ms; peak RSS %s MiB\n' \
    "$overload_conns" "${r[overload_status_202]}" "${r[overload_accepted_per_s]}" "${r[overload_status_429]}" \
    "${r[overload_other]}" "${r[overload_latency_p99_ms]}" "${r[overload_rss_peak_mib]}"

if [[ -n ${RESULTS_OUT:-} ]]; then
    for k in $(printf '%s\n' "${!r[@]}" | sort); do printf '%s=%s\n' "$k" "${r[$k]}"; done >"$RESULTS_OUT"
    echo "figures written to $RESULTS_OUT"
fi

status=0
[[ $storm_incidents == 1 ]] || { echo "storm: expected 1 incident, found $storm_incidents" >&2; status=1; }
[[ $storm_alerts == "$storm_events" ]] || { echo "storm: expected alert_count $storm_events, found $storm_alerts" >&2; status=1; }
exit "$status"
