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
# Baselines: one frame per writev (what a connection receiving ~20 lines/s mostly gets) and
# eight frames per writev (what batching reaches under load).
base1=$("$BIN/bench/raw_writev_baseline" "$N" 10 1 68)
base8=$("$BIN/bench/raw_writev_baseline" "$N" 10 8 68)
start_server
bots --bots "$N" --duration "$S" --chat-rate "$RATE" --text-bytes 64 --ramp 3000 --quiet --json /tmp/sb-fanout.json
python3 - "$base1" "$base8" /tmp/sb-fanout.json "$RATE" <<'PY'
import json, sys
b1, b8 = json.loads(sys.argv[1]), json.loads(sys.argv[2]); bots = json.load(open(sys.argv[3]))
steady = bots["chat"]["steady_received_per_s"] or bots["chat"]["received_per_s"]
print(json.dumps({"benchmark": "lobby_fanout", "chat_rate_per_bot": float(sys.argv[4]),
  "deliveries_per_s": steady, "chat_latency_ms": bots["latency_ms"]["chat"],
  "baseline_batch1_per_s": b1["deliveries_per_sec"], "baseline_batch8_per_s": b8["deliveries_per_sec"],
  "ratio_to_batch1": round(steady / b1["deliveries_per_sec"], 3),
  "ratio_to_batch8": round(steady / b8["deliveries_per_sec"], 3),
  "errors": bots["errors"], "logged_in": bots["bots"]["peak_logged_in"]}))
PY
