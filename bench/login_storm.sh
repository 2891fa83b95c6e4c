#!/usr/bin/env bash
# Benchmark: password-login storm with OWASP argon2id (t=2, m=19 MiB). N pre-registered bots log
# in as fast as the server takes them; reports logins per second (bots) and the server's
# event-loop lag p50/p99 during the storm (from sb_event_loop_lag_seconds histogram deltas).
# Usage: [STORE=sqlite|postgres | ENGINES=inproc+sqlite|nats+postgres] bench/login_storm.sh [bots=2000]
#        [hash_workers=1]   (ENGINES, bench/lib.sh, also starts a throw-away nats-server)
source "$(dirname "$0")/lib.sh"
N="${1:-2000}"
W="${2:-1}"
build_release
if [ "$ENGINES" = inproc+sqlite ] && [ "$STORE" = postgres ]; then ENGINES=inproc+postgres; fi
use_engines
# Long enough for every hash (about 12 ms each, plus an fsync per registration) on W workers.
D=$(( N * 25 / 1000 / W + 15 ))
# Register the accounts with real hashing, then restart so the storm starts cold.
start_server "${STORE_ARGS[@]}" --set auth.argon2_ops=2 --set auth.argon2_mem_kib=19456 --set "auth.workers=$W"
bots --bots "$N" --duration "$D" --chat-rate 0 --ramp 20000 --mode register --quiet --json /tmp/sb-reg.json \
   >/dev/null || true
stop_server
cp -r "$ROOT/data/bench" /tmp/sb-bench-data
rm -rf "$ROOT/data/bench"
(cd "$ROOT" && exec "$BIN/apps/switchboard/switchboard" --config config/bench.toml "${STORE_ARGS[@]}" \
  --set auth.argon2_ops=2 --set auth.argon2_mem_kib=19456 --set "auth.workers=$W" --data-dir /tmp/sb-bench-data) &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$ADMIN/healthz" >/dev/null && break; sleep 0.1; done
scrape /tmp/sb-lag0.txt
bots --bots "$N" --duration "$D" --chat-rate 0 --ramp 20000 --mode login --quiet --json /tmp/sb-login.json \
   || true
scrape /tmp/sb-lag1.txt
rm -rf /tmp/sb-bench-data
echo "store: $STORE, engines: $ENGINES"
python3 "$ROOT/bench/lag_quantiles.py" /tmp/sb-lag0.txt /tmp/sb-lag1.txt /tmp/sb-login.json "$W" login_storm "$ENGINES"
