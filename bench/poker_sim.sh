#!/usr/bin/env bash
# Benchmark: the poker engine in-process at OpenPoker's scale (issue 3 §7, §9). OpenPoker simulated
# 27,000 tables and 136,000 players on a 2005 laptop; sb-pokersim runs the same load through the
# real rooms, poker handler and session checks, with in-process bots and no sockets: 136,000
# players at 5 seats (27,200 tables), then 1,000,000 players (200,000 tables). The baseline, in the
# same run: 1,000 players (200 tables, everything in cache), so the per-player figures at scale
# can be read as a ratio to the small case. Bots answer at once and the next hand starts at once
# (throughput); the threads are shards, each owning its tables.
# Memory: each event kept in a room's log costs ~170 bytes; the poker type keeps 128 events (about
# three hands), ~4.4 KB per player at 5 seats once full, on top of ~1.2 KB for the seated player
# (room member, table seat, bot and session). LOG_1M=N runs the 1M case with another log size.
# Usage: bench/poker_sim.sh [seconds_136k=30] [seconds_1m=60] [threads=2]
# SB_POKERSIM=path/to/sb-pokersim skips the release build and runs that binary.
source "$(dirname "$0")/lib.sh"
S1="${1:-30}"
S2="${2:-60}"
T="${3:-2}"
if [ -n "${SB_POKERSIM:-}" ]; then
  SIM="$SB_POKERSIM"
else
  build_release
  SIM="$BIN/apps/sb-pokersim/sb-pokersim"
fi

sim() {
  local name="$1"; shift
  echo "poker_sim: $name: sb-pokersim --threads $T $*" >&2
  "$SIM" --threads "$T" --quiet --json "/tmp/sb-pokersim-$name.json" "$@" >/dev/null
}

sim base1k --players 1000 --duration 10 --warmup 2
sim p136k --players 136000 --duration "$S1"

sim p1m --players 1000000 --duration "$S2" --log-size "${LOG_1M:-0}"

python3 - /tmp/sb-pokersim-base1k.json /tmp/sb-pokersim-p136k.json /tmp/sb-pokersim-p1m.json <<'PY'
import json, sys
base, *runs = [json.load(open(p)) for p in sys.argv[1:]]
def per_table(r): return r["steady_hands_per_s"] / r["tables"]
for r in [base] + runs:
  print(json.dumps(r))
for r in runs:
  print(json.dumps({"benchmark": "poker_sim_vs_1k", "players": r["players"], "tables": r["tables"],
    "log_size": r["config"]["log_size"],
    "steady_hands_per_s": round(r["steady_hands_per_s"]), "baseline_hands_per_s": round(base["steady_hands_per_s"]),
    "ratio_hands_per_s": round(r["steady_hands_per_s"] / base["steady_hands_per_s"], 3),
    "hands_per_cpu_s": round(r["hands_per_cpu_s"]), "baseline_hands_per_cpu_s": round(base["hands_per_cpu_s"]),
    "ratio_hands_per_cpu_s": round(r["hands_per_cpu_s"] / base["hands_per_cpu_s"], 3),
    "bytes_per_player": round(r["bytes_per_player"]), "baseline_bytes_per_player": round(base["bytes_per_player"]),
    "hands_per_table_per_s": round(per_table(r), 3),
    "chips_conserved_failures": r["chips_conserved_failures"], "rejections": r["rejections"]}))
PY
