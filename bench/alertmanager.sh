#!/usr/bin/env bash
# Alert-ingest cost at the concurrency real senders use, on a fresh server (SQLite, temp data
# dir, every 200/202 durable), or with PEER=alertmanager on a fresh Alertmanager (in memory) for
# comparison. Everything runs on loopback; wrk shares the machine.
#
# Phases (each DURATION_S seconds, every alert a new one unless noted):
#   batch   Alertmanager API `POST /api/v2/alerts`, BATCH (100) alerts per request, 1 keep-alive
#           connection: how Prometheus sends.
#   single  the same API, one alert per request, 4 keep-alive connections.
#   pd4     PagerDuty Events v2 `POST /v2/enqueue`, one event per request, 4 connections (half
#           new keys, half repeats of 1,000 hot keys, as bench/ingest.sh).
#   webhook Alertmanager webhook notifications (`POST /integrations/KEY/alertmanager`), one group
#           of 1 to BATCH (100) new alerts each, 2 connections (one per wrk thread).
# For each: alerts/s, the server's CPU-ms per 1,000 alerts (utime + stime from /proc), p50/p99
# latency, and the server's peak RSS so far.
#
#   bench/alertmanager.sh                                   # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck DURATION_S=10 bench/alertmanager.sh
#   PHASES="batch" bench/alertmanager.sh                    # one phase only
#   PEER=alertmanager bench/alertmanager.sh                 # the batch and single loads against a
#                                                           # real Alertmanager (in memory, not durable)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=am
peer=${PEER:-opsdeck}
[[ $peer == opsdeck || $peer == alertmanager ]] || { echo "PEER is opsdeck or alertmanager" >&2; exit 1; }
[[ $peer == alertmanager ]] && bench_no_opsdeck=1
# shellcheck source=bench/lib.sh
source "$repo_root/bench/lib.sh"
duration_s=${DURATION_S:-20}
batch=${BATCH:-100}
if [[ $peer == alertmanager ]]; then phases=${PHASES:-batch single}; else phases=${PHASES:-batch single pd4 webhook}; fi
for phase in $phases; do  # checked before anything starts
    case $phase in
    batch | single) ;;
    pd4 | webhook) [[ $peer == opsdeck ]] || fail "Alertmanager takes no $phase load (batch, single)" ;;
    *) fail "unknown phase $phase (batch, single, pd4, webhook)" ;;
    esac
done

new_key() {  # new_key NAME TYPE: a service with one integration; prints its key
    local sid
    sid=$(api POST /api/v1/services "{\"name\": \"$1\"}" | json_field id) || fail "creating service $1 failed"
    api POST "/api/v1/services/$sid/integrations" "{\"type\": \"$2\"}" | json_field key
}

