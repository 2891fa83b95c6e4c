# Shared helpers for the benchmark scripts (sourced).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SB_BIN:-$ROOT/build/release}"  # SB_BIN: run a baseline build with the same script
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
  # SB_BENCH_NO_BUILD=1: use the binaries already built (build only switchboard and sb-bots).
  if [ -n "${SB_BENCH_NO_BUILD:-}" ]; then return 0; fi
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

# STORE=postgres runs the node on a throw-away PostgreSQL 15 server (durable settings: fsync and
# synchronous_commit on, like SQLite's synchronous=FULL) in $PG_DIR on 127.0.0.1:$PG_PORT.
# PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the postgres user.
STORE="${STORE:-sqlite}"
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=7832
PG_DIR=/tmp/sb-bench-pg
STORE_ARGS=()
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"; else "$@"; fi
}
stop_postgres() {
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
start_postgres() {
  stop_postgres
  rm -rf "$PG_DIR"
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PG_DIR"; fi
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-instructions >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres switchboard
  STORE_ARGS=(--set "postgres.conninfo=\"host=127.0.0.1 port=$PG_PORT user=postgres dbname=switchboard\""
              --set store.kind=postgres)
}
# use_store: starts PostgreSQL when STORE=postgres and fills STORE_ARGS for the server.
use_store() {
  case "$STORE" in
    sqlite) STORE_ARGS=() ;;
    postgres) start_postgres ;;
    *) echo "STORE must be sqlite or postgres" >&2; return 1 ;;
  esac
}

# ENGINES=nats+postgres runs the node on the NATS backbone (a throw-away nats-server with
# JetStream in $NATS_DIR on 127.0.0.1:$NATS_PORT, KV bucket R1) and a throw-away PostgreSQL (as
# STORE=postgres). ENGINES=inproc+sqlite (the default) is the embedded single node.
ENGINES="${ENGINES:-inproc+sqlite}"
NATS_PORT=7842
NATS_MON_PORT=7843  # nats-server monitoring (/varz: message counts, to count round trips)
NATS_DIR=/tmp/sb-bench-nats
NATS_PID=""
stop_nats() {
  [ -n "$NATS_PID" ] && kill -TERM "$NATS_PID" 2>/dev/null && wait "$NATS_PID" 2>/dev/null || true
  NATS_PID=""
}
start_nats() {
  stop_nats
  rm -rf "$NATS_DIR"
  mkdir -p "$NATS_DIR"
  nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON_PORT" -sd "$NATS_DIR/store" >"$NATS_DIR/server.log" 2>&1 &
  NATS_PID=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nats-server did not start (see $NATS_DIR/server.log)" >&2
  return 1
}
# nats_msgs: "in_msgs out_msgs" of the bench nats-server (messages clients sent / were sent).
nats_msgs() {
  curl -sf "http://127.0.0.1:$NATS_MON_PORT/varz" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["in_msgs"], d["out_msgs"])' 2>/dev/null || echo "0 0"
}
# use_engines: starts what ENGINES needs and fills STORE_ARGS (backbone and store settings).
use_engines() {
  case "$ENGINES" in
    inproc+sqlite) STORE=sqlite; use_store ;;
    inproc+postgres) STORE=postgres; use_store ;;
    nats+postgres)
      STORE=postgres
      use_store
      start_nats
      STORE_ARGS+=(--set node.backbone=nats --set "nats.servers=[\"nats://127.0.0.1:$NATS_PORT\"]")
      ;;
    *) echo "ENGINES must be inproc+sqlite, inproc+postgres or nats+postgres" >&2; return 1 ;;
  esac
}
trap 'stop_server; stop_postgres; stop_nats' EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
metric() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
scrape() { curl -s "http://127.0.0.1:$ADMIN/metrics" > "$1"; }
# Generous request timeout: a storm queues thousands of logins behind the hashing workers.
bots() { "$BIN/apps/sb-bots/sb-bots" --port "$PORT" --password bench-password --request-timeout-ms 60000 "$@"; }
