"""SQLite catalog: documents, chunks and their vectors; the source of truth of a generation.

Every chunk insert, delete and late vector (a pending chunk embedded: ``added`` = 2) is also
written, by trigger and in the same transaction, to ``chunk_log``; the derived structures (vectors, lexical segments, profiles) record the last
log entry they hold and replay the rest on open, so a crash can never leave them behind.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from search.types import SECTION_SEPARATOR, Chunk, Document, DocumentInfo, Section

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    municipality TEXT NOT NULL DEFAULT '',
    municipality_code TEXT NOT NULL DEFAULT '',
    province TEXT NOT NULL DEFAULT '',
    doc_type TEXT NOT NULL DEFAULT '',
    date TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '',
    work_id TEXT NOT NULL DEFAULT '',
    valid_from TEXT NOT NULL DEFAULT '',
    valid_to TEXT NOT NULL DEFAULT '',
    is_current INTEGER NOT NULL DEFAULT 1,
    text TEXT NOT NULL,
    sections TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    added_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS documents_municipality ON documents(municipality_code);
CREATE INDEX IF NOT EXISTS documents_work ON documents(work_id);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    page INTEGER,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_pending ON chunks(id) WHERE length(vector) = 0;
CREATE TABLE IF NOT EXISTS legal_basis (
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    bwb TEXT NOT NULL,
    artikel TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS legal_basis_bwb ON legal_basis(bwb, artikel);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS documents_current ON documents(is_current);
CREATE TABLE IF NOT EXISTS chunk_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    added INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS chunk_added AFTER INSERT ON chunks BEGIN
    INSERT INTO chunk_log(chunk_id, doc_id, added) VALUES (NEW.id, NEW.doc_id, 1);
END;
CREATE TRIGGER IF NOT EXISTS chunk_removed AFTER DELETE ON chunks BEGIN
    INSERT INTO chunk_log(chunk_id, doc_id, added) VALUES (OLD.id, OLD.doc_id, 0);
END;
CREATE TRIGGER IF NOT EXISTS chunk_embedded AFTER UPDATE OF vector ON chunks BEGIN
    INSERT INTO chunk_log(chunk_id, doc_id, added) VALUES (NEW.id, NEW.doc_id, 2);
END;
"""

DOC_COLUMNS = (
    "id, title, municipality, municipality_code, province, doc_type, date, source, "
    "content_hash, extra, (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = documents.id)"
)


