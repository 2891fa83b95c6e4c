#!/usr/bin/env bash
# Sets everything up, builds, starts one node with the demo profile and runs bots against it:
# in the foreground capture-the-flag players (the live line each second, a JSON summary at the
# end), and in the background poker players and lobby chatters (summaries in data/demo/).
# Usage: scripts/demo.sh [--bots N] [--duration S] [--scenario lobby|poker|ctf] [other sb-bots flags]
# The background loads are set by DEMO_POKER_BOTS and DEMO_LOBBY_BOTS (see README for sizes).
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
has --bots || args+=(--bots "${DEMO_CTF_BOTS:-480}")
has --duration || args+=(--duration 60)
# Logins paced so that registration (a SQLite write each, with fsync) never queues.
has --ramp || args+=(--ramp "${DEMO_RAMP:-100}")
has --scenario || args+=(--scenario ctf)
has --chat-rate || args+=(--chat-rate 0)
has --password || args+=(--password demo-password)
has --json || args+=(--json data/demo/summary.json)
duration=60
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[$i]}" = --duration ] && duration="${args[$((i + 1))]}"; done
# Background players at poker tables and chatting in the lobby.
"$bin/sb-bots/sb-bots" --port 7700 --password demo-password --quiet --bots "${DEMO_POKER_BOTS:-120}" --duration "$duration" \
  --ramp "${DEMO_RAMP:-100}" --scenario poker --prefix poker --chat-rate 0 --game-param next_hand_delay_ms=1000 \
  --json data/demo/poker.json &
poker=$!
"$bin/sb-bots/sb-bots" --port 7700 --password demo-password --quiet --bots "${DEMO_LOBBY_BOTS:-400}" --duration "$duration" \
  --ramp "${DEMO_RAMP:-100}" --scenario lobby --prefix chat --chat-rate 0.2 --json data/demo/lobby.json &
chat=$!
"$bin/sb-bots/sb-bots" --port 7700 "${args[@]}"
wait "$poker" "$chat" 2>/dev/null || true
echo "summaries written to data/demo/summary.json, poker.json, lobby.json"
python3 - <<'PY' || true
import json
for name in ("summary", "poker", "lobby"):
    try:
        d = json.load(open(f"data/demo/{name}.json"))
    except Exception:
        continue
    g = d.get("game", {})
    line = f"{name}: bots {d['bots']['peak_logged_in']} errors {d['errors']['total']}"
    if g.get("hands"):
        line += f" hands/s {g['hands_per_s']} actions {g['actions']} rejected {g['rejected']}"
    elif g.get("ticks_received"):
        line += (f" ticks received/s {g['ticks_received_per_s']} lost {g['lost_ticks']}"
                 f" input->state p50 {g['latency_ms']['input']['p50']} ms")
    else:
        line += f" chat sent/s {d['chat']['sent_per_s']} received/s {d['chat']['received_per_s']}"
    if g:
        line += f" event latency p99 {g['latency_ms']['event']['p99']} ms"
    print(line)
PY
echo "server metrics:"
curl -s http://127.0.0.1:7702/metrics | grep -E '^sb_(sessions|rooms|room_ticks|game_messages|logins_total\{outcome="ok"\}|chat|broadcast|connections )' || true
