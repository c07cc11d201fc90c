#!/usr/bin/env bash
# Monitoring benchmark: N HTTP monitors at a 30 s interval (INTERVAL=10 for 10 s; FRESH=1 for a new
# connection per check) against a fast local target (nginx on
# loopback), for N = 1,000 / 5,000 / 20,000 (override with COUNTS="1000 5000").
# Reports CPU-ms per 1,000 checks (the whole opsdeck process, storage included), peak RSS,
# scheduling lag p50/p99, database bytes per monitor, and monitors-page latency.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
command -v nginx >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx >/dev/null; }
(cd "$repo_root" && cargo build --release --locked -p opsdeck)
exec python3 "$repo_root/bench/monitors.py" "$CARGO_TARGET_DIR/release/opsdeck" ${COUNTS:-1000 5000 20000}