class Catalog:
    """Documents and chunks of one index generation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write that also bumps the revision."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('revision', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read query for the modules that derive structures from the catalog."""
        return self._db.execute(sql, args).fetchall()

    def prune_log(self, upto: int) -> None:
        """Forget change-log entries that every saved derived structure already holds."""
        self._db.execute("DELETE FROM chunk_log WHERE seq <= ?", (upto,))

    def revision(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0]) if row else 0

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- writes ------------------------------------------------------------------------

    def put(
        self, db: sqlite3.Connection, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray | None
    ) -> list[int]:
        """Insert or replace a document with its chunks; returns the new chunk ids. Without
        vectors the chunks are pending (an empty vector): searchable by words until embedded."""
        db.execute("DELETE FROM documents WHERE id = ?", (doc.id,))
        extra = doc.extra
        db.execute(
            "INSERT INTO documents(id, title, municipality, municipality_code, province, doc_type,"
            " date, source, content_hash, work_id, valid_from, valid_to, is_current, text,"
            " sections, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.id, doc.title, doc.municipality, doc.municipality_code, doc.province,
                doc.doc_type, doc.date, doc.source, doc.content_hash,
                str(extra.get("work_id", "")), str(extra.get("valid_from", "")),
                str(extra.get("valid_to", "")), 1, doc.text,
                json.dumps([[s.label, s.heading, s.page, len(s.text)] for s in doc.sections]),
                json.dumps(extra, ensure_ascii=False, default=str),
            ),
        )  # fmt: skip
        for basis in extra.get("legal_basis", []) or []:
            db.execute(
                "INSERT INTO legal_basis(doc_id, bwb, artikel) VALUES (?,?,?)",
                (doc.id, str(basis.get("bwb", "")), str(basis.get("artikel", "") or "")),
            )
        ids = []
        blobs = (
            [b""] * len(chunks) if vectors is None else [np.asarray(v, np.float32).tobytes() for v in vectors]
        )
        for chunk, vector in zip(chunks, blobs, strict=True):
            cur = db.execute(
                "INSERT INTO chunks(doc_id, ordinal, text, label, start, end, page, vector)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (doc.id, chunk.ordinal, chunk.text, chunk.label, chunk.start, chunk.end,
                 chunk.page, vector),
            )  # fmt: skip
            ids.append(int(cur.lastrowid or 0))
        return ids

    def delete(self, db: sqlite3.Connection, doc_id: str) -> list[int]:
        """Remove a document; returns the chunk ids it had."""
        ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return ids

    def refresh_current_versions(self, db: sqlite3.Connection, work_ids: Iterable[str]) -> None:
        """Within each work, only the highest version whose validity has not ended is current."""
        for work_id in {w for w in work_ids if w}:
            rows = db.execute(
                "SELECT id, valid_to, json_extract(extra, '$.version') FROM documents WHERE work_id = ?",
                (work_id,),
            ).fetchall()
            ordered = sorted(rows, key=lambda r: (r[1] == "" or r[1] is None, int(r[2] or 0)))
            best = ordered[-1][0]
            db.execute("UPDATE documents SET is_current = (id = ?) WHERE work_id = ?", (best, work_id))

    # -- reads -------------------------------------------------------------------------

    def content_hash(self, doc_id: str) -> str | None:
        row = self._db.execute("SELECT content_hash FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return str(row[0]) if row else None

    def document(self, doc_id: str) -> DocumentInfo | None:
        row = self._db.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return _info(row) if row else None

    def documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentInfo]:
        return {
            row[0]: _info(row) for row in self._where_id_in(f"SELECT {DOC_COLUMNS} FROM documents", doc_ids)
        }

    def list_documents(self, limit: int = 100, offset: int = 0) -> list[DocumentInfo]:
        rows = self._db.execute(
            f"SELECT {DOC_COLUMNS} FROM documents ORDER BY municipality, title LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_info(r) for r in rows]

    def load_document(self, doc_id: str) -> Document | None:
        """The full document as it was indexed (for re-embedding and the document view)."""
        row = self._db.execute(
            "SELECT id, title, municipality, municipality_code, province, doc_type, date, source,"
            " content_hash, extra, text, sections FROM documents WHERE id = ?",
            (doc_id,),
        ).fetchone()
        if not row:
            return None
        text, sections, offset = row[10], [], 0
        for label, heading, page, length in json.loads(row[11]):
            sections.append(
                Section(label=label, heading=heading, page=page, text=text[offset : offset + length])
            )
            offset += length + len(SECTION_SEPARATOR)
        return Document(
            id=row[0], title=row[1], municipality=row[2], municipality_code=row[3], province=row[4],
            doc_type=row[5], date=row[6], source=row[7], content_hash=row[8],
            extra=json.loads(row[9] or "{}"), sections=tuple(sections),
        )  # fmt: skip

    def document_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM documents ORDER BY id")]

    def sources(self) -> dict[str, str]:
        """Document id by source path, for folder sync."""
        return {r[1]: r[0] for r in self._db.execute("SELECT id, source FROM documents")}

    def count_documents(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def count_chunks(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_rows(self) -> Iterator[tuple[int, str, str]]:
        """(chunk id, doc id, text) for every chunk, in id order; the text carries the
        document title and section label, which are part of what a passage is about."""
        yield from self._db.execute(
            "SELECT c.id, c.doc_id, d.title || char(10) || c.label || char(10) || c.text "
            "FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY c.id"
        )

    def vectors_of(self, chunk_ids: Sequence[int], dim: int) -> np.ndarray:
        """Full-precision vectors of these chunks, in the order asked (zeros for unknown ids and
        for pending chunks, which have no vector yet)."""
        found: dict[int, bytes] = dict(self._where_id_in("SELECT id, vector FROM chunks", _ints(chunk_ids)))
        empty = bytes(4 * dim)
        blob = b"".join(found.get(int(c)) or empty for c in chunk_ids)
        return np.frombuffer(blob, dtype=np.float32).reshape(len(chunk_ids), dim).copy()

    def all_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        ids, blobs = [], []
        for cid, blob in self._db.execute(
            "SELECT id, vector FROM chunks WHERE length(vector) > 0 ORDER BY id"
        ):
            ids.append(cid)
            blobs.append(blob)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dim)
        return np.asarray(ids, dtype=np.int64), vectors.copy()

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]:
        rows = self._db.execute(
            "SELECT id, ordinal, text, label, start, end, page FROM chunks WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        )
        return [(r[0], Chunk(doc_id, r[1], r[2], r[3], r[4], r[5], r[6])) for r in rows]

    def chunks_by_id(self, chunk_ids: Sequence[int]) -> dict[int, tuple[str, Chunk]]:
        select = "SELECT id, doc_id, ordinal, text, label, start, end, page FROM chunks"
        return {
            r[0]: (r[1], Chunk(r[1], r[2], r[3], r[4], r[5], r[6], r[7]))
            for r in self._where_id_in(select, _ints(chunk_ids))
        }

    def chunk_documents(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        return dict(self._where_id_in("SELECT id, doc_id FROM chunks", _ints(chunk_ids)))

    def _where_id_in(self, select: str, ids: Sequence[Any]) -> Iterator[Any]:
        """Rows of ``select ... WHERE id IN (ids)``, asked 500 ids at a time (SQLite's limit on
        parameters)."""
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            yield from self._db.execute(f"{select} WHERE id IN ({','.join('?' * len(part))})", part)

    def leading_vectors(self, first_n: int, dim: int) -> tuple[list[str], np.ndarray]:
        """Per document, the vectors of its first n chunks: (doc id per row, matrix)."""
        rows = self._db.execute(
            "SELECT doc_id, vector FROM chunks WHERE ordinal < ? ORDER BY doc_id, ordinal", (first_n,)
        ).fetchall()
        if not rows:
            return [], np.zeros((0, dim), dtype=np.float32)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return [r[0] for r in rows], vectors.copy()

    def facet_values(self, column: str) -> list[tuple[str, int]]:
        if column not in {"municipality", "province", "doc_type", "municipality_code"}:
            raise ValueError(column)
        rows = self._db.execute(
            f"SELECT {column}, COUNT(*) FROM documents WHERE {column} != '' "
            f"GROUP BY {column} ORDER BY {column}"
        )
        return [(r[0], r[1]) for r in rows]

    def municipalities(self) -> list[tuple[str, str, int]]:
        rows = self._db.execute(
            "SELECT municipality_code, MAX(municipality), COUNT(*) FROM documents "
            "WHERE municipality_code != '' GROUP BY municipality_code ORDER BY 2"
        )
        return [(r[0], r[1], r[2]) for r in rows]


def _info(row: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(
        id=row[0], title=row[1], municipality=row[2], municipality_code=row[3], province=row[4],
        doc_type=row[5], date=row[6], source=row[7], content_hash=row[8],
        extra=json.loads(row[9] or "{}"), chunk_count=int(row[10]),
    )  # fmt: skip


def _ints(ids: Sequence[Any]) -> list[int]:
    """Chunk ids as Python ints (numpy integers are not SQLite parameters)."""
    return [int(c) for c in ids]
