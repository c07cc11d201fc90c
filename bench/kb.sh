#!/usr/bin/env bash
# The knowledge base at scale (issue 18): search over 100,000 articles. See
# bench/kb.py. PostgreSQL with OPSDECK_DATABASE_URL (a fresh database).
#
#   bench/kb.sh                                   # builds the release binary
#   OPSDECK_BIN=…/release/opsdeck RUNS=100 bench/kb.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/kb.py" "$OPSDECK_BIN"
