"""Vector stores: one small protocol, FAISS as the embedded default.

A server-backed engine (pgvector, ...) implements the same protocol and is registered in
``STORES``; the contract tests in ``tests/test_store.py`` run against every entry.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np


class VectorStore(Protocol):
    """Chunk vectors by integer chunk id; inner product on normalised vectors."""

    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def delete(self, ids: np.ndarray) -> None: ...

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]: ...

    def vectors(self, ids: np.ndarray) -> np.ndarray: ...

    def count(self) -> int: ...

    def save(self, path: Path) -> None: ...


class FaissStore:
    """Exact inner-product search (IndexFlatIP behind an id map), filtered by an id selector."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def load(cls, path: Path, dim: int) -> FaissStore:
        store = cls(dim)
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path} holds {index.d}-dimensional vectors, expected {dim}")
        store._index = index  # type: ignore[assignment]
        return store

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        self._index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))

    def delete(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        total = self._index.ntotal
        if total == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))  # type: ignore[call-arg]
        k = min(k, total if allowed is None else len(allowed))
        scores, ids = self._index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def count(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)


STORES: dict[str, Callable[[int], VectorStore]] = {"faiss": FaissStore}
