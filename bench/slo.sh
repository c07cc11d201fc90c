#!/usr/bin/env bash
# SLO evaluation of 1,000 SLOs once a minute (issue 14): the CPU it costs. See bench/slo.py.
#
#   bench/slo.sh                                   # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck SLOS=1000 bench/slo.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/slo.py" "$OPSDECK_BIN"
