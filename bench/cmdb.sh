#!/usr/bin/env bash
# The CMDB at 100,000 CIs and 500,000 relations (issue 16): import time, impact walks and
# search. See bench/cmdb.py for the topology and what it measures. PostgreSQL with
# OPSDECK_DATABASE_URL (a fresh database).
#
#   bench/cmdb.sh                                   # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck CIS=100000 RUNS=200 bench/cmdb.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/cmdb.py" "$OPSDECK_BIN"
