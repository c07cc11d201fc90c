#!/usr/bin/env bash
# The service desk at scale (issue 18): the agent queue over 1,000,000 tickets. See
# bench/tickets.py. PostgreSQL with OPSDECK_DATABASE_URL (a fresh database).
#
#   bench/tickets.sh                                   # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck RUNS=100 bench/tickets.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/tickets.py" "$OPSDECK_BIN"
