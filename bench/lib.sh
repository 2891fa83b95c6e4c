# Shared helpers for the benchmark scripts (sourced).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/build/release"
ADMIN=7802
PORT=7800
SERVER_PID=""

# A storm of 18,000 connects overflows the default accept backlog (somaxconn 4096) and costs
# SYN retransmits (1 s, 3 s). Raise it when we may (root); the figures note the setting.
tune_kernel() {
  sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 2>/dev/null || true
}

build_release() {
  tune_kernel
  (cd "$ROOT" && bash scripts/setup.sh >/dev/null && bash scripts/build.sh release >/dev/null)
}

# start_server [--set k=v ...]: fresh data dir, bench profile.
start_server() {
  rm -rf "$ROOT/data/bench"
  mkdir -p "$ROOT/data/bench"
  (cd "$ROOT" && exec "$BIN/apps/switchboard/switchboard" --config config/bench.toml "$@") &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$ADMIN/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start" >&2
  return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
metric() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
scrape() { curl -s "http://127.0.0.1:$ADMIN/metrics" > "$1"; }
# Generous request timeout: a storm queues thousands of logins behind the hashing workers.
bots() { "$BIN/apps/sb-bots/sb-bots" --port "$PORT" --password bench-password --request-timeout-ms 60000 "$@"; }
