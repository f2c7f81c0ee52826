#!/usr/bin/env python3
"""Seeds one user at every limit of docs/limits.md: `seed_largest.py sqlite|postgres URL USER_ID SHAPE`.

SHAPE `wide`: 50 live addresses (one revision each) and 2,475 deleted ones (created, then deleted: two revisions
each), so 5,000 revisions over the most addresses a user can hold. SHAPE `deep`: 50 live addresses of 100
revisions each. Both add 1,000 consent records and stored preferences. The SQL goes to the `sqlite3` or `psql`
command line, so the harness needs no Python packages."""
import subprocess, sys, uuid, zlib

from seed import NOW, PREFS

MAX_REVISIONS = 5000
MAX_LIVE = 50
MAX_CONSENTS = 1000


def ordered_id(user: str, kind: int, n: int) -> uuid.UUID:
    """UUIDv7-shaped ids in creation order: a fixed time prefix, the user and kind, then the counter."""
    return uuid.UUID(f"01950000-{zlib.crc32(user.encode()) & 0xfff:03x}{kind:x}-7000-8000-{n:012x}")


def shape(name: str) -> list[tuple[int, bool]]:
    """(revisions, deleted) per address, oldest first."""
    if name == "wide":
        deleted = (MAX_REVISIONS - MAX_LIVE) // 2
        return [(2, True)] * deleted + [(1, False)] * MAX_LIVE
    if name == "deep":
        return [(MAX_REVISIONS // MAX_LIVE, False)] * MAX_LIVE
    raise SystemExit(f"unknown shape {name}: wide or deep")


def statements(backend: str, user: str, addresses: list[tuple[int, bool]]) -> str:
    uid = (lambda u: f"'{u}'") if backend == "postgres" else (lambda u: f"X'{u.hex}'")
    ts = f"'{NOW}'"
    live = [i for i, (_, deleted) in enumerate(addresses) if not deleted]
    default = live[-1]
    rows, revisions = [], []
    for i, (count, deleted) in enumerate(addresses):
        fields = (f"'Label {i}', 'Recipient {i}', 'Company {i}', '{i} Long Street Name', 'Floor {i % 9}', "
                  f"'London', 'Greater London', 'SW1A 1AA', 'GB', '+442079460000'")
        is_default = "TRUE" if i == default else "FALSE"
        deleted_at = ts if deleted else "NULL"
        rows.append(f"({uid(ordered_id(user, 1, i))}, '{user}', {fields}, {is_default}, {is_default}, {count}, {ts}, {ts}, "
                    f"{deleted_at})")
        for r in range(1, count + 1):
            last_delete = deleted and r == count
            flag = "FALSE" if last_delete else is_default
            revisions.append(f"({uid(ordered_id(user, 1, i))}, {r}, '{user}', {fields}, {flag}, {flag}, "
                             f"{ts if last_delete else 'NULL'}, {ts})")
    consents = [f"({uid(ordered_id(user, 2, n))}, '{user}', 'email', 'newsletter', {'TRUE' if n % 2 == 0 else 'FALSE'}, "
                f"{ts}, NULL)" for n in range(MAX_CONSENTS)]
    columns = ("label, recipient_name, company, line1, line2, city, region, postal_code, country, phone, "
               "is_default_shipping, is_default_billing")
    return "\n".join([
        "BEGIN;",
        f"INSERT INTO profiles (user_id, email, email_normalized, display_name, display_name_lower, status, version, "
        f"created_at, updated_at) VALUES ('{user}', '{user}@example.com', '{user}@example.com', 'Largest', "
        f"'largest', 'active', 1, {ts}, {ts});",
        f"INSERT INTO preferences (user_id, document, version, created_at, updated_at) "
        f"VALUES ('{user}', '{PREFS}', 1, {ts}, {ts});",
        f"INSERT INTO addresses (id, user_id, {columns}, revision, created_at, updated_at, deleted_at) VALUES "
        + ",\n".join(rows) + ";",
        f"INSERT INTO address_revisions (address_id, revision, user_id, {columns}, deleted_at, created_at) VALUES "
        + ",\n".join(revisions) + ";",
        "INSERT INTO consent_records (id, user_id, channel, purpose, granted, recorded_at, request_id) VALUES "
        + ",\n".join(consents) + ";",
        "COMMIT;",
        "ANALYZE;",
    ])


def main() -> None:
    backend, url, user, shape_name = sys.argv[1:5]
    sql = statements(backend, user, shape(shape_name))
    if backend == "sqlite":
        path = url.removeprefix("sqlite:").split("?")[0]
        subprocess.run(["sqlite3", "-bail", path], input=sql, text=True, check=True, stdout=subprocess.DEVNULL)
    else:
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input=sql, text=True, check=True,
                       stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
