"""Pending chunks in a PostgreSQL generation: a lexical-first ingest writes chunks with a NULL
vector; they are in the BM25 statistics at once, while dense search (``vector IS NOT NULL``) and
the profiles (a document's row appears once its leading chunks are embedded) wait for
``set_vectors``. Generations created before pending chunks existed have ``vector NOT NULL``;
``allow_pending`` lifts that (a catalog-only change) the first time a pending chunk is written.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg

from search.embedders import normalise
from search.profiles import LEADING_CHUNKS
from search.types import Chunk


def allow_pending(conn: psycopg.Connection, s: str) -> None:
    if _not_null(conn, s):
        conn.execute(f"ALTER TABLE {s}.chunks ALTER COLUMN vector DROP NOT NULL")
        conn.execute(f"CREATE INDEX IF NOT EXISTS chunks_pending ON {s}.chunks (id) WHERE vector IS NULL")


def count(conn: psycopg.Connection, s: str) -> int:
    """Chunks without a vector: through the partial index, or none where vectors are NOT NULL."""
    if _not_null(conn, s):
        return 0  # a generation that never held a pending chunk (and has no index to count them)
    row = conn.execute(f"SELECT count(*) FROM {s}.chunks WHERE vector IS NULL").fetchone()
    return int(row[0]) if row else 0


def _not_null(conn: psycopg.Connection, s: str) -> bool:
    row = conn.execute(
        "SELECT attnotnull FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'vector'",
        (f"{s}.chunks",),
    ).fetchone()
    return bool(row and row[0])


def chunk_ids(conn: psycopg.Connection, s: str) -> list[int]:
    rows = conn.execute(f"SELECT id FROM {s}.chunks WHERE vector IS NULL ORDER BY id").fetchall()
    return [int(r[0]) for r in rows]


def passages(conn: psycopg.Connection, s: str, first: int, last: int) -> list[tuple[int, str, Chunk]]:
    rows = conn.execute(
        "SELECT c.id, d.title, c.doc_id, c.ordinal, c.text, c.label, c.start_offset, c.end_offset, c.page "
        f"FROM {s}.chunks c JOIN {s}.documents d ON d.id = c.doc_id "
        "WHERE c.id BETWEEN %s AND %s AND c.vector IS NULL ORDER BY c.id",
        (first, last),
    ).fetchall()
    return [(int(r[0]), str(r[1]), Chunk(r[2], r[3], r[4], r[5], r[6], r[7], r[8])) for r in rows]


def set_vectors(conn: psycopg.Connection, s: str, ids: Sequence[int], vectors: np.ndarray) -> int:
    """Fill pending chunks, then the profiles of documents whose leading chunks are now all embedded."""
    rows = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
    docs: list[str] = []
    with conn.cursor() as cur:
        cur.executemany(
            f"UPDATE {s}.chunks SET vector = %s WHERE id = %s AND vector IS NULL RETURNING doc_id",
            [(v, int(i)) for i, v in zip(ids, rows, strict=True)],
            returning=True,
        )
        while True:
            docs += [str(r[0]) for r in cur.fetchall()]
            if not cur.nextset():
                break
    if docs:
        _put_profiles(conn, s, sorted(set(docs)))
        conn.execute(f"UPDATE {s}.stats SET revision = revision + 1")
    return len(docs)


def _put_profiles(conn: psycopg.Connection, s: str, doc_ids: list[str]) -> None:
    """The profile (normalised mean of the leading chunk vectors) of each document whose leading
    chunks all have vectors, as ``search.pg.writes`` writes it for a document ingested whole."""
    rows = conn.execute(
        f"SELECT c.doc_id, d.doc_type, c.vector FROM {s}.chunks c JOIN {s}.documents d ON d.id = c.doc_id "
        "WHERE c.doc_id = ANY(%s) AND c.ordinal < %s ORDER BY c.doc_id, c.ordinal",
        (doc_ids, LEADING_CHUNKS),
    ).fetchall()
    leading: dict[str, tuple[str, list[object]]] = {}
    for doc_id, doc_type, vector in rows:
        leading.setdefault(str(doc_id), (str(doc_type), []))[1].append(vector)
    for doc_id, (doc_type, vectors) in leading.items():
        if any(v is None for v in vectors):
            continue  # a leading chunk still pending: find-similar waits for it
        profile = normalise(np.mean(np.vstack([_array(v) for v in vectors]), axis=0))[0]
        conn.execute(
            f"INSERT INTO {s}.profiles (doc_id, doc_type, vector) VALUES (%s, %s, %s) "
            "ON CONFLICT (doc_id) DO UPDATE SET vector = excluded.vector",
            (doc_id, doc_type, profile),
        )


def _array(value: object) -> np.ndarray:
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)
