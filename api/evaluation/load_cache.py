"""The load bench's hold on the embedding cache: forget vectors so that a job embeds for real, and put
them back after it. Only ever the bench's own index folder (``--data-dir`` or a temporary one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest.embedding import CACHE_FILE, EmbeddingCache


def _cache(data_dir: Path) -> sqlite3.Connection:
    EmbeddingCache.in_data_dir(data_dir).close()  # its table exists
    return sqlite3.connect(data_dir / CACHE_FILE, timeout=30)


def forget_vectors(data_dir: Path, count: int | None = None) -> list[tuple[str, str, bytes]]:
    """Forget ``count`` random cached passage vectors (None: all), so the next job embeds for real;
    returns the forgotten rows (model, key, vector)."""
    db = _cache(data_dir)
    try:
        picked = "SELECT rowid FROM vectors ORDER BY random()" + (" LIMIT ?" if count is not None else "")
        args = (count,) if count is not None else ()
        rows = db.execute(
            f"SELECT model, key, vector FROM vectors WHERE rowid IN ({picked})", args
        ).fetchall()
        db.executemany("DELETE FROM vectors WHERE model = ? AND key = ?", [(m, k) for m, k, _ in rows])
        db.commit()
        return rows
    finally:
        db.close()


def restore_vectors(data_dir: Path, rows: list[tuple[str, str, bytes]]) -> None:
    """Put forgotten vectors back (the ingest phase forgets them all, the reindex phase only some)."""
    db = _cache(data_dir)
    try:
        db.executemany("INSERT OR IGNORE INTO vectors(model, key, vector) VALUES (?, ?, ?)", rows)
        db.commit()
    finally:
        db.close()
