"""Generations in PostgreSQL: each a schema of its own, built beside the live one, swapped in one
transaction.

A *space* is one index (``main`` for the product, one per cached evaluation set), as a data
directory is for the embedded engine. Readers look up the live generation of their space on
every request, so a swap made by any node is seen by all. A retired generation is dropped only
after ``RETIRE_GRACE_S``, so searches that started on it just before a swap still finish.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from importlib import resources

import psycopg

from search.errors import IndexMismatch, InvalidInput
from search.pg.connection import Database

GENERATION_FORMAT = 2  # 2: chunks carry their document's filter columns
RETIRE_GRACE_S = 60.0
# Measured (README, "Running on PostgreSQL"; make bench-postgres, 50k passages): HNSW on halfvec
# has half the index bytes of HNSW on vector (1,366 vs 2,731 per passage) at the same latency
# (dense p50 25-28 ms) and recall within build-to-build spread; full-precision vectors stay in
# the table for exact scans, scores and profiles.
DEFAULT_VECTOR_INDEX = "hnsw-halfvec"
VECTOR_INDEXES = {
    "hnsw": "CREATE INDEX ON {schema}.chunks USING hnsw (vector vector_ip_ops);",
    "hnsw-halfvec": "CREATE INDEX ON {schema}.chunks USING hnsw ((vector::halfvec({dim})) halfvec_ip_ops);",
    "exact": "",
}
_SCHEMA = re.compile(r"^g_[a-z0-9_]{1,50}$")
COLUMNS = "name, space, model_id, dim, format_version, vector_index, state"


@dataclass(frozen=True)
class Generation:
    name: str  # its schema
    space: str
    model_id: str
    dim: int
    format_version: int
    vector_index: str
    state: str


def _generation(row: tuple[object, ...]) -> Generation:
    name, space, model_id, dim, fmt, index, state = row
    return Generation(
        str(name), str(space), str(model_id), int(str(dim)), int(str(fmt)), str(index), str(state)
    )


def create(
    db: Database, space: str, model_id: str, dim: int, vector_index: str = DEFAULT_VECTOR_INDEX
) -> Generation:
    """A new, empty generation in state ``building`` (made live later by ``activate``)."""
    with db.write() as conn:
        return _create(conn, space, model_id, dim, vector_index, "building")


def create_live(db: Database, space: str, model_id: str, dim: int) -> Generation:
    """The live generation of a space, created empty when there is none (safe from many nodes)."""
    with db.write() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('swap:' || %s))", (space,))
        row = conn.execute(
            f"SELECT {COLUMNS} FROM generations WHERE space = %s AND state = 'live'", (space,)
        ).fetchone()
        if row is not None:
            return _generation(row)
        return _create(conn, space, model_id, dim, DEFAULT_VECTOR_INDEX, "live")


def _create(
    conn: psycopg.Connection, space: str, model_id: str, dim: int, vector_index: str, state: str
) -> Generation:
    if vector_index not in VECTOR_INDEXES:
        raise InvalidInput(f"unknown vector index {vector_index!r}; one of {', '.join(VECTOR_INDEXES)}")
    name = f"g_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(4)}"
    template = resources.files("search.pg").joinpath("generation.sql").read_text(encoding="utf-8")
    index_sql = VECTOR_INDEXES[vector_index].format(schema=name, dim=int(dim))
    conn.execute(template.format(schema=name, dim=int(dim), vector_index=index_sql).encode())
    conn.execute(
        f"INSERT INTO generations ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (name, space, model_id, dim, GENERATION_FORMAT, vector_index, state),
    )
    return Generation(name, space, model_id, dim, GENERATION_FORMAT, vector_index, state)


def live(db: Database, space: str, primary: bool = False, any_format: bool = False) -> Generation | None:
    """The live generation of a space (from the replica unless ``primary``); of an older format
    only with ``any_format`` (a reindex reads its documents, whose table every format shares)."""
    use = db.primary if primary else db.read
    with use() as conn:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM generations WHERE space = %s AND state = 'live'", (space,)
        ).fetchone()
    if row is None:
        return None
    generation = _generation(row)
    if generation.format_version != GENERATION_FORMAT and not any_format:
        raise IndexMismatch(
            f"the live index has format {generation.format_version}, this version reads {GENERATION_FORMAT}: "
            "run `schutting reindex`"
        )
    return generation


def activate(db: Database, generation: Generation, grace_s: float = RETIRE_GRACE_S) -> None:
    """Make a generation live and retire the one it replaces, in one transaction; then drop
    generations retired more than ``grace_s`` ago."""
    with db.write() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('swap:' || %s))", (generation.space,))
        conn.execute(
            "UPDATE generations SET state = 'retired', retired_at = now() WHERE space = %s AND state = 'live'",
            (generation.space,),
        )
        conn.execute("UPDATE generations SET state = 'live' WHERE name = %s", (generation.name,))
    drop_retired(db, generation.space, grace_s)


def drop_retired(db: Database, space: str, grace_s: float = RETIRE_GRACE_S) -> list[str]:
    with db.primary() as conn:
        rows = conn.execute(
            "SELECT name FROM generations WHERE space = %s AND state = 'retired' "
            "AND retired_at < now() - make_interval(secs => %s)",
            (space, grace_s),
        ).fetchall()
    for (name,) in rows:
        drop(db, str(name))
    return [str(r[0]) for r in rows]


def drop(db: Database, name: str) -> None:
    """Remove a generation and its tables."""
    if not _SCHEMA.match(name):
        raise InvalidInput(f"not a generation name: {name!r}")
    with db.write() as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute("DELETE FROM generations WHERE name = %s", (name,))


def abandoned(db: Database, space: str) -> list[str]:
    """Generations being built whose builder is gone (its session lock is free)."""
    with db.primary() as conn:
        rows = conn.execute(
            "SELECT name FROM generations WHERE space = %s AND state = 'building'", (space,)
        ).fetchall()
        free = []
        for (name,) in rows:
            got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (str(name),)).fetchone()
            if got and got[0]:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (str(name),))
                free.append(str(name))
    return free


def building_lock(db: Database, generation: Generation) -> psycopg.Connection:
    """A session that holds the generation's builder lock until closed (or its process dies)."""
    conn = psycopg.connect(db.url, autocommit=True)
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (generation.name,))
    return conn


def spaces(db: Database) -> list[str]:
    with db.primary() as conn:
        return [str(r[0]) for r in conn.execute("SELECT DISTINCT space FROM generations ORDER BY 1")]
