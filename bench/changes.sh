#!/usr/bin/env bash
# Change management at scale (issue 17): conflict detection for a change on 500 CIs against
# 10,000 scheduled changes, and the calendar month view. See bench/changes.py. PostgreSQL with
# OPSDECK_DATABASE_URL (a fresh database).
#
#   bench/changes.sh                                   # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck RUNS=100 bench/changes.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/changes.py" "$OPSDECK_BIN"
