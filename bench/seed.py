#!/usr/bin/env python3
"""Seeds the benchmark data set straight into the database: `seed.py sqlite|postgres URL PROFILES`.

Profiles u0..u{N-1}, each with two addresses (revision 1 in `address_revisions` too; the first is the default for
shipping and billing) and preferences. SQLite goes through Python's sqlite3 in one transaction, PostgreSQL through
psql with generate_series, so even 1,000,000 profiles take seconds to a minute, not the hours the HTTP API would."""
import json, subprocess, sys, uuid

NOW = "2026-01-01T00:00:00.000Z"
PREFS = json.dumps({
    "notifications": {
        "email": {"order_updates": True, "marketing": True, "newsletter": False},
        "sms": {"order_updates": False, "marketing": False, "newsletter": False},
        "push": {"order_updates": True, "marketing": False, "newsletter": False},
    },
    "language": "en-GB", "currency": "GBP",
    "cart": {"save_for_later": True, "merge_guest_cart": True},
    "recommendations": {"personalized": True, "favorite_categories": ["books", "garden"]},
}, separators=(",", ":"))


def address_id(i: int, k: int) -> uuid.UUID:
    """UUIDv7-shaped ids in creation order: a fixed time prefix, then the counter."""
    return uuid.UUID(f"01940000-0000-7000-8000-{2 * i + k:012x}")


def seed_sqlite(url: str, n: int) -> None:
    import sqlite3

    path = url.removeprefix("sqlite:").split("?")[0]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    with db:
        db.executemany(
            "INSERT INTO profiles (user_id, email, email_normalized, display_name, display_name_lower, first_name, "
            "first_name_lower, last_name, last_name_lower, locale, timezone, status, version, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 'Bench', 'bench', ?, ?, 'en-GB', 'Europe/London', 'active', 1, ?, ?)",
            ((f"u{i}", f"u{i}@example.com", f"u{i}@example.com", f"User {i}", f"user {i}", f"User{i}", f"user{i}",
              NOW, NOW) for i in range(n)),
        )
        rows = [(address_id(i, k).bytes, f"u{i}", "Home" if k == 0 else "Work", f"User {i}", f"{i} High Street",
                 "London", "SW1A 1AA", "GB", int(k == 0), int(k == 0), NOW, NOW)
                for i in range(n) for k in (0, 1)]
        db.executemany(
            "INSERT INTO addresses (id, user_id, label, recipient_name, line1, city, postal_code, country, "
            "is_default_shipping, is_default_billing, revision, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)", rows)
        db.executemany(
            "INSERT INTO address_revisions (address_id, user_id, label, recipient_name, line1, city, postal_code, "
            "country, is_default_shipping, is_default_billing, revision, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)", [r[:-1] for r in rows])
        db.executemany(
            "INSERT INTO preferences (user_id, document, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)",
            ((f"u{i}", PREFS, NOW, NOW) for i in range(n)),
        )
    db.execute("ANALYZE")
    db.close()


def seed_postgres(url: str, n: int) -> None:
    ts = f"TIMESTAMPTZ '{NOW}'"
    address_uuid = "('01940000-0000-7000-8000-' || lpad(to_hex(2 * i + k), 12, '0'))::uuid"
    sql = f"""
    BEGIN;
    INSERT INTO profiles (user_id, email, email_normalized, display_name, display_name_lower, first_name,
                          first_name_lower, last_name, last_name_lower, locale, timezone, status, version,
                          created_at, updated_at)
    SELECT 'u' || i, 'u' || i || '@example.com', 'u' || i || '@example.com', 'User ' || i, 'user ' || i, 'Bench',
           'bench', 'User' || i, 'user' || i, 'en-GB', 'Europe/London', 'active', 1, {ts}, {ts}
    FROM generate_series(0, {n - 1}) AS i;
    INSERT INTO addresses (id, user_id, label, recipient_name, line1, city, postal_code, country,
                           is_default_shipping, is_default_billing, revision, created_at, updated_at)
    SELECT {address_uuid}, 'u' || i, CASE WHEN k = 0 THEN 'Home' ELSE 'Work' END, 'User ' || i,
           i || ' High Street', 'London', 'SW1A 1AA', 'GB', k = 0, k = 0, 1, {ts}, {ts}
    FROM generate_series(0, {n - 1}) AS i, generate_series(0, 1) AS k;
    INSERT INTO address_revisions (address_id, user_id, label, recipient_name, line1, city, postal_code, country,
                                   is_default_shipping, is_default_billing, revision, created_at)
    SELECT id, user_id, label, recipient_name, line1, city, postal_code, country, is_default_shipping,
           is_default_billing, 1, created_at FROM addresses;
    INSERT INTO preferences (user_id, document, version, created_at, updated_at)
    SELECT 'u' || i, '{PREFS}'::jsonb, 1, {ts}, {ts} FROM generate_series(0, {n - 1}) AS i;
    COMMIT;
    ANALYZE;
    """
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)


def main() -> None:
    backend, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"sqlite": seed_sqlite, "postgres": seed_postgres}[backend](url, n)


if __name__ == "__main__":
    main()
