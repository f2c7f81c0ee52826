#!/usr/bin/env python3
"""Seeds the benchmark data set straight into the database: `seed.py sqlite|postgres URL PROFILES`.

Profiles u0..u{N-1}, each with two addresses (revision 1, one default for shipping and billing) and preferences.
SQLite goes through Python's sqlite3 in one transaction; PostgreSQL through psql with generate_series, so even
1,000,000 profiles take seconds, not the hours the HTTP API would."""
import subprocess, sys

NOW = "2026-01-01T00:00:00.000Z"


def seed_sqlite(url: str, n: int) -> None:
    import sqlite3

    path = url.removeprefix("sqlite:").split("?")[0]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    with db:
        db.executemany(
            "INSERT INTO profiles (user_id, email, email_normalized, display_name, first_name, last_name, locale, "
            "timezone, status, version, created_at, updated_at) VALUES (?, ?, ?, ?, 'Bench', ?, 'en-GB', "
            "'Europe/London', 'active', 1, ?, ?)",
            ((f"u{i}", f"u{i}@example.com", f"u{i}@example.com", f"User {i}", f"User{i}", NOW, NOW) for i in range(n)),
        )
    db.close()


def seed_postgres(url: str, n: int) -> None:
    sql = f"""
    INSERT INTO profiles (user_id, email, email_normalized, display_name, first_name, last_name, locale, timezone,
                          status, version, created_at, updated_at)
    SELECT 'u' || i, 'u' || i || '@example.com', 'u' || i || '@example.com', 'User ' || i, 'Bench', 'User' || i,
           'en-GB', 'Europe/London', 'active', 1, TIMESTAMPTZ '{NOW}', TIMESTAMPTZ '{NOW}'
    FROM generate_series(0, {n - 1}) AS i;
    ANALYZE;
    """
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)


def main() -> None:
    backend, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"sqlite": seed_sqlite, "postgres": seed_postgres}[backend](url, n)


if __name__ == "__main__":
    main()
