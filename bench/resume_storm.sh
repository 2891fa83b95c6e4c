#!/usr/bin/env bash
# Benchmark: resume storm. N bots log in; then all drop their connections at once and resume
# with their tokens (sb-bots --drop-at). Reports resumes per second and the time until all are
# back (from the bots' JSON summary). Usage: bench/resume_storm.sh [sessions=18000]
source "$(dirname "$0")/lib.sh"
N="${1:-18000}"
build_release
start_server
# Four source addresses: 18,000 fresh connects right after 18,000 closes would otherwise reuse
# 4-tuples still in TIME_WAIT and pay SYN retransmits (1 s, 3 s) on loopback.
bots --bots "$N" --duration 45 --chat-rate 0 --ramp 3000 --drop-at 5 --quiet --json /tmp/sb-resume.json --source-ips 4 \
  --backoff-base-ms 50 --backoff-cap-ms 2000
python3 -c "import json; d=json.load(open('/tmp/sb-resume.json')); print(json.dumps({'benchmark':'resume_storm', **{k:v for k,v in d.items() if 'resume' in k or k in ('bots','logged_in','errors')}}))"
echo "server: sb_resumes_total=$(metric sb_resumes_total)"