# A real Alertmanager with one receiver that sends nothing: what it costs to take alerts in.
start_alertmanager() {
    local am=/usr/bin/prometheus-alertmanager
    if [[ ! -x $am ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq prometheus-alertmanager >/dev/null
        # The package starts its own service where systemd runs; it would share the CPU.
        systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
    fi
    printf 'route:\n  receiver: sink\nreceivers:\n  - name: sink\n' >"$work/alertmanager.yml"
    "$am" --config.file="$work/alertmanager.yml" --storage.path="$work/am-data" \
        --web.listen-address="127.0.0.1:$port" --cluster.listen-address= >>"$work/server.log" 2>&1 & pid=$!
    wait_ready /-/ready alertmanager
    echo "== $("$am" --version 2>&1 | head -n 1)"
}

if [[ $peer == alertmanager ]]; then
    start_alertmanager
    am_key=unused pd_key=unused
else
    bench_token
    start_server
    am_key=$(new_key "AM bench" alertmanager)
    pd_key=$(new_key "PD bench" pagerduty)
fi
# Warm the routes (and on Opsdeck open the incidents) before measuring.
curl -sf -o /dev/null -H "Authorization: Bearer $am_key" -H 'content-type: application/json' \
    -d '[{"labels":{"alertname":"warmup"}}]' "$url/api/v2/alerts" || fail "warm-up alert refused"
if [[ $peer == opsdeck ]]; then
    curl -sf -o /dev/null -H 'content-type: application/json' \
        -d "{\"routing_key\": \"$pd_key\", \"event_action\": \"trigger\", \"dedup_key\": \"hot-0\", \"payload\": {\"summary\": \"warm-up\", \"source\": \"bench\", \"severity\": \"warning\"}}" \
        "$url/v2/enqueue" || fail "warm-up event refused"
fi
sleep 1

summary=()
run_phase() {  # run_phase NAME PREFIX WRK-ARGS…: runs wrk, prints and records the figures
    local name=$1 prefix=$2 out="$work/$1.txt" cpu0 cpu1 t0 t1 cpu_s rate per1000
    shift 2
    echo "== $name: wrk $*"
    cpu0=$(cpu_ticks); t0=$(ns_now)
    wrk "$@" | tee "$out"
    t1=$(ns_now); cpu1=$(cpu_ticks)
    v() { awk -v k="$prefix.$1" '$1 == k {print $2}' "$out"; }
    local n
    if [[ $prefix == am ]]; then n=$(v alerts_ok); else n=$(v status_202); fi
    (( n > 0 )) || fail "$name: nothing accepted (first unexpected status: $(v first_unexpected_status))"
    cpu_s=$(awk -v t="$((cpu1 - cpu0))" -v hz="$tick" 'BEGIN {printf "%.2f", t / hz}')
    rate=$(awk -v n="$n" -v ns="$((t1 - t0))" 'BEGIN {printf "%.0f", n / (ns / 1e9)}')
    per1000=$(awk -v c="$cpu_s" -v n="$n" 'BEGIN {printf "%.1f", c * 1e6 / n}')
    # SQLite's own heap (page caches, statements) from the server's /metrics, when it has the gauge.
    local heap
    heap=$(curl -sf "$url/metrics" 2>/dev/null | awk '$1 == "opsdeck_sqlite_memory_bytes" {printf "%.1f", $2 / 1048576}') || true
    summary+=("$(printf '%-7s %8s alerts/s  %6s CPU-ms per 1,000  p50 %s ms  p99 %s ms  429: %s  peak RSS %s MiB%s' \
        "$name" "$rate" "$per1000" "$(v latency_p50_ms)" "$(v latency_p99_ms)" "$(v status_429)" \
        "$(mib "$(status_kb VmHWM)")" "${heap:+  (SQLite heap $heap MiB)}")")
}

for phase in $phases; do
    case $phase in
    batch) run_phase batch am -t1 -c1 -d"${duration_s}s" --latency -s "$repo_root/bench/alertmanager.lua" \
        "$url/api/v2/alerts" -- "$am_key" "$batch" ;;
    single) run_phase single am -t2 -c4 -d"${duration_s}s" --latency -s "$repo_root/bench/alertmanager.lua" \
        "$url/api/v2/alerts" -- "$am_key" 1 ;;
    pd4) run_phase pd4 ingest -t2 -c4 -d"${duration_s}s" --latency -s "$repo_root/bench/ingest.lua" \
        "$url/v2/enqueue" -- "$pd_key" 1000 0.5 ;;
    webhook) run_phase webhook am -t2 -c2 -d"${duration_s}s" --latency -s "$repo_root/bench/alertmanager.lua" \
        "$url/integrations/$am_key/alertmanager" -- "$am_key" "$batch" webhook ;;
    *) fail "unknown phase $phase (batch, single, pd4, webhook)" ;;
    esac
done

echo
backend="SQLite, durable"; [[ ${OPSDECK_DATABASE_URL:-} == postgres* ]] && backend="PostgreSQL, durable"
[[ $peer == alertmanager ]] && backend="Alertmanager, in memory"
echo "== summary ($(nproc) cores, ${duration_s}s per phase, $backend)"
printf '%s\n' "${summary[@]}"
