"""Writes to a generation: documents with their chunks, vectors, profiles and BM25 statistics,
all in the caller's transaction, so a write lands whole or not at all.

The BM25 statistics (document frequency per term, chunk and token counts) change by the
difference between the chunks removed and added; term rows are updated in sorted order so
concurrent writers (workers on several hosts) never deadlock on them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import psycopg

from search.embedders import normalise
from search.profiles import LEADING_CHUNKS
from search.types import Chunk, Document

LEXICAL_CONFIG = "dutch"
INSERT_DOCUMENT = """
INSERT INTO {s}.documents (id, title, municipality, municipality_code, province, doc_type, date,
    source, content_hash, work_id, valid_from, valid_to, version, text, sections, extra, chunk_count)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
INSERT_CHUNK = """
INSERT INTO {s}.chunks (doc_id, ordinal, text, label, start_offset, end_offset, page, tsv, dl, vector,
    municipality_code, province, doc_type, date, valid_from, valid_to, is_current)
SELECT d.id, %s, %s, %s, %s, %s, %s, v.tsv,
       (SELECT coalesce(sum(array_length(positions, 1)), 0) FROM unnest(v.tsv)), %s,
       d.municipality_code, d.province, d.doc_type, d.date, d.valid_from, d.valid_to, d.is_current
FROM (SELECT to_tsvector('dutch', %s) AS tsv) AS v JOIN {s}.documents d ON d.id = %s
RETURNING id
"""
TERM_COUNTS = """
SELECT u.lexeme, count(*) FROM {s}.chunks c, unnest(c.tsv) AS u WHERE {where} GROUP BY u.lexeme
"""


def lexical_text(doc: Document, chunk: Chunk) -> str:
    """What BM25 indexes for a passage: the document title and section label are part of it."""
    return f"{doc.title}\n{chunk.label}\n{chunk.text}"


