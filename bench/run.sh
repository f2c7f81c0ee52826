#!/usr/bin/env bash
# Benchmark harness: the service on SQLite, on PostgreSQL, on PostgreSQL with the Redis read cache (one instance,
# then two instances sharing the database and Redis), and the two reference programs (../shared/peers), under the
# same wrk load in one run, on this machine, so the ratios compare figures of one run. One command:
#
#   bench/run.sh                      # 100,000 profiles, 10 s per scenario, every backend, the sweep, peers
#   PROFILES=1000000 bench/run.sh     # the 1,000,000-profile data set
#   SMOKE=1 bench/run.sh              # a few seconds: 1,000 profiles, SQLite, no sweep, no peers (CI keeps it working)
#   BIN=path/to/binary LABEL=old SCENARIOS=patch PEERS=0 bench/run.sh   # another build, some scenarios
#   BACKENDS=postgres+redis-x2 SWEEP= PEERS=0 bench/run.sh              # the scale-out run alone
#   BACKENDS=sqlite SCENARIOS= SWEEP="64 256 1024" PEERS=0 bench/run.sh # the connection sweep alone
#   SERVICE_ENV="DATABASE_MAX_CONNECTIONS=8 REDIS_CACHE_TTL_SECONDS=60" bench/run.sh   # an experiment
#   OTEL=1 bench/run.sh               # traces exported to a local OTLP sink, 1 % sampled (OTEL=100: all;
#                                     # OTEL=off, the default: no exporter, as in production without a collector)
#
# Backends (BACKENDS, default "sqlite postgres postgres+redis postgres+redis-x2"; target label service-<backend>):
#   sqlite              a fresh SQLite file (the service's in-process read cache)
#   postgres            a fresh PostgreSQL database PG_BENCH_DB, no Redis: every read goes to PostgreSQL
#   postgres+redis      the production shape: as postgres, plus REDIS_URL (the read cache shared by instances, and
#                       the rate-limit counters); Redis db REDIS_DB, flushed (FLUSHDB) before the backend
#                       runs, so the cache starts empty; its key count after the warm-up is printed
#   postgres+redis-x2   two service processes on ports BENCH_PORT and BENCH_PORT+1, on the same freshly seeded
#                       database and the same Redis db; every scenario runs two wrk processes at once, each with
#                       1 thread and CONNS/2 connections, one per port. Their RESULT lines make one row:
#                       requests/s summed, p50 and p99 the larger of the two (not a merged percentile), errors
#                       summed. Each wrk process writes its own users (BENCH_PART/BENCH_PARTS, see
#                       bench/common.lua), so every If-Match stays right. (postgres-xN and postgres+redis-xN
#                       run N instances, CONNS/N connections each; SQLite runs as one process only.)
#
# Scenarios (SCENARIOS; CONNS=64 connections, 2 wrk threads, DURATION=10s each, tokens rotating over USERS=10,000):
#   get_me    GET /api/v1/profiles/me
#   defaults  GET /api/v1/users/{id}/addresses/defaults with a service token
#   patch     PATCH /api/v1/profiles/me with If-Match
#   mix       90 % get_me / 10 % patch
#   (SCENARIOS= empty runs none of them, e.g. for the sweep alone.)
# Connection sweep (SWEEP, default "64 256 1024"; SWEEP= disables it, SMOKE=1 too): get_me at each number of
#   connections, 2 wrk threads, DURATION each, wrk --timeout 10s so that slow answers count as latency, not as
#   timeouts; rows get_me@<connections>. Runs for every backend but the -xN ones. wrk's socket errors (connect,
#   read, write, timeout) count as errors. The service holds at most HTTP_MAX_CONNECTIONS (default 1024) open;
#   connections beyond it wait in the listen queue without an answer, which wrk does not count as errors, so
#   keep the sweep's largest step at or below it.
# Resident memory of the service (VmRSS from /proc/PID/status): at idle after seeding and warm-up, the peak sampled
#   every 100 ms during mix, and the peak during each sweep step; the report shows idle, mix and the largest
#   sweep step in a second table (for -xN, one row per instance).
# Other variables: BIN (the release binary; built with cargo when unset), BENCH_PORT=18480 (the service's port;
#   the -xN instances take the next ones too),
#   PG_ADMIN_URL, PG_BENCH_DB=ups_bench, REDIS_HOST=127.0.0.1, REDIS_PORT=6379, REDIS_DB=5,
#   SERVICE_ENV (extra NAME=value words appended to the service's environment, so they override the harness's
#   settings; values without spaces), PEERS=0 (no reference programs), SECRET (the HS256 secret).
# Output: a table on stdout and bench/results/<timestamp>.md. A row of the service with any error or non-2xx
# answer (sweep rows included) fails the run, after the report is written.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
export BENCH_DIR

