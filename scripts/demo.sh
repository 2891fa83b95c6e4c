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
"$bin/sb-bots/sb-bots" --port 7700 --bots 2000 --duration 60 --chat-rate 0.2 --password demo-password \
  --json data/demo/summary.json "$@"
echo "summary written to data/demo/summary.json"
echo "server metrics:"
curl -s http://127.0.0.1:7702/metrics | grep -E '^sb_(sessions|logins_total\{outcome="ok"\}|chat|broadcast|connections )' || true
