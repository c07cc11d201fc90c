#!/usr/bin/env bash
# Probe-agent benchmark: one server and AGENTS agents (default 2, each its own location), MONITORS
# HTTP monitors (default 2,000) at INTERVAL seconds (default 5) against nginx on loopback, run
# from every agent. Server pinned to core 0, agents to core 1. OPSDECK_BIN picks the binary
# (default: a release build).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
for tool in nginx taskset; do
    command -v $tool >/dev/null || { echo "agents bench: $tool is needed (apt-get install nginx util-linux)" >&2; exit 1; }
done
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/agents.py" "$OPSDECK_BIN"
