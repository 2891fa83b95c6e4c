#!/usr/bin/env bash
# Sets everything up, builds, starts one node with the demo profile and runs bots against it,
# showing live figures each second and a JSON summary at the end.
# Usage: scripts/demo.sh [--bots N] [--duration S] [other sb-bots flags]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
bin=build/release/apps
mkdir -p data/demo
"$bin/switchboard/switchboard" --config config/demo.toml &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 1 50); do
  if curl -sf http://127.0.0.1:7702/healthz >/dev/null; then break; fi
  sleep 0.1
done
# Defaults for flags the caller did not give (sb-bots refuses a flag given twice).
args=("$@")
has() { for a in "${args[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }
has --bots || args+=(--bots 2000)
has --duration || args+=(--duration 60)
has --chat-rate || args+=(--chat-rate 0.2)
has --password || args+=(--password demo-password)
has --json || args+=(--json data/demo/summary.json)
"$bin/sb-bots/sb-bots" --port 7700 "${args[@]}"
echo "summary written to data/demo/summary.json"
echo "server metrics:"
curl -s http://127.0.0.1:7702/metrics | grep -E '^sb_(sessions|logins_total\{outcome="ok"\}|chat|broadcast|connections )' || true
