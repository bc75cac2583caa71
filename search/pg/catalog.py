"""The read side of a generation's catalog in PostgreSQL (``search.engine.CatalogReader``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from search.pg.connection import Database
from search.types import SECTION_SEPARATOR, Chunk, Document, DocumentInfo, Section

DOC_COLUMNS = (
    "id, title, municipality, municipality_code, province, doc_type, date, source, content_hash, "
    "extra, chunk_count"
)
CHUNK_COLUMNS = "id, doc_id, ordinal, text, label, start_offset, end_offset, page"
FACETS = {"municipality", "province", "doc_type", "municipality_code"}


class PgCatalog:
    """Documents and chunks of one generation (schema ``schema``) of a PostgreSQL index."""

    def __init__(self, db: Database, schema: str) -> None:
        self.db = db
        self.schema = schema

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.db.read() as conn:
            return conn.execute(sql.format(s=self.schema), args).fetchall()

    def revision(self) -> int:
        return int(self._rows("SELECT revision FROM {s}.stats")[0][0])

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM {s}.meta WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                f"INSERT INTO {self.schema}.meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def all_meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._rows("SELECT key, value FROM {s}.meta")}

    def content_hash(self, doc_id: str) -> str | None:
        rows = self._rows("SELECT content_hash FROM {s}.documents WHERE id = %s", (doc_id,))
        return str(rows[0][0]) if rows else None

    def document(self, doc_id: str) -> DocumentInfo | None:
        rows = self._rows(f"SELECT {DOC_COLUMNS} FROM {{s}}.documents WHERE id = %s", (doc_id,))
        return _info(rows[0]) if rows else None

    def documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentInfo]:
        if not doc_ids:
            return {}
        rows = self._rows(f"SELECT {DOC_COLUMNS} FROM {{s}}.documents WHERE id = ANY(%s)", (list(doc_ids),))
        return {r[0]: _info(r) for r in rows}

    def list_documents(self, limit: int = 100, offset: int = 0) -> list[DocumentInfo]:
        rows = self._rows(
            f"SELECT {DOC_COLUMNS} FROM {{s}}.documents ORDER BY municipality, title, id LIMIT %s OFFSET %s",
            (limit, offset),
        )
        return [_info(r) for r in rows]

    def load_document(self, doc_id: str) -> Document | None:
        """The full document as it was indexed (for re-embedding and the document view)."""
        rows = self._rows(
            f"SELECT {DOC_COLUMNS}, text, sections FROM {{s}}.documents WHERE id = %s", (doc_id,)
        )
        if not rows:
            return None
        row = rows[0]
        text, sections, offset = row[11], [], 0
        for label, heading, page, length in row[12]:
            sections.append(
                Section(label=label, heading=heading, page=page, text=text[offset : offset + length])
            )
            offset += length + len(SECTION_SEPARATOR)
        return Document(
            id=row[0], title=row[1], municipality=row[2], municipality_code=row[3], province=row[4],
            doc_type=row[5], date=row[6], source=row[7], content_hash=row[8], extra=row[9] or {},
            sections=tuple(sections),
        )  # fmt: skip

    def document_ids(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT id FROM {s}.documents ORDER BY id")]

    def sources(self) -> dict[str, str]:
        """Document id by source path, for folder sync."""
        return {r[1]: r[0] for r in self._rows("SELECT id, source FROM {s}.documents")}

    def count_documents(self) -> int:
        return int(self._rows("SELECT count(*) FROM {s}.documents")[0][0])

    def count_chunks(self) -> int:
        return int(self._rows("SELECT chunks FROM {s}.stats")[0][0])

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]:
        rows = self._rows(
            f"SELECT {CHUNK_COLUMNS} FROM {{s}}.chunks WHERE doc_id = %s ORDER BY ordinal", (doc_id,)
        )
        return [(r[0], _chunk(r)) for r in rows]

    def chunks_by_id(self, chunk_ids: Sequence[int]) -> dict[int, tuple[str, Chunk]]:
        if not len(chunk_ids):
            return {}
        ids = [int(c) for c in chunk_ids]
        rows = self._rows(f"SELECT {CHUNK_COLUMNS} FROM {{s}}.chunks WHERE id = ANY(%s)", (ids,))
        return {r[0]: (r[1], _chunk(r)) for r in rows}

    def chunk_documents(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        if not len(chunk_ids):
            return {}
        ids = [int(c) for c in chunk_ids]
        return dict(self._rows("SELECT id, doc_id FROM {s}.chunks WHERE id = ANY(%s)", (ids,)))

    def facet_values(self, column: str) -> list[tuple[str, int]]:
        if column not in FACETS:
            raise ValueError(column)
        rows = self._rows(
            f"SELECT {column}, count(*) FROM {{s}}.documents WHERE {column} <> '' "
            f'GROUP BY {column} ORDER BY {column} COLLATE "C"'
        )
        return [(r[0], int(r[1])) for r in rows]

    def municipalities(self) -> list[tuple[str, str, int]]:
        rows = self._rows(
            "SELECT municipality_code, max(municipality), count(*) FROM {s}.documents "
            "WHERE municipality_code <> '' GROUP BY municipality_code ORDER BY max(municipality) COLLATE \"C\", 1"
        )
        return [(r[0], r[1], int(r[2])) for r in rows]


def _chunk(r: Sequence[Any]) -> Chunk:
    return Chunk(r[1], r[2], r[3], r[4], r[5], r[6], r[7])


def _info(row: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(
        id=row[0], title=row[1], municipality=row[2], municipality_code=row[3], province=row[4],
        doc_type=row[5], date=row[6], source=row[7], content_hash=row[8], extra=row[9] or {},
        chunk_count=int(row[10]),
    )  # fmt: skip
