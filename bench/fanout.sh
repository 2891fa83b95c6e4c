#!/usr/bin/env bash
# Benchmark: lobby fan-out. 18,000 bots in 45 lobbies x 400 chat 64-byte lines at RATE lines per
# bot per second; deliveries/s measured by the bots. The baseline, in the same run: the minimal
# raw loopback writev program with as many connections. Reports both and the ratio.
# Usage: bench/fanout.sh [rate=0.05] [bots=18000] [seconds=30]
source "$(dirname "$0")/lib.sh"
RATE="${1:-0.05}"
N="${2:-18000}"
S="${3:-30}"
build_release
base=$("$BIN/bench/raw_writev_baseline" "$N" 10 8 68)
start_server
bots --bots "$N" --duration "$S" --chat-rate "$RATE" --text-bytes 64 --ramp 3000 --quiet --json /tmp/sb-fanout.json
python3 - "$base" /tmp/sb-fanout.json "$RATE" <<'PY'
import json, sys
base = json.loads(sys.argv[1]); bots = json.load(open(sys.argv[2]))
print(json.dumps({"benchmark": "lobby_fanout", "chat_rate_per_bot": float(sys.argv[3]), "baseline": base, "switchboard": bots}))
PY
