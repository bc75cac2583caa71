"""The dense search structure: exact below a size threshold, IVF with 8-bit codes above it.

Up to ``EXACT_LIMIT`` vectors a flat inner-product index answers exactly. Beyond it an
inverted-file index (k-means centroids trained on a sample, ``nprobe`` lists searched) holds
each vector as 384 one-byte codes plus its id: the full-precision vectors stay in the
catalog on disk. The IVF index is rebuilt (retrained) when the corpus has grown to
``RETRAIN_GROWTH`` times the size it was trained at. Appends and deletes are cheap
(``add_with_ids``; ``remove_ids`` through a hash-table direct map); the file is a checkpoint
written by the index's ``flush`` and caught up from the catalog's change log on open.
Filters arrive as a bitmap over chunk ids (FAISS ``IDSelectorBitmap``); when the
approximate search finds fewer than k allowed vectors while more exist (a selective filter),
every list is searched, so a filter never shrinks the top-k.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np

from search.filtering import Allowed

EXACT_LIMIT = 50_000
RETRAIN_GROWTH = 4
NPROBE = 32
TRAIN_PER_LIST = 30


def list_count(n: int) -> int:
    """IVF lists for n vectors: about 2 sqrt(n)."""
    return int(min(8192, max(64, 2 * np.sqrt(n))))


class VectorIndex:
    """Chunk vectors by chunk id, searched by inner product (vectors are normalised)."""

    def __init__(self, dim: int, index: faiss.Index | None = None, trained_n: int = 0) -> None:
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.trained_n = trained_n
        self.nprobe = NPROBE

    @property
    def approximate(self) -> bool:
        return isinstance(self.index, faiss.IndexIVF)

    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
            self.index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.approximate:
            present = np.asarray([i for i in ids.tolist() if self._has(i)], dtype=np.int64)
            if len(present):
                self.index.remove_ids(faiss.IDSelectorArray(len(present), faiss.swig_ptr(present)))
        else:
            self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def _has(self, chunk_id: int) -> bool:
        try:
            self.index.direct_map.get(chunk_id)  # type: ignore[attr-defined]
            return True
        except RuntimeError:
            return False

    def search(self, query: np.ndarray, k: int, allowed: Allowed | None = None) -> list[tuple[int, float]]:
        total = self.count()
        if total == 0 or k <= 0 or (allowed is not None and allowed.count == 0):
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        want = min(k, total if allowed is None else allowed.count)
        nlist = self.index.nlist if self.approximate else 1  # type: ignore[attr-defined]
        if allowed is not None and allowed.count * self.nprobe < 2 * want * nlist:
            return self._search(q, want, allowed, nlist)  # selective: the probed lists hold too few
        hits = self._search(q, want, allowed, self.nprobe)
        if self.approximate and len(hits) < want:
            hits = self._search(q, want, allowed, nlist)
        return hits

    def _search(self, q: np.ndarray, k: int, allowed: Allowed | None, nprobe: int) -> list[tuple[int, float]]:
        bitmap = allowed.packed() if allowed is not None else None
        selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)) if bitmap is not None else None
        if self.approximate:
            params: faiss.SearchParameters = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]
        else:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, ids = self.index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def needs_rebuild(self) -> bool:
        """Flat and past the exact limit, or IVF grown far beyond its training."""
        n = self.count()
        if self.approximate:
            return n > RETRAIN_GROWTH * self.trained_n
        return n > EXACT_LIMIT

    # -- building and checkpoints ------------------------------------------------------------

    @classmethod
    def build(
        cls, dim: int, count: int, sample: np.ndarray, batches: Iterator[tuple[np.ndarray, np.ndarray]]
    ) -> VectorIndex:
        """Exact or IVF by size; IVF centroids trained on `sample`, then every batch added."""
        if count <= EXACT_LIMIT or len(sample) < list_count(count):
            store = cls(dim)
        else:
            nlist = list_count(count)
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
            store = cls(dim, ivf, count)
        for ids, vectors in batches:
            store.add(ids, vectors)
        return store

    def save(self, folder: Path, seq: int) -> None:
        """Checkpoint: the index file, then the pointer to it with the log position it holds."""
        name = f"vectors-{seq}-{os.getpid()}.faiss"
        faiss.write_index(self.index, str(folder / name))
        meta = {"file": name, "seq": seq, "trained_n": self.trained_n, "dim": self.dim}
        tmp = folder / "vectors.json.tmp"
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, folder / "vectors.json")
        for old in folder.glob("vectors-*.faiss"):
            if old.name != name:
                old.unlink(missing_ok=True)

    @staticmethod
    def saved_seq(folder: Path) -> int | None:
        try:
            return int(json.loads((folder / "vectors.json").read_text())["seq"])
        except (OSError, ValueError, KeyError):
            return None

    @classmethod
    def load(cls, folder: Path, dim: int) -> tuple[VectorIndex, int] | None:
        try:
            meta = json.loads((folder / "vectors.json").read_text())
            index = faiss.read_index(str(folder / meta["file"]))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        if index.d != dim:
            return None
        return cls(dim, index, int(meta["trained_n"])), int(meta["seq"])

    def file_bytes(self, folder: Path) -> int:
        meta = json.loads((folder / "vectors.json").read_text())
        return (folder / meta["file"]).stat().st_size
