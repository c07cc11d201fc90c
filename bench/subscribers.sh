#!/usr/bin/env bash
# Status page subscriber fan-out: 10,000 confirmed webhook subscribers (SUBSCRIBERS=N) of one
# page, each to a distinct URL on a local sink (nginx on loopback), are told of one public
# incident update. Reports how long until every message was sent (from the outbox rows), the
# sends per second, the posting request's latency (the fan-out is one INSERT … SELECT in its
# transaction), and the server's CPU and peak RSS.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsdeck-target}"
command -v nginx >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx >/dev/null; }
if [[ -z ${OPSDECK_BIN:-} ]]; then
    (cd "$repo_root" && cargo build --release --locked -p opsdeck)
    OPSDECK_BIN="$CARGO_TARGET_DIR/release/opsdeck"
fi
exec python3 "$repo_root/bench/subscribers.py" "$OPSDECK_BIN"
