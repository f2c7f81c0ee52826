#!/usr/bin/env python3
"""Relay throughput: how fast a backlog of change events reaches NATS JetStream.

`bench/relay.py BINARY [EVENTS]` seeds EVENTS (default 50,000) events straight into the outbox of a fresh SQLite
database and of a fresh PostgreSQL database (`PG_ADMIN_URL`), starts the service with `NATS_URL` (default
nats://127.0.0.1:4222) on a stream of its own, and times the relay from its first acknowledged publish to the last,
reading `outbox_publish_total` from /metrics. Prints one line per database."""
import json, os, re, subprocess, sys, tempfile, time, urllib.request, uuid

BIN = sys.argv[1]
EVENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
NATS = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
PG_ADMIN = os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PORT = int(os.environ.get("BENCH_PORT", "18490"))
SECRET = "bench-secret-bench-secret-bench-secret-0123"


def rows(n):
    for i in range(n):
        user = f"u{i % 1000}"
        yield (str(uuid.uuid4()), user, user, i // 1000 + 2, i // 1000 + 1)


def seed_sqlite(url):
    import sqlite3
    db = sqlite3.connect(url.removeprefix("sqlite:").split("?")[0])
    with db:
        db.executemany(
            "INSERT INTO outbox_events (id, type, user_id, resource_id, version, sequence, changed_fields, "
            "occurred_at, actor_role, request_id) VALUES (?, 'profile.updated', ?, ?, ?, ?, '[\"display_name\"]', "
            "'2026-12-01T00:00:00Z', 'user', NULL)",
            ((uuid.UUID(i).bytes, u, r, v, s) for i, u, r, v, s in rows(EVENTS)))


def seed_postgres(url):
    sql = (f"INSERT INTO outbox_events (id, type, user_id, resource_id, version, sequence, changed_fields, "
           f"occurred_at, actor_role) SELECT gen_random_uuid(), 'profile.updated', 'u' || (g % 1000), "
           f"'u' || (g % 1000), g / 1000 + 2, g / 1000 + 1, '[\"display_name\"]', now(), 'user' "
           f"FROM generate_series(0, {EVENTS - 1}) g")
    subprocess.run(["psql", url, "-qc", sql], check=True)


def published(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    m = re.search(r'^outbox_publish_total\{outcome="ok"\} (\d+)', text, re.M)
    return int(m.group(1)) if m else 0


def run(backend):
    work = tempfile.mkdtemp(prefix="ups-relay-")
    if backend == "sqlite":
        url = f"sqlite:{work}/relay.db?mode=rwc"
    else:
        subprocess.run(["psql", PG_ADMIN, "-qc", "DROP DATABASE IF EXISTS ups_relay_bench", "-c",
                        "CREATE DATABASE ups_relay_bench"], check=True, stdout=subprocess.DEVNULL)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/ups_relay_bench"
    env = {"PATH": os.environ["PATH"], "APP_ENV": "production", "JWT_SECRET": SECRET, "DATABASE_URL": url,
           "DATA_DIR": work, "PORT": str(PORT), "LOG_FORMAT": "json", "RUST_LOG": "warn", "NATS_URL": NATS,
           "NATS_STREAM": f"BENCH_{uuid.uuid4().hex}", "NATS_SUBJECT_PREFIX": f"bench_{uuid.uuid4().hex}"}
    subprocess.run([BIN, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    (seed_sqlite if backend == "sqlite" else seed_postgres)(url)
    service = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        first = None
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                done = published(PORT)
            except OSError:
                done = 0
            now = time.time()
            if done and first is None:
                first = (now, done)
            if done >= EVENTS:
                seconds = now - first[0]
                rate = (done - first[1]) / seconds if seconds > 0 else float("inf")
                print(f"relay {backend}: {EVENTS} events, {rate:,.0f} events/s "
                      f"({done - first[1]} in {seconds:.2f} s after the first acknowledgement)")
                return
            time.sleep(0.02)
        print(f"relay {backend}: only {published(PORT)} of {EVENTS} published in 120 s")
        sys.exit(1)
    finally:
        service.terminate()
        service.wait()


for backend in os.environ.get("BACKENDS", "sqlite postgres").split():
    run(backend)
