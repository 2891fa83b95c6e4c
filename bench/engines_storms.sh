#!/usr/bin/env bash
# Benchmark (issue 7 §7): the resume storm and the password-login storm on one node, on
# ENGINES=inproc+sqlite and then ENGINES=nats+postgres in the same command (each run starts its
# own throw-away nats-server / PostgreSQL, bench/lib.sh), then one summary line per run.
# Usage: bench/engines_storms.sh [resume_sessions=18000] [login_bots=1000] [hash_workers=1]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
R="${1:-18000}"
L="${2:-1000}"
W="${3:-1}"
OUT=/tmp/sb-engines-storms
rm -rf "$OUT"
mkdir -p "$OUT"
for e in inproc+sqlite nats+postgres; do
  ENGINES=$e bash "$HERE/resume_storm.sh" "$R" 2>"$OUT/resume-$e.err" | tee "$OUT/resume-$e.out"
  SB_BENCH_NO_BUILD=1 ENGINES=$e bash "$HERE/login_storm.sh" "$L" "$W" 2>"$OUT/login-$e.err" | tee "$OUT/login-$e.out"
  export SB_BENCH_NO_BUILD=1
done
python3 - "$OUT" <<'PY'
import glob, json, os, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.out"))):
    for line in open(path):
        if not line.startswith("{"): continue
        d = json.loads(line)
        lag = d["event_loop_lag_upper_bound_ms"]
        p99 = max((v["p99_ms"] for v in lag.values()), default=0)
        b = d["bots"]
        if d["benchmark"] == "resume_storm":
            r = b.get("resume", {})
            print(f'resume_storm {d.get("engines")}: {r.get("dropped")} dropped, all back in {r.get("time_to_all_back_s")} s, '
                  f'mean {d.get("mean_resumes_per_s")}/s, peak second {r.get("peak_resumes_per_s")}/s, '
                  f'errors {b.get("errors")}, lag p99 (worst shard, bucket bound) {p99} ms')
        else:
            print(f'login_storm {d.get("engines")}: {json.dumps({k: b.get(k) for k in ("logins", "errors")})}, '
                  f'login latency {json.dumps(b.get("latency_ms", {}).get("login"))}, lag p99 (worst shard) {p99} ms')
PY
