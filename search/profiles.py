"""Document profiles for find-similar: one vector per document, with the shared part removed.

A profile is the mean of a document's first passages (title, introduction, plan area, policy
frame: what kind of document it is). Municipal documents share much boilerplate (the VNG model
text, the standard sections of every toelichting), so every profile also leans towards the
corpus mean; subtracting that mean before comparing leaves what is distinctive. Profiles are
derived from the catalog and rebuilt when its revision changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from search.embedders import normalise
from search.store import FaissStore

LEADING_CHUNKS = 8


@dataclass(frozen=True)
class Profiles:
    doc_ids: list[str]
    mean: np.ndarray  # corpus mean of the raw profiles
    store: FaissStore  # centred, normalised profiles; id = row number

    @classmethod
    def build(cls, doc_ids: list[str], vectors: np.ndarray, first_n: int = LEADING_CHUNKS) -> Profiles:
        """From per-chunk rows (doc id per row, in document order) to one centred profile per document."""
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        names, raw = _means(doc_ids, vectors)
        mean = raw.mean(axis=0) if len(raw) else np.zeros(dim, dtype=np.float32)
        store = FaissStore(dim)
        if len(raw):
            store.add(np.arange(len(names), dtype=np.int64), normalise(raw - mean))
        return cls(names, mean.astype(np.float32), store)

    def profile(self, vectors: np.ndarray) -> np.ndarray:
        """The centred profile of a query document from its first chunk vectors."""
        raw = normalise(np.asarray(vectors, dtype=np.float32).mean(axis=0))[0]
        return normalise(raw - self.mean)[0]

    def vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        position = {d: i for i, d in enumerate(self.doc_ids)}
        return self.store.vectors(np.asarray([position[d] for d in doc_ids], dtype=np.int64))

    def search(self, profile: np.ndarray, k: int, allowed: Iterable[str] | None) -> list[tuple[str, float]]:
        positions = None
        if allowed is not None:
            wanted = set(allowed)
            positions = np.asarray([i for i, d in enumerate(self.doc_ids) if d in wanted], dtype=np.int64)
        hits = self.store.search(profile, k, positions)
        return [(self.doc_ids[i], score) for i, score in hits]


def _means(doc_ids: list[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    rows: list[np.ndarray] = []
    start = 0
    for i in range(1, len(doc_ids) + 1):
        if i == len(doc_ids) or doc_ids[i] != doc_ids[start]:
            names.append(doc_ids[start])
            rows.append(normalise(vectors[start:i].mean(axis=0))[0])
            start = i
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    return names, np.vstack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
