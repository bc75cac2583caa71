"""Passage embedding with a persistent cache, so re-indexing unchanged text costs nothing."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from search.embedders import Embedder
from search.types import Chunk, Document


def passage_text(document: Document, chunk: Chunk) -> str:
    """What gets embedded for a chunk: the document title and section label give context."""
    return chunk.embedded_text(document.title)


CACHE_FILE = "embedding-cache.sqlite"


class EmbeddingCache:
    """Vectors by (model, sha1 of text) in SQLite; safe to share between runs."""

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> EmbeddingCache:
        """The one cache of a data directory, shared by every generation and job."""
        return cls(data_dir / CACHE_FILE)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vector BLOB, PRIMARY KEY (model, key))"
        )
        self._lock = threading.Lock()

    def get(self, model: str, keys: Sequence[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})",
                    [model, *part],
                )
                out.update({k: v for k, v in rows})
        return out

    def put(self, model: str, items: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors(model, key, vector) VALUES (?,?,?)",
                [(model, k, v) for k, v in items],
            )

    def close(self) -> None:
        self._db.close()


def embed_passages(
    embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None = None
) -> np.ndarray:
    """Vectors for texts, reusing cached ones; only the missing texts reach the model."""
    if cache is None:
        return embedder.embed_passages(list(texts))
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    found = cache.get(embedder.model_id, keys)
    missing = sorted({i for i, k in enumerate(keys) if k not in found}, key=lambda i: keys[i])
    unique: dict[str, int] = {}
    for i in missing:
        unique.setdefault(keys[i], i)
    if unique:
        fresh = embedder.embed_passages([texts[i] for i in unique.values()])
        new = [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(unique, fresh, strict=True)]
        cache.put(embedder.model_id, new)
        found.update(new)
    out = np.frombuffer(b"".join(found[k] for k in keys), dtype=np.float32)
    return out.reshape(len(texts), embedder.dim).copy()
