#!/usr/bin/env bash
# Notification benchmark: 10,000 open incidents (INCIDENTS=N) whose second escalation level falls
# due a minute after each opened; every notification goes to a webhook sink (nginx on loopback).
# Reports the lag between due time and send (p50/p99, from the outbox rows) and webhook sends
# per second, plus the server's CPU and peak RSS. BURST=1 makes all 10,000 due at one instant
# (how fast the outbox drains).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
command -v nginx >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx >/dev/null; }
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/notify.py" "$OPSDECK_BIN"
