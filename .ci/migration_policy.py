"""Expand, then contract (docs/operations.md, "Upgrades without downtime"): while release N and N+1 run on one
schema, a migration of N+1 may only add. This refuses, in every migration newer than the previous release
(.ci/previous-release), a statement that drops, renames or tightens what the previous release may still use:

  DROP TABLE / COLUMN / VIEW / SCHEMA, TRUNCATE, any RENAME, SET NOT NULL, a column type change, a NOT NULL
  column added without a DEFAULT, and a CHECK / UNIQUE / FOREIGN KEY / PRIMARY KEY constraint or a unique index
  added to a table the previous release already had,

unless the statement is a marked contract step: a `-- contract: <release> ...` comment line right before it,
naming the release since which nothing uses what it removes (one release apart at least). It also refuses a change
to a migration the previous release already shipped (sqlx would refuse to start on its checksum) and a new
migration that exists for one backend only.

    python migration_policy.py            check the repository
    python migration_policy.py --self-test check the checker on examples
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgres")

RULES = [
    (r"\bDROP\s+(TABLE|VIEW|MATERIALIZED\s+VIEW|SCHEMA)\b", "drops a {0}"),
    (r"\bDROP\s+COLUMN\b", "drops a column"),
    (r"\bTRUNCATE\b", "truncates a table"),
    (r"\bRENAME\b", "renames"),
    (r"\bSET\s+NOT\s+NULL\b", "adds NOT NULL to a column"),
    (r"\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b", "changes a column's type"),
]


def strip_code(sql):
    """Comments and string literals (dollar-quoted bodies too) removed in one left-to-right pass, so that only SQL
    words are matched and an apostrophe in a comment starts no string."""
    token = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\$(\w*)\$.*?\$\1\$", re.S)
    return token.sub(lambda m: "" if m.group(0).startswith(("--", "/*")) else "''", sql)


def statements(sql):
    """(comment lines right before it, statement text) for each `;`-terminated statement; a blank line ends a
    comment block, and dollar-quoted bodies (`$$ ... $$`) are kept whole."""
    out, current, comments = [], [], []
    in_dollar = None
    for line in sql.splitlines():
        stripped = line.strip()
        if not current:
            if stripped.startswith("--"):
                comments.append(stripped)
                continue
            if not stripped:
                comments = []
                continue
        current.append(line)
        for tag in re.findall(r"\$(\w*)\$", line):
            if in_dollar is None:
                in_dollar = tag
            elif in_dollar == tag:
                in_dollar = None
        if in_dollar is None and strip_code(line).rstrip().endswith(";"):
            out.append((comments, "\n".join(current)))
            current, comments = [], []
    if current:
        out.append((comments, "\n".join(current)))
    return out


def created_tables(sql):
    code = strip_code(sql)
    return {m.lower() for m in re.findall(r"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w.]+)", code, re.I)}


def violations(sql, new_tables):
    """What each unmarked statement of one migration does that the previous release may not survive."""
    found = []
    for comments, statement in statements(sql):
        if any(re.match(r"--\s*contract:\s*\S", c, re.I) for c in comments):
            continue
        code = " ".join(strip_code(statement).split())
        first_line = statement.strip().splitlines()[0][:100]
        for pattern, what in RULES:
            match = re.search(pattern, code, re.I)
            if match:
                found.append((first_line, what.format(*(g.upper() for g in match.groups() if g))))
        table = re.search(r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w.]+)", code, re.I)
        existing = table and table.group(1).lower() not in new_tables
        for column in re.findall(r"\bADD\s+(?:COLUMN\s+)?(?!CONSTRAINT\b)(.*?)(?=,\s*ADD\b|$)", code, re.I):
            if table and re.search(r"\bNOT\s+NULL\b", column, re.I) and not re.search(r"\bDEFAULT\b", column, re.I):
                found.append((first_line, "adds a NOT NULL column without a DEFAULT"))
        if existing and re.search(r"\bADD\s+(CONSTRAINT\s+\w+\s+)?(CHECK|UNIQUE|FOREIGN\s+KEY|PRIMARY\s+KEY)\b", code, re.I):
            found.append((first_line, f"adds a constraint to {table.group(1)}, a table the previous release has"))
        index = re.search(r"\bCREATE\s+UNIQUE\s+INDEX\b.*?\bON\s+(?:ONLY\s+)?([\w.]+)", code, re.I)
        if index and index.group(1).lower() not in new_tables:
            found.append((first_line, f"adds a unique index to {index.group(1)}, a table the previous release has"))
    return found


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def previous_release():
    lines = (ROOT / ".ci" / "previous-release").read_text().splitlines()
    return next(line.split()[0] for line in lines if line.strip() and not line.startswith("#"))


def check_repository():
    release = previous_release()
    try:
        shipped = set(git("ls-tree", "-r", "--name-only", release, "migrations/").split())
    except subprocess.CalledProcessError:
        print(f"migration-policy: the previous release {release} is not in this clone's history (fetch it)")
        return 1
    problems = []
    current = sorted(str(p.relative_to(ROOT)) for b in BACKENDS for p in (ROOT / "migrations" / b).glob("*.sql"))
    for path in sorted(shipped):
        if path not in current:
            problems.append(f"{path}: shipped in {release[:12]} and since deleted")
        elif git("show", f"{release}:{path}") != (ROOT / path).read_text():
            problems.append(f"{path}: shipped in {release[:12]} and since edited (sqlx refuses a changed checksum)")
    new = [p for p in current if p not in shipped]
    names = {b: {Path(p).name for p in new if p.startswith(f"migrations/{b}/")} for b in BACKENDS}
    for backend, other in (BACKENDS, BACKENDS[::-1]):
        for name in sorted(names[backend] - names[other]):
            problems.append(f"migrations/{backend}/{name}: no migrations/{other}/{name} beside it")
    for backend in BACKENDS:
        files = [p for p in new if p.startswith(f"migrations/{backend}/")]
        new_tables = set().union(*(created_tables((ROOT / p).read_text()) for p in files)) if files else set()
        for path in files:
            for statement, what in violations((ROOT / path).read_text(), new_tables):
                problems.append(f"{path}: `{statement}` {what} (outside a `-- contract:` step)")
    for problem in problems:
        print(f"  FAIL {problem}")
    print(f"migration-policy: {len(new)} migration(s) newer than {release[:12]}: "
          + (", ".join(Path(p).name for p in new if "/postgres/" in p) or "none")
          + f"; {len(problems)} problem(s)")
    return 1 if problems else 0


EXAMPLES = [
    # (sql, tables created earlier in the same release, expected findings)
    ("ALTER TABLE profiles ADD COLUMN nickname TEXT;", set(), []),
    ("ALTER TABLE profiles ADD COLUMN tier TEXT NOT NULL DEFAULT 'basic';", set(), []),
    ("-- the user's own table\nCREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, u TEXT UNIQUE);\n"
     "CREATE UNIQUE INDEX t_u ON t (u);", set(), []),
    ("ALTER TABLE profiles ADD COLUMN tier TEXT NOT NULL;", set(), ["adds a NOT NULL column without a DEFAULT"]),
    ("ALTER TABLE profiles DROP COLUMN phone;", set(), ["drops a column"]),
    ("DROP TABLE consent_records;", set(), ["drops a TABLE"]),
    ("ALTER TABLE profiles RENAME COLUMN phone TO phone_e164;", set(), ["renames"]),
    ("ALTER TABLE profiles ALTER COLUMN locale SET NOT NULL;", set(), ["adds NOT NULL to a column"]),
    ("ALTER TABLE profiles ALTER COLUMN locale TYPE VARCHAR(10);", set(), ["changes a column's type"]),
    ("ALTER TABLE profiles ADD CONSTRAINT p_len CHECK (length(email) < 100);", set(),
     ["adds a constraint to profiles, a table the previous release has"]),
    ("CREATE UNIQUE INDEX profiles_phone_key ON profiles (phone);", set(),
     ["adds a unique index to profiles, a table the previous release has"]),
    ("-- contract: 2026.11 stopped reading profiles.legacy_name\nALTER TABLE profiles DROP COLUMN legacy_name;", set(), []),
    ("-- the value is 'DROP TABLE x' in a comment only\nINSERT INTO notes VALUES ('DROP TABLE x');", set(), []),
    ("CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  DELETE FROM x; RETURN OLD;\nEND\n$$;", set(), []),
]


def self_test():
    failed = 0
    for sql, tables, expected in EXAMPLES:
        got = [what for _, what in violations(sql, tables | created_tables(sql))]
        if got != expected:
            failed += 1
            print(f"  FAIL {sql!r}: expected {expected}, got {got}")
    print(f"migration-policy self-test: {len(EXAMPLES) - failed} of {len(EXAMPLES)} examples judged as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(self_test() if sys.argv[1:] == ["--self-test"] else check_repository())
