#!/usr/bin/env bash
# Benchmark harness: the service on SQLite and on PostgreSQL, and the two reference programs (../shared/peers),
# under the same wrk load in one run, on this machine. One command:
#
#   bench/run.sh                      # 100,000 profiles, 10 s per scenario, both databases, peers
#   PROFILES=1000000 bench/run.sh     # the 1,000,000-profile data set
#   SMOKE=1 bench/run.sh              # a few seconds: 1,000 profiles, SQLite, no peers (CI keeps it working)
#   BIN=path/to/binary LABEL=old SCENARIOS=patch PEERS=0 bench/run.sh   # another build, some scenarios
#   OTEL=1 bench/run.sh               # traces exported to a local OTLP sink, 1 % sampled (OTEL=100: all;
#                                     # OTEL=off, the default: no exporter, as in production without a collector)
#
# Scenarios (64 connections, 2 wrk threads, tokens rotating over 10,000 users):
#   get_me    GET /api/v1/profiles/me
#   defaults  GET /api/v1/users/{id}/addresses/defaults with a service token
#   patch     PATCH /api/v1/profiles/me with If-Match
#   mix       90 % get_me / 10 % patch
# Output: a table on stdout and bench/results/<timestamp>.md.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
export BENCH_DIR

SMOKE=${SMOKE:-0}
PROFILES=${PROFILES:-100000}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
USERS=${USERS:-10000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PEERS=${PEERS:-1}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_BENCH_DB=${PG_BENCH_DB:-ups_bench}
SERVICE_PORT=${BENCH_PORT:-18480}
SECRET=${SECRET:-bench-secret-bench-secret-bench-secret-0123}
if [ "$SMOKE" = 1 ]; then
  PROFILES=1000; USERS=200; DURATION=1s; BACKENDS=sqlite; PEERS=0
fi
THREADS=2
SCENARIOS=${SCENARIOS:-"get_me defaults patch mix"}
OTEL=${OTEL:-off}
case $OTEL in
  off) LABEL=${LABEL:-service} ;;
  1|100) LABEL=${LABEL:-service-otel$OTEL} ;;
  *) echo "OTEL is off, 1 or 100 (the % of traces exported), not $OTEL" >&2; exit 1 ;;
esac
SINK_PORT=${SINK_PORT:-18431}
WORK=$(mktemp -d /tmp/ups-bench.XXXXXX)
RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

command -v wrk >/dev/null || { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; } >/dev/null
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  echo "building the service (release)"
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  (cd "$ROOT" && cargo build --release --locked --quiet)
  BIN="$CARGO_TARGET_DIR/release/user-profile-service"
fi

# Tokens: readers u0..u{USERS-1}; patch writers and mix writers are two further disjoint ranges, so each scenario
# starts from version 1 for the users it writes.
python3 "$BENCH_DIR/tokens.py" "$SECRET" 0 "$USERS" "$WORK/read.lua"
python3 "$BENCH_DIR/tokens.py" "$SECRET" "$USERS" "$USERS" "$WORK/write.lua"
python3 "$BENCH_DIR/tokens.py" "$SECRET" $((USERS * 2)) "$USERS" "$WORK/mixwrite.lua"
python3 "$BENCH_DIR/tokens.py" "$SECRET" 0 1 "$WORK/service.lua" service
if [ "$PROFILES" -lt $((USERS * 3)) ]; then echo "PROFILES must be at least 3 x USERS" >&2; exit 1; fi

