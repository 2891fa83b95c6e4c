#!/usr/bin/env bash
# Benchmark: resume storm. N bots log in; then all drop their connections at once and resume
# with their tokens (sb-bots --drop-at). Reports resumes per second and the time until all are
# back (from the bots' JSON summary), and the shards' event-loop lag p50/p99 over the storm only
# (/metrics scraped every 0.1 s: the last scrape before the first resume to the first with all N
# resumed). ENGINES=inproc+sqlite (default) | nats+postgres (throw-away servers, bench/lib.sh).
# Usage: [ENGINES=...] bench/resume_storm.sh [sessions=18000]
source "$(dirname "$0")/lib.sh"
N="${1:-18000}"
build_release
use_engines
start_server "${STORE_ARGS[@]}"
# Four source addresses: 18,000 fresh connects right after 18,000 closes would otherwise reuse
# 4-tuples still in TIME_WAIT and pay SYN retransmits (1 s, 3 s) on loopback.
bots --bots "$N" --duration 45 --chat-rate 0 --ramp 3000 --drop-at 5 --quiet --json /tmp/sb-resume.json --source-ips 4 \
  --backoff-base-ms 50 --backoff-cap-ms 2000 &
BOTS_PID=$!
rm -f /tmp/sb-rlag0.txt /tmp/sb-rlag1.txt
MSGS0=""
MSGS1=""
while kill -0 "$BOTS_PID" 2>/dev/null; do
  scrape /tmp/sb-rlag.txt
  r=$(awk '$1 == "sb_resumes_total" {print $2}' /tmp/sb-rlag.txt)
  r=${r:-0}
  if [ "${r%.*}" -eq 0 ]; then
    cp /tmp/sb-rlag.txt /tmp/sb-rlag0.txt
    [ -z "$NATS_PID" ] || MSGS0=$(nats_msgs)
  elif [ ! -f /tmp/sb-rlag1.txt ] && [ "${r%.*}" -ge "$N" ]; then
    cp /tmp/sb-rlag.txt /tmp/sb-rlag1.txt
    [ -z "$NATS_PID" ] || MSGS1=$(nats_msgs)
  fi
  sleep 0.1
done
wait "$BOTS_PID" || true
[ -f /tmp/sb-rlag1.txt ] || scrape /tmp/sb-rlag1.txt
echo "engines: $ENGINES"
python3 "$ROOT/bench/lag_quantiles.py" /tmp/sb-rlag0.txt /tmp/sb-rlag1.txt /tmp/sb-resume.json 0 resume_storm "$ENGINES"
echo "server: sb_resumes_total=$(metric sb_resumes_total)"
if [ -n "${MSGS1:-}" ]; then
  # NATS messages over the storm window (the 0.1 s scrapes bracket it), per resumed session:
  # in = sent by the node to the server (KV requests, publishes), out = delivered to it (replies).
  read -r i0 o0 <<<"$MSGS0"
  read -r i1 o1 <<<"$MSGS1"
  python3 -c "print('nats during the storm: in_msgs %d out_msgs %d, per resume %.2f in / %.2f out' % ($i1-$i0, $o1-$o0, ($i1-$i0)/$N, ($o1-$o0)/$N))"
fi
