#!/usr/bin/env bash
# What one replica needs (docs/operations.md, "Resources"): the release binary with production settings on a
# fresh PostgreSQL database of PROFILES seeded profiles, idle and then under wrk's mix scenario (90 % GET
# /api/v1/profiles/me, 10 % PATCH) at CONNS connections for DURATION; samples the process's resident memory and
# CPU time from /proc every 100 ms.
#
#   BIN=target/release/user-profile-service bench/resources.sh
#   CONNS=256 DURATION=30s bench/resources.sh
# Prints: RSS idle / peak, CPU cores used on average under load, requests per second.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
export BENCH_DIR
PROFILES=${PROFILES:-30000}
USERS=${USERS:-10000}
CONNS=${CONNS:-64}
DURATION=${DURATION:-20s}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=ups_resources
PORT=${BENCH_PORT:-18490}
SECRET=bench-secret-bench-secret-bench-secret-0123
BIN=${BIN:-$ROOT/target/release/user-profile-service}
WORK=$(mktemp -d /tmp/ups-resources.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null

python3 "$BENCH_DIR/tokens.py" "$SECRET" 0 "$USERS" "$WORK/read.lua"
python3 "$BENCH_DIR/tokens.py" "$SECRET" "$USERS" "$USERS" "$WORK/write.lua"
psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
URL="${PG_ADMIN_URL%/*}/$DB"
env=(APP_ENV=production JWT_SECRET="$SECRET" DATABASE_URL="$URL" DATA_DIR="$WORK" PORT="$PORT" LOG_FORMAT=json
  RUST_LOG=info RATE_LIMIT_READS_PER_MINUTE=1000000000 RATE_LIMIT_WRITES_PER_MINUTE=1000000000)
env "${env[@]}" "$BIN" migrate >/dev/null
python3 "$BENCH_DIR/seed.py" postgres "$URL" "$PROFILES" >/dev/null
env "${env[@]}" "$BIN" serve >/dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

# kB of resident memory, and CPU ticks (user + system) of the process.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
idle_kb=$(rss)
(peak=0; while kill -0 "$pid" 2>/dev/null; do r=$(rss 2>/dev/null || echo 0); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" >"$WORK/peak"; sleep 0.1; done) &
t0=$(ticks); s0=$(date +%s%N)
result=$(BENCH_TOKENS=$WORK/read.lua BENCH_WRITE_TOKENS=$WORK/write.lua BENCH_THREADS=2 \
  wrk -t2 -c"$CONNS" -d"$DURATION" -s "$BENCH_DIR/mix.lua" "http://127.0.0.1:$PORT" | grep RESULT)
t1=$(ticks); s1=$(date +%s%N)
after_kb=$(rss)
kill -TERM "$pid"; wait "$pid" || true
hz=$(getconf CLK_TCK)
python3 - "$idle_kb" "$(cat "$WORK/peak")" "$after_kb" "$((t1 - t0))" "$hz" "$((s1 - s0))" "$result" "$CONNS" <<'PY'
import sys
idle, peak, after, ticks, hz, ns, result, conns = sys.argv[1:]
cores = int(ticks) / int(hz) / (int(ns) / 1e9)
print(f"connections={conns} rss_idle_mib={int(idle)/1024:.1f} rss_peak_mib={int(peak)/1024:.1f} "
      f"rss_after_mib={int(after)/1024:.1f} cpu_cores={cores:.2f} {result.split('RESULT ')[1]}")
PY