SMOKE=${SMOKE:-0}
PROFILES=${PROFILES:-100000}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
USERS=${USERS:-10000}
BACKENDS=${BACKENDS:-"sqlite postgres postgres+redis postgres+redis-x2"}
SWEEP=${SWEEP-"64 256 1024"}
PEERS=${PEERS:-1}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_BENCH_DB=${PG_BENCH_DB:-ups_bench}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_DB=${REDIS_DB:-5}
SERVICE_PORT=${BENCH_PORT:-18480}
SERVICE_ENV=${SERVICE_ENV:-}
SECRET=${SECRET:-bench-secret-bench-secret-bench-secret-0123}
if [ "$SMOKE" = 1 ]; then
  PROFILES=1000; USERS=200; DURATION=1s; BACKENDS=sqlite; PEERS=0; SWEEP=
fi
THREADS=2
SCENARIOS=${SCENARIOS-"get_me defaults patch mix"}
OTEL=${OTEL:-off}
case $OTEL in
  off) LABEL=${LABEL:-service} ;;
  1|100) LABEL=${LABEL:-service-otel$OTEL} ;;
  *) echo "OTEL is off, 1 or 100 (the % of traces exported), not $OTEL" >&2; exit 1 ;;
esac
SINK_PORT=${SINK_PORT:-18431}
read -ra EXTRA_ENV <<<"$SERVICE_ENV"
WORK=$(mktemp -d /tmp/ups-bench.XXXXXX)
RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

command -v wrk >/dev/null || { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; } >/dev/null
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

max_conns=1024
for word in "${EXTRA_ENV[@]}"; do case $word in HTTP_MAX_CONNECTIONS=*) max_conns=${word#*=} ;; esac; done
for conns in $SWEEP; do
  if [ "$conns" -gt "$max_conns" ] 2>/dev/null; then
    echo "note: the sweep's $conns connections exceed HTTP_MAX_CONNECTIONS=$max_conns: the excess waits unserved" >&2
  fi
done
for backend in $BACKENDS; do
  case $backend in
    sqlite|postgres|postgres+redis|postgres-x[1-9]|postgres+redis-x[1-9]) ;;
    sqlite*) echo "backend $backend: SQLite runs as one process on its own file (sqlite only)" >&2; exit 1 ;;
    *) echo "unknown backend $backend (sqlite, postgres, postgres+redis, postgres+redis-x2)" >&2; exit 1 ;;
  esac
done

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

