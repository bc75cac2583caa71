"""Versioned schema: numbered SQL files in ``migrations/``, applied in order at start-up.

``schema_migrations`` records what was applied. A transaction-level advisory lock makes
concurrent start-ups (several API nodes and workers) apply each migration once. A database
migrated by a newer version of the program is refused rather than misread.
"""

from __future__ import annotations

import re
from importlib import resources

import psycopg

from search.errors import IndexMismatch

LOCK_KEY = 0x5C4077  # advisory lock id for migrations ("schutting")
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every shipped migration, in order."""
    found = []
    for item in resources.files("search.pg").joinpath("migrations").iterdir():
        match = _NAME.match(item.name)
        if match:
            found.append((int(match.group(1)), item.name, item.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations this database lacks; returns their file names."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        known = migrations()
        newest = max((v for v, _, _ in known), default=0)
        if applied and max(applied) > newest:
            raise IndexMismatch(
                f"the database schema is at version {max(applied)}, this program knows up to {newest}: "
                "upgrade over-de-schutting on this node"
            )
        for version, name, sql in known:
            if version not in applied:
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                applied_now.append(name)
    return applied_now