declare -a ROWS
wait_up() { for _ in $(seq 300); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

load() { # target scenario script [write tokens]
  local target=$1 scenario=$2 script=$3 writes=${4:-$WORK/write.lua}
  BENCH_TOKENS=$WORK/read.lua BENCH_WRITE_TOKENS=$writes BENCH_SERVICE_TOKEN=$WORK/service.lua BENCH_THREADS=$THREADS \
    wrk -t$THREADS -c"$CONNS" -d"$DURATION" -s "$BENCH_DIR/$script" "http://127.0.0.1:$SERVICE_PORT" | grep RESULT \
    | sed "s/^/$target $scenario /"
}

run_service() { # backend
  local backend=$1 url
  if [ "$backend" = sqlite ]; then
    mkdir -p "$WORK/data"; rm -f "$WORK"/data/profiles.db*
    url="sqlite:$WORK/data/profiles.db?mode=rwc"
  else
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_BENCH_DB" -c "CREATE DATABASE $PG_BENCH_DB" >/dev/null
    url="${PG_ADMIN_URL%/*}/$PG_BENCH_DB"
  fi
  # Production settings, JSON request logs included: what an operator would run. Rate limits stay on, with
  # budgets the load never reaches (one service token sends every `defaults` request): their cost is measured,
  # not their refusals.
  local -a service_env=(APP_ENV=production JWT_SECRET="$SECRET" DATABASE_URL="$url" DATA_DIR="$WORK/data"
    PORT="$SERVICE_PORT" LOG_FORMAT=json RUST_LOG=info
    RATE_LIMIT_READS_PER_MINUTE=1000000000 RATE_LIMIT_WRITES_PER_MINUTE=1000000000)
  if [ "$OTEL" != off ]; then
    # Traces to a local sink that answers every export at once: the service's own cost of making and sending them.
    python3 "$BENCH_DIR/otlp_sink.py" "$SINK_PORT" "$WORK/sink-$backend.count" &
    SINK_PID=$!
    service_env+=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT"
      OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG="$(python3 -c "print($OTEL / 100)")")
  fi
  env "${service_env[@]}" "$BIN" migrate >/dev/null
  local started=$SECONDS
  python3 "$BENCH_DIR/seed.py" "$backend" "$url" "$PROFILES"
  echo "seeded $PROFILES profiles on $backend in $((SECONDS - started)) s"
  env "${service_env[@]}" "$BIN" serve >"$WORK/service-$backend.log" 2>&1 &
  local pid=$!
  wait_up "http://127.0.0.1:$SERVICE_PORT/health" || { echo "the service did not start:"; tail "$WORK/service-$backend.log"; exit 1; }
  # warm-up: caches, connections, prepared statements
  BENCH_TOKENS=$WORK/read.lua wrk -t$THREADS -c"$CONNS" -d1s -s "$BENCH_DIR/get_me.lua" "http://127.0.0.1:$SERVICE_PORT" >/dev/null
  for scenario in $SCENARIOS; do
    case $scenario in
      mix) ROWS+=("$(load "$LABEL-$backend" mix mix.lua "$WORK/mixwrite.lua")") ;;
      *) ROWS+=("$(load "$LABEL-$backend" "$scenario" "$scenario.lua")") ;;
    esac
  done
  kill -TERM "$pid"; wait "$pid" || true
  if [ "$OTEL" != off ]; then
    kill -TERM "$SINK_PID"; wait "$SINK_PID" || true
    read -r exports bytes <"$WORK/sink-$backend.count"
    echo "traces at $OTEL %: the sink received $exports exports, $bytes bytes"
  fi
}

for backend in $BACKENDS; do
  echo "== service on $backend"
  run_service "$backend"
done

if [ "$PEERS" = 1 ]; then
  echo "== reference programs (../shared/peers)"
  PEER_OUT=$(SECRET=$SECRET USERS=$USERS CONNS=$CONNS DUR=$DURATION bash "$ROOT/../shared/peers/bench.sh" 2>&1 | grep RESULT || true)
  while read -r line; do [ -n "$line" ] && ROWS+=("$(echo "$line" | sed 's/ RESULT/ get_me RESULT/')"); done <<<"$PEER_OUT"
fi

report="$RESULTS/$(date -u +%Y%m%dT%H%M%SZ).md"
python3 "$BENCH_DIR/report.py" "$PROFILES" "$DURATION" "$CONNS" "$USERS" "${ROWS[@]}" | tee "$report"
echo "written to $report"
# A scenario with errors fails the run, so the smoke run in CI catches a broken harness or service.
! printf '%s\n' "${ROWS[@]}" | grep -E "^$LABEL-" | grep -vE "errors=0 non2xx=0" >/dev/null