redis() { # command... against REDIS_DB; redis-cli when installed, else the protocol by hand
  if command -v redis-cli >/dev/null; then
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$REDIS_DB" "$@"
  else
    python3 - "$REDIS_HOST" "$REDIS_PORT" "$REDIS_DB" "$@" <<'PY'
import socket, sys
host, port, db, *cmd = sys.argv[1:]
def encode(args):
    return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
with socket.create_connection((host, int(port)), timeout=5) as s:
    s.sendall(encode(["SELECT", db]) + encode(cmd))
    f = s.makefile("rb")
    for reply in (f.readline(), f.readline()):
        if reply.startswith(b"-"):
            sys.exit(f"redis: {reply.decode().strip()}")
    print(reply.decode().strip().lstrip("+:"))
PY
  fi
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Peak VmRSS of each pid, sampled every 100 ms until killed: "pid kB" lines in OUT.
sample_rss() { # out pid...
  local out=$1; shift
  local -A peak=()
  local pid r
  for pid in "$@"; do peak[$pid]=0; done
  while :; do
    for pid in "$@"; do
      r=$(rss_kb "$pid"); r=${r:-0}
      [ "$r" -gt "${peak[$pid]}" ] && peak[$pid]=$r
    done
    for pid in "$@"; do echo "$pid ${peak[$pid]}"; done >"$out.tmp" && mv "$out.tmp" "$out"
    sleep 0.1
  done
}

# Runs one wrk load and prints one RESULT row "target scenario RESULT ...". With one port: THREADS threads and
# the given connections. With several ports (the -xN backends): one wrk process per port, all started at once,
# each with 1 thread and connections/N, and process i writing partition i of N of the write tokens; the row
# combines them: requests/s summed, p50 and p99 the larger of the processes' figures, errors summed.
load() { # target scenario script write-tokens connections "wrk options" port...
  local target=$1 scenario=$2 script=$3 writes=$4 conns=$5 opts=$6; shift 6
  local -a ports=("$@") wrk_opts
  read -ra wrk_opts <<<"$opts"
  local n=${#ports[@]} i
  local -a wrks=()
  if [ "$n" = 1 ]; then
    BENCH_TOKENS=$WORK/read.lua BENCH_WRITE_TOKENS=$writes BENCH_SERVICE_TOKEN=$WORK/service.lua \
      BENCH_THREADS=$THREADS BENCH_PART=0 BENCH_PARTS=1 \
      wrk -t$THREADS -c"$conns" -d"$DURATION" "${wrk_opts[@]}" -s "$BENCH_DIR/$script" \
      "http://127.0.0.1:${ports[0]}" | tee "$WORK/wrk.out" | grep RESULT | sed "s/^/$target $scenario /"
    # wrk's breakdown of socket errors, when there were any, for whoever reads the run's output.
    sed -n "s/^ *Socket errors/$target $scenario: socket errors/p" "$WORK/wrk.out" >&2
    return
  fi
  for i in "${!ports[@]}"; do
    BENCH_TOKENS=$WORK/read.lua BENCH_WRITE_TOKENS=$writes BENCH_SERVICE_TOKEN=$WORK/service.lua \
      BENCH_THREADS=1 BENCH_PART=$i BENCH_PARTS=$n \
      wrk -t1 -c$((conns / n)) -d"$DURATION" "${wrk_opts[@]}" -s "$BENCH_DIR/$script" \
      "http://127.0.0.1:${ports[$i]}" >"$WORK/wrk-$i.out" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  # p50 and p99 of the row: the larger of the processes' figures (percentiles of separate runs do not add up).
  # No row unless every process printed its RESULT line (a missing row fails the run, see add_row).
  cat "$WORK"/wrk-*.out | grep RESULT | awk -v t="$target" -v s="$scenario" -v want="$n" '
    { for (f = 2; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
      rps += v["rps"]; err += v["errors"]; non += v["non2xx"]; n++
      if (v["p50_ms"] + 0 > p50) p50 = v["p50_ms"] + 0
      if (v["p99_ms"] + 0 > p99) p99 = v["p99_ms"] + 0 }
    END { if (n == want) printf "%s %s RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n", t, s, rps, p50, p99, err, non }'
  rm -f "$WORK"/wrk-*.out
}

# Adds a row of load's output to ROWS; without a RESULT line (wrk failed), a row that fails the run.
add_row() { # "load output" target scenario
  if [[ $1 == *" RESULT "* ]]; then ROWS+=("$1"); return; fi
  echo "$2 $3: no RESULT line from wrk" >&2
  ROWS+=("$2 $3 NO-RESULT")
}

run_service() { # backend
  local backend=$1 db=${1%%+*} instances=1 url target="$LABEL-$1"
  db=${db%-x*}
  case $backend in *-x[1-9]) instances=${backend##*-x} ;; esac
  if [ "$db" = sqlite ]; then
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
    LOG_FORMAT=json RUST_LOG=info
    RATE_LIMIT_READS_PER_MINUTE=1000000000 RATE_LIMIT_WRITES_PER_MINUTE=1000000000)
  case $backend in
    *+redis*)
      [ "$(redis PING)" = PONG ] || { echo "Redis does not answer at $REDIS_HOST:$REDIS_PORT" >&2; exit 1; }
      [ "$(redis FLUSHDB)" = OK ] || { echo "FLUSHDB failed on Redis db $REDIS_DB" >&2; exit 1; }
      service_env+=(REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/$REDIS_DB") ;;
  esac
  if [ "$OTEL" != off ]; then
    # Traces to a local sink that answers every export at once: the service's own cost of making and sending them.
    python3 "$BENCH_DIR/otlp_sink.py" "$SINK_PORT" "$WORK/sink-$backend.count" &
    SINK_PID=$!
    service_env+=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT"
      OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG="$(python3 -c "print($OTEL / 100)")")
  fi
  service_env+=("${EXTRA_ENV[@]}")
  env PORT="$SERVICE_PORT" "${service_env[@]}" "$BIN" migrate >/dev/null
  local started=$SECONDS
  python3 "$BENCH_DIR/seed.py" "$db" "$url" "$PROFILES"
  echo "seeded $PROFILES profiles on $db in $((SECONDS - started)) s"
  local -a pids=() ports=()
  local i
  for ((i = 0; i < instances; i++)); do
    ports+=($((SERVICE_PORT + i)))
    env PORT="${ports[$i]}" "${service_env[@]}" "$BIN" serve >"$WORK/service-$backend-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!ports[@]}"; do
    wait_up "http://127.0.0.1:${ports[$i]}/health" \
      || { echo "the service did not start:"; tail "$WORK/service-$backend-$i.log"; exit 1; }
  done
  # warm-up: caches, connections, prepared statements
  DURATION=1s load "$target" warm-up get_me.lua "$WORK/write.lua" "$CONNS" "" "${ports[@]}" >/dev/null
  case $backend in
    *+redis*) echo "Redis db $REDIS_DB holds $(redis DBSIZE) keys after the warm-up" ;;
  esac
  sleep 1
  local -a names=()
  if [ "$instances" = 1 ]; then names=("$target"); else for i in "${!pids[@]}"; do names+=("$target#$((i + 1))"); done; fi
  for i in "${!pids[@]}"; do ROWS+=("RSS ${names[$i]} idle $(rss_kb "${pids[$i]}")"); done

  local sampler
  for scenario in $SCENARIOS; do
    case $scenario in
      mix)
        rm -f "$WORK/rss"
        sample_rss "$WORK/rss" "${pids[@]}" & sampler=$!
        add_row "$(load "$target" mix mix.lua "$WORK/mixwrite.lua" "$CONNS" "" "${ports[@]}")" "$target" mix
        kill "$sampler"; wait "$sampler" 2>/dev/null || true
        for i in "${!pids[@]}"; do
          ROWS+=("RSS ${names[$i]} mix $(awk -v p="${pids[$i]}" '$1 == p {print $2}' "$WORK/rss" 2>/dev/null || echo 0)")
        done ;;
      *) add_row "$(load "$target" "$scenario" "$scenario.lua" "$WORK/write.lua" "$CONNS" "" "${ports[@]}")" \
        "$target" "$scenario" ;;
    esac
  done
  if [ "$instances" = 1 ]; then
    for conns in $SWEEP; do
      rm -f "$WORK/rss"
      sample_rss "$WORK/rss" "${pids[0]}" & sampler=$!
      add_row "$(load "$target" "get_me@$conns" get_me.lua "$WORK/write.lua" "$conns" "--timeout 10s" "${ports[0]}")" \
        "$target" "get_me@$conns"
      kill "$sampler"; wait "$sampler" 2>/dev/null || true
      ROWS+=("RSS $target get_me@$conns $(awk '{print $2}' "$WORK/rss" 2>/dev/null || echo 0)")
    done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid"; done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
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
