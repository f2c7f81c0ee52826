#!/usr/bin/env bash
# The export of the largest user the limits allow (docs/limits.md), on SQLite and PostgreSQL:
#
#   bench/export.sh                   # 10,000 background profiles, 20 timed exports per user and encoding
#   RUNS=50 BACKENDS=sqlite bench/export.sh
#
# For each backend: a fresh database, `migrate`, bench/seed.py's profiles, then two users at every limit
# (bench/seed_largest.py: `wide` = 2,525 addresses holding 5,000 revisions, `deep` = 50 addresses of 100
# revisions; both with 1,000 consent records), the service in release with production settings, and RUNS
# sequential `GET /api/v1/profiles/me/export` per user, plain and gzipped, timed by curl (time_total).
# Prints one markdown table: size, p50, p90 and max in ms.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

RUNS=${RUNS:-20}
PROFILES=${PROFILES:-10000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_BENCH_DB=${PG_BENCH_DB:-ups_bench_export}
PORT=${BENCH_PORT:-18481}
SECRET=${SECRET:-bench-secret-bench-secret-bench-secret-0123}
WORK=$(mktemp -d /tmp/ups-export.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --locked --quiet)
  BIN="$CARGO_TARGET_DIR/release/user-profile-service"
fi

token() { # sub
  python3 -c "import sys, time; sys.path.insert(0, '$BENCH_DIR'); from tokens import token; \
print(token('$SECRET', '$1', ['user'], int(time.time()) + 3600))"
}

stats() { # file of "seconds bytes" lines -> "bytes | p50 | p90 | max"
  sort -n "$1" | awk '{ t[NR] = $1 * 1000; b = $2 } END {
    printf "%d | %.1f | %.1f | %.1f", b, t[int((NR + 1) / 2)], t[int(NR * 0.9 + 0.5)], t[NR] }'
}

echo "| backend | user | encoding | bytes | p50 ms | p90 ms | max ms |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: |"
for backend in $BACKENDS; do
  if [ "$backend" = sqlite ]; then
    mkdir -p "$WORK/data"; rm -f "$WORK"/data/profiles.db*
    url="sqlite:$WORK/data/profiles.db?mode=rwc"
  else
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_BENCH_DB" -c "CREATE DATABASE $PG_BENCH_DB" >/dev/null
    url="${PG_ADMIN_URL%/*}/$PG_BENCH_DB"
  fi
  env=(APP_ENV=production JWT_SECRET="$SECRET" DATABASE_URL="$url" DATA_DIR="$WORK/data" PORT="$PORT"
    LOG_FORMAT=json RUST_LOG=warn)
  env "${env[@]}" "$BIN" migrate >/dev/null
  python3 "$BENCH_DIR/seed.py" "$backend" "$url" "$PROFILES"
  for shape in wide deep; do
    python3 "$BENCH_DIR/seed_largest.py" "$backend" "$url" "largest-$shape" "$shape"
  done
  env "${env[@]}" "$BIN" serve >"$WORK/service.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
  for shape in wide deep; do
    auth="Authorization: Bearer $(token "largest-$shape")"
    for encoding in identity gzip; do
      out="$WORK/$backend-$shape-$encoding"
      : >"$out"
      for i in $(seq $((RUNS + 2))); do
        line=$(curl -fsS -o /dev/null -H "$auth" -H "Accept-Encoding: $encoding" \
          -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$PORT/api/v1/profiles/me/export")
        [ "$i" -gt 2 ] && echo "$line" >>"$out" # the first two warm up connections and caches
      done
      echo "| $backend | $shape | $encoding | $(stats "$out") |"
    done
  done
  kill -TERM "$pid"; wait "$pid" || true
done
