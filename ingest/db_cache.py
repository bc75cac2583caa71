"""The embedding cache in PostgreSQL: passage vectors by (model, sha1 of text) shared by every node
and worker of a database, so a re-ingest or reindex of unchanged text costs nothing anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ingest.embedding import EmbeddingCache
from search.engines import Place
from search.pg.connection import Database


class DatabaseEmbeddingCache(EmbeddingCache):
    """``EmbeddingCache`` with its vectors in the ``embedding_cache`` table (search/pg/migrations)."""

    def __init__(self, db: Database) -> None:  # no SQLite file: the database holds the vectors
        self._pg = db

    def get(self, model: str, keys: Sequence[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        with self._pg.primary() as conn:
            rows = conn.execute(
                "SELECT key, vector FROM embedding_cache WHERE model = %s AND key = ANY(%s)",
                (model, list(keys)),
            ).fetchall()
        return {str(k): bytes(v) for k, v in rows}

    def put(self, model: str, items: Sequence[tuple[str, bytes]]) -> None:
        if not items:
            return
        with self._pg.write() as conn:
            conn.execute(
                "INSERT INTO embedding_cache (model, key, vector) "
                "SELECT %s, k, v FROM unnest(%s::text[], %s::bytea[]) AS u(k, v) ORDER BY k "
                "ON CONFLICT (model, key) DO NOTHING",
                (model, [k for k, _ in items], [v for _, v in items]),
            )

    def close(self) -> None:
        self._pg.close()


def embedding_cache(place: Place, data_dir: Path) -> EmbeddingCache:
    """The cache for an index: in its database on the PostgreSQL engine, else the data dir's file."""
    if place.database_url:
        return DatabaseEmbeddingCache(place.database())
    return EmbeddingCache.in_data_dir(data_dir)
