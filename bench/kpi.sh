#!/usr/bin/env bash
# The KPI dashboard and the monthly report over 20,000 monitors, 100,000 incidents and a year of
# daily rollups (issue 14). See bench/kpi.py for what it seeds and measures.
#
#   bench/kpi.sh                                   # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck MONITORS=20000 INCIDENTS=100000 RUNS=20 bench/kpi.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/kpi.py" "$OPSDECK_BIN"
