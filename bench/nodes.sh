#!/usr/bin/env bash
# Scale-out benchmark: check and ingest throughput with 1, 2 and 3 nodes (NODES="1 2") on one
# private PostgreSQL cluster, each node pinned to one core with taskset; MONITORS HTTP monitors
# (default 10,000) at INTERVAL seconds (default 5) against nginx on loopback, then PagerDuty
# Events v2 with wrk against every node at once. OPSDECK_BIN picks the binary (default: a
# release build).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
for tool in nginx wrk psql taskset; do
    command -v $tool >/dev/null || { echo "nodes bench: $tool is needed (apt-get install nginx wrk postgresql util-linux)" >&2; exit 1; }
done
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/nodes.py" "$OPSDECK_BIN"
