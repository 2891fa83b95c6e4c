#!/usr/bin/env python3
"""Event-loop lag quantiles between two /metrics scrapes (histogram bucket deltas), plus the
login figures from an sb-bots JSON summary.
Usage: lag_quantiles.py before.txt after.txt bots.json workers [benchmark=login_storm] [engines]"""
import json, re, sys

def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'sb_event_loop_lag_seconds_bucket\{shard="(\d+)",le="([^"]+)"\} (\d+)', line)
        if m:
            out.setdefault(m.group(1), []).append((float('inf') if m.group(2) == '+Inf' else float(m.group(2)), int(m.group(3))))
    return out

def quantile(cum, q):
    total = cum[-1][1]
    if total == 0: return 0.0
    for le, c in cum:
        if c >= q * total: return le
    return cum[-1][0]

b0, b1 = buckets(sys.argv[1]), buckets(sys.argv[2])
lag = {}
for shard, after in b1.items():
    before = dict(b0.get(shard, []))
    delta = [(le, c - before.get(le, 0)) for le, c in after]
    lag[shard] = {"samples": delta[-1][1], "p50_ms": quantile(delta, 0.5) * 1000, "p99_ms": quantile(delta, 0.99) * 1000}
bots = json.load(open(sys.argv[3]))
out = {"benchmark": sys.argv[5] if len(sys.argv) > 5 else "login_storm"}
if len(sys.argv) > 6: out["engines"] = sys.argv[6]
r = bots.get("resume") or {}
if r.get("time_to_all_back_s"):
    out["mean_resumes_per_s"] = round(r["dropped"] / r["time_to_all_back_s"])
out.update({"hash_workers": int(sys.argv[4]), "bots": bots, "event_loop_lag_upper_bound_ms": lag})
print(json.dumps(out))
