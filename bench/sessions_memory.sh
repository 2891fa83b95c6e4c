#!/usr/bin/env bash
# Benchmark: user-space memory per idle logged-in session.
# 18,000 bots log in and sit idle in lobbies (45 x 400); RSS and heap growth of the server
# divided by the session count. Usage: bench/sessions_memory.sh [sessions=18000]
source "$(dirname "$0")/lib.sh"
N="${1:-18000}"
build_release
start_server
sleep 1
rss0=$(rss_kib); heap0=$(metric sb_heap_in_use_bytes)
bots --bots "$N" --duration 40 --chat-rate 0 --ramp 3000 --quiet --json /tmp/sb-mem.json &
bp=$!
# Wait until every session is in a lobby, then let it settle.
for _ in $(seq 1 120); do
  n=$(metric 'sb_sessions{state="in_lobby"}'); [ "${n:-0}" -ge "$N" ] && break; sleep 1
done
sleep 3
n=$(metric 'sb_sessions{state="in_lobby"}')
rss1=$(rss_kib); heap1=$(metric sb_heap_in_use_bytes)
rooms=$(metric sb_rooms)
kill -INT $bp 2>/dev/null; wait $bp 2>/dev/null || true
python3 - "$N" "$n" "$rss0" "$rss1" "$heap0" "$heap1" "$rooms" <<'PY'
import json, sys
N, n, rss0, rss1, heap0, heap1, rooms = sys.argv[1:]
n = int(n); d_rss = (int(rss1) - int(rss0)) * 1024; d_heap = int(heap1) - int(heap0)
print(json.dumps({"benchmark": "sessions_memory", "sessions_in_lobby": n, "lobbies": int(rooms),
  "rss_growth_bytes": d_rss, "rss_per_session_bytes": round(d_rss / max(n, 1)),
  "heap_growth_bytes": d_heap, "heap_per_session_bytes": round(d_heap / max(n, 1))}))
PY
