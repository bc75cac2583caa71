"""Pending chunks in the embedded catalog: written by a lexical-first ingest without a vector
(an empty blob), searchable by words at once, given their vector later by the embed job.

A pending chunk is in the lexical index and the catalog like any other; the vector index and
the find-similar profiles leave it out until ``set_vectors`` fills it (a trigger logs that as
``added = 2`` in ``chunk_log``, and the derived structures follow, see ``search/derived.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from search.catalog import Catalog
from search.types import Chunk

PENDING = "length(c.vector) = 0"


def count(catalog: Catalog) -> int:
    return int(catalog.rows(f"SELECT COUNT(*) FROM chunks c WHERE {PENDING}")[0][0])


def chunk_ids(catalog: Catalog) -> list[int]:
    """Every pending chunk, in id order (the order the embed job cuts into units)."""
    return [int(r[0]) for r in catalog.rows(f"SELECT c.id FROM chunks c WHERE {PENDING} ORDER BY c.id")]


def passages(catalog: Catalog, first: int, last: int) -> list[tuple[int, str, Chunk]]:
    """(chunk id, document title, chunk) of the pending chunks with ids first..last."""
    rows = catalog.rows(
        "SELECT c.id, d.title, c.doc_id, c.ordinal, c.text, c.label, c.start, c.end, c.page "
        f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id BETWEEN ? AND ? AND {PENDING} "
        "ORDER BY c.id",
        (first, last),
    )
    return [(int(r[0]), str(r[1]), Chunk(r[2], r[3], r[4], r[5], r[6], r[7], r[8])) for r in rows]


def set_vectors(db: sqlite3.Connection, ids: Sequence[int], vectors: np.ndarray) -> int:
    """Fill pending chunks (in the caller's transaction); chunks gone or embedded are left alone."""
    rows = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
    done = 0
    for chunk_id, vector in zip(ids, rows, strict=True):
        cur = db.execute(
            "UPDATE chunks SET vector = ? WHERE id = ? AND length(vector) = 0",
            (vector.tobytes(), int(chunk_id)),
        )
        done += cur.rowcount
    return done