class Writer:
    """Write statements for one generation schema, run on a connection inside a transaction."""

    def __init__(self, schema: str, dim: int) -> None:
        self.s = schema
        self.dim = dim

    def put(
        self, conn: psycopg.Connection, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray | None]]
    ) -> None:
        doc_ids = [doc.id for doc, _, _ in items]
        removed = self._term_counts(conn, "c.doc_id = ANY(%s)", doc_ids)
        gone_chunks, gone_tokens = self._sizes(conn, "doc_id = ANY(%s)", doc_ids)
        conn.execute(f"DELETE FROM {self.s}.documents WHERE id = ANY(%s)", (doc_ids,))
        added_ids: list[int] = []
        for doc, chunks, vectors in items:
            matrix = None if vectors is None else np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
            added_ids += self._insert(conn, doc, chunks, matrix)
        added = self._term_counts(conn, "c.id = ANY(%s)", added_ids)
        new_chunks, new_tokens = self._sizes(conn, "id = ANY(%s)", added_ids)
        self._refresh_current_versions(conn, [str(doc.extra.get("work_id", "")) for doc, _, _ in items])
        self._apply(conn, added, removed, new_chunks - gone_chunks, new_tokens - gone_tokens)

    def delete(self, conn: psycopg.Connection, doc_ids: Sequence[str]) -> int:
        """Remove documents; returns how many existed."""
        ids = list(doc_ids)
        removed = self._term_counts(conn, "c.doc_id = ANY(%s)", ids)
        gone_chunks, gone_tokens = self._sizes(conn, "doc_id = ANY(%s)", ids)
        rows = conn.execute(f"DELETE FROM {self.s}.documents WHERE id = ANY(%s) RETURNING work_id", (ids,))
        work_ids = [str(r[0]) for r in rows.fetchall()]
        self._refresh_current_versions(conn, work_ids)
        self._apply(conn, Counter(), removed, -gone_chunks, -gone_tokens)
        return len(work_ids)

    def _sizes(self, conn: psycopg.Connection, where: str, ids: Sequence[object]) -> tuple[int, int]:
        """(chunks, BM25 tokens) of the chunks matching ``where``."""
        row = conn.execute(
            f"SELECT count(*), coalesce(sum(dl), 0) FROM {self.s}.chunks WHERE {where}", (list(ids),)
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _insert(
        self, conn: psycopg.Connection, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray | None
    ) -> list[int]:
        """A document with its chunks; without vectors the chunks are pending (NULL vector)."""
        extra = doc.extra
        conn.execute(
            INSERT_DOCUMENT.format(s=self.s),
            (doc.id, doc.title, doc.municipality, doc.municipality_code, doc.province, doc.doc_type,
             doc.date, doc.source, doc.content_hash, str(extra.get("work_id", "")),
             str(extra.get("valid_from", "")), str(extra.get("valid_to", "")), _version(extra),
             doc.text, json.dumps([[s.label, s.heading, s.page, len(s.text)] for s in doc.sections]),
             json.dumps(extra, ensure_ascii=False, default=str), len(chunks)),
        )  # fmt: skip
        for basis in extra.get("legal_basis", []) or []:
            conn.execute(
                f"INSERT INTO {self.s}.legal_basis (doc_id, bwb, artikel) VALUES (%s, %s, %s)",
                (doc.id, str(basis.get("bwb", "")), str(basis.get("artikel", "") or "")),
            )
        with conn.cursor() as cur:  # each chunk copies its document's filter columns from the row above
            cur.executemany(
                INSERT_CHUNK.format(s=self.s),
                [(c.ordinal, c.text, c.label, c.start, c.end, c.page, v, lexical_text(doc, c), doc.id)
                 for c, v in zip(chunks, [None] * len(chunks) if vectors is None else vectors, strict=True)],
                returning=True,
            )  # fmt: skip
            ids = _returned_ids(cur) if chunks else []
        if vectors is not None:
            self._put_profile(conn, doc, chunks, vectors)
        return ids

    def _put_profile(
        self, conn: psycopg.Connection, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        leading = [v for c, v in zip(chunks, vectors, strict=True) if c.ordinal < LEADING_CHUNKS]
        if not leading:
            return
        profile = normalise(np.mean(np.vstack(leading), axis=0))[0]
        conn.execute(
            f"INSERT INTO {self.s}.profiles (doc_id, doc_type, vector) VALUES (%s, %s, %s)",
            (doc.id, doc.doc_type, profile),
        )

    def _term_counts(self, conn: psycopg.Connection, where: str, ids: Sequence[object]) -> Counter[str]:
        if not ids:
            return Counter()
        rows = conn.execute(TERM_COUNTS.format(s=self.s, where=where), (list(ids),))
        return Counter({str(term): int(n) for term, n in rows.fetchall()})

    def _apply(
        self, conn: psycopg.Connection, added: Counter[str], removed: Counter[str], chunks: int, tokens: int
    ) -> None:
        """Change the BM25 statistics by (added - removed) and bump the revision."""
        delta = {t: added.get(t, 0) - removed.get(t, 0) for t in set(added) | set(removed)}
        terms = sorted(t for t, n in delta.items() if n)
        if terms:
            conn.execute(
                f"INSERT INTO {self.s}.terms AS t (term, df) "
                "SELECT * FROM unnest(%s::text[], %s::integer[]) ORDER BY 1 "
                "ON CONFLICT (term) DO UPDATE SET df = t.df + excluded.df",
                (terms, [delta[t] for t in terms]),
            )
        conn.execute(
            f"UPDATE {self.s}.stats SET chunks = chunks + %s, tokens = tokens + %s, revision = revision + 1",
            (chunks, tokens),
        )

    def _refresh_current_versions(self, conn: psycopg.Connection, work_ids: Iterable[str]) -> None:
        """Within each work, only the highest version whose validity has not ended is current;
        its chunks say the same (only rows that change are written)."""
        for work_id in sorted({w for w in work_ids if w}):
            conn.execute(
                f"UPDATE {self.s}.documents SET is_current = (id = ("
                f"SELECT id FROM {self.s}.documents WHERE work_id = %s "
                "ORDER BY (valid_to = '') DESC, version DESC, id LIMIT 1)) WHERE work_id = %s",
                (work_id, work_id),
            )
            conn.execute(
                f"UPDATE {self.s}.chunks c SET is_current = d.is_current FROM {self.s}.documents d "
                "WHERE d.work_id = %s AND c.doc_id = d.id AND c.is_current <> d.is_current",
                (work_id,),
            )


def _version(extra: dict[str, object]) -> int:
    try:
        return int(str(extra.get("version") or 0))
    except ValueError:
        return 0


def _returned_ids(cur: psycopg.Cursor) -> list[int]:
    """The ids an ``executemany(..., returning=True)`` produced, one result set per row."""
    ids = []
    while True:
        row = cur.fetchone()
        if row is not None:
            ids.append(int(row[0]))
        if not cur.nextset():
            return ids
