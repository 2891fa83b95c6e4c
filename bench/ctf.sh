#!/usr/bin/env bash
# Benchmark: capture the flag over real sockets. ROOMS rooms x 16 bots, server ticks at HZ; every
# bot plays (a few inputs a second) and receives every tick's State. Reports, over the steady
# window (from 5 s after every bot is in): ticks delivered per second (States received, summed
# over bots), server deliveries/s (sb_broadcast_deliveries_total), event latency (server stamp to
# arrival, 1 ms resolution), input-to-acknowledging-State latency (includes the wait for the next
# tick, up to 1000/HZ ms), ticks lost (gaps in State.tick). Baseline in the same run: the raw
# loopback writev program with as many connections and State-sized frames, one per writev: the
# deliveries/s the kernel path allows on this machine; the ratio is what the node achieves of it.
# Bots log in first (--join-after-all-in), then join the games; two bot processes (PROCS=2).
# Usage: bench/ctf.sh [rooms=1000] [hz=20] [seconds=60]
source "$(dirname "$0")/lib.sh"
ROOMS="${1:-1000}"
HZ="${2:-20}"
S="${3:-60}"
N=$((ROOMS * 16))
build_release
base=$("$BIN/bench/raw_writev_baseline" "$N" 10 1 400)
start_server
t0=$(date +%s.%N); cpu0=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
d0=$(metric sb_broadcast_deliveries_total); k0=$(metric sb_room_ticks_total)
bots --bots "$N" --procs "${PROCS:-2}" --duration "$S" --chat-rate 0 --ramp 4000 --quiet --scenario ctf \
  --prefix "ctf${HZ}h" --join-after-all-in \
  --game-param min_players=16 --game-param time_limit_s=3600 --game-param score_limit=20 \
  --game-param tick_hz="$HZ" --json /tmp/sb-ctf.json
t1=$(date +%s.%N); cpu1=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
d1=$(metric sb_broadcast_deliveries_total); k1=$(metric sb_room_ticks_total)
scrape /tmp/sb-ctf-metrics.txt
python3 - /tmp/sb-ctf.json "$ROOMS" "$HZ" "$t0" "$t1" "$cpu0" "$cpu1" "$d0" "$d1" "$k0" "$k1" "$(getconf CLK_TCK)" "$base" <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); rooms, hz = int(sys.argv[2]), int(sys.argv[3])
t0, t1, c0, c1, d0, d1, k0, k1, tck = map(float, sys.argv[4:13]); base = json.loads(sys.argv[13])
g = b.get("game", {}); st = g.get("steady", {})
print(json.dumps({"benchmark": "ctf", "rooms": rooms, "players": rooms * 16, "tick_hz": hz,
  "in_game": g.get("final_in_game"), "ticks_received_per_s": st.get("ticks_received_per_s"),
  "expected_ticks_per_s": rooms * 16 * hz, "inputs_per_s": st.get("inputs_per_s"),
  "server_deliveries_per_s_whole_run": round((d1 - d0) / (t1 - t0)),
  "server_room_ticks_per_s_whole_run": round((k1 - k0) / (t1 - t0)),
  "server_cpu_cores_whole_run": round((c1 - c0) / tck / (t1 - t0), 2),
  "lost_ticks_steady": st.get("lost_ticks"), "lost_ticks_total": g.get("lost_ticks"),
  "event_latency_ms_steady": st.get("latency_ms", {}).get("event"),
  "input_to_state_ms_steady": st.get("latency_ms", {}).get("input"),
  "baseline_writev_deliveries_per_s": base["deliveries_per_sec"],
  "ratio_to_baseline": round((st.get("ticks_received_per_s") or 0) / base["deliveries_per_sec"], 3),
  "errors": b["errors"], "logged_in": b["bots"]["peak_logged_in"]}))
PY
