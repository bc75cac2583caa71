"""Document profiles for find-similar: one vector per document, with the shared part removed.

A profile is the mean of a document's first passages (title, introduction, plan area, policy
frame: what kind of document it is). Municipal documents share much boilerplate (the VNG model
text, the standard sections of every toelichting), so every profile also leans towards the
mean of its kind; subtracting the mean of its document type (regulations, plans, minutes and
FAQ answers are unlike things; a type with fewer than ``MIN_TYPE_DOCUMENTS``, and documents
of no known type, use the mean of all documents) leaves what is distinctive. Profiles are kept
per document and updated when a document changes; the means are running sums, so no write
rebuilds them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from search.embedders import normalise

LEADING_CHUNKS = 8
MIN_TYPE_DOCUMENTS = 20


def centring_means(
    types: Sequence[str], counts: np.ndarray, sums: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(the mean of all documents, the centring mean of each type), from each type's number of
    documents and sum of raw profiles: a type's own mean where it has at least
    ``MIN_TYPE_DOCUMENTS``, the mean of all for a rarer type and for no type known ("")."""
    overall = sums.sum(axis=0) / max(int(counts.sum()), 1)
    means = np.tile(overall, (max(len(counts), 1), 1))
    common = (counts >= MIN_TYPE_DOCUMENTS) & np.asarray([t != "" for t in types], dtype=bool)
    means[: len(counts)][common] = sums[common] / counts[common][:, None]
    return overall.astype(np.float32), means.astype(np.float32)


class Profiles:
    """Raw (uncentred) profiles by document, with running sums per document type."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.row: dict[str, int] = {}
        self.doc_ids: list[str] = []
        self.raw = np.zeros((0, dim), dtype=np.float32)
        self.kind = np.zeros(0, dtype=np.int32)  # type number per row; -1: removed
        self.types: dict[str, int] = {}
        self.sums = np.zeros((0, dim), dtype=np.float64)
        self.counts = np.zeros(0, dtype=np.int64)
        self._centred: tuple[np.ndarray, np.ndarray] | None = None  # (means per row, norms)
        self._names: np.ndarray | None = None
        self._changes = 0  # puts and removes so far: rows derived from a document set stay valid until one
        self._kept_rows: tuple[frozenset[str], int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.row)

    def put(self, doc_id: str, doc_type: str, vectors: np.ndarray) -> None:
        """Add or replace a document's profile from its first chunk vectors."""
        self.remove(doc_id)
        if not len(vectors):
            return
        raw = normalise(np.asarray(vectors, dtype=np.float32)[:LEADING_CHUNKS].mean(axis=0))[0]
        t = self.types.setdefault(doc_type, len(self.types))
        if t >= len(self.counts):
            self.sums = np.vstack([self.sums, np.zeros((1, self.dim))])
            self.counts = np.append(self.counts, 0)
        if len(self.doc_ids) == len(self.raw):
            grown = max(1024, 2 * len(self.raw))
            self.raw = np.vstack([self.raw, np.zeros((grown - len(self.raw), self.dim), dtype=np.float32)])
            self.kind = np.append(self.kind, np.full(grown - len(self.kind), -1, dtype=np.int32))
        r = len(self.doc_ids)
        self.doc_ids.append(doc_id)
        self.row[doc_id] = r
        self.raw[r], self.kind[r] = raw, t
        self.sums[t] += raw
        self.counts[t] += 1
        self._centred = None
        self._changes += 1

    def remove(self, doc_id: str) -> None:
        r = self.row.pop(doc_id, None)
        if r is not None:
            t = self.kind[r]
            self.sums[t] -= self.raw[r]
            self.counts[t] -= 1
            self.kind[r] = -1
            self._centred = None
            self._changes += 1

    def _means(self) -> np.ndarray:
        """Centring mean per type (the mean of all documents for rare types)."""
        names = [""] * len(self.counts)
        for name, t in self.types.items():
            names[t] = name
        return centring_means(names, self.counts, self.sums)[1]

    def _row_norms(self) -> tuple[np.ndarray, np.ndarray]:
        """(centring mean per type, norm of each row's centred profile), cached until a change;
        |raw - m|^2 = |raw|^2 - 2 raw.m + |m|^2 with |raw| = 1."""
        if self._centred is None:
            n = len(self.doc_ids)
            means = self._means()
            kind = np.maximum(self.kind[:n], 0)
            dots = (self.raw[:n] @ means.T)[np.arange(n), kind] if n else np.zeros(0, dtype=np.float32)
            squared = 1.0 - 2.0 * dots + (means * means).sum(axis=1)[kind]
            self._centred = (means, np.sqrt(np.maximum(squared, 1e-12)).astype(np.float32))
        return self._centred

    def _name_rank(self) -> np.ndarray:
        """Each row's position in document-id order (cached until a change)."""
        if self._names is None or len(self._names) != len(self.doc_ids):
            self._names = np.empty(len(self.doc_ids), dtype=np.int64)
            self._names[np.argsort(np.asarray(self.doc_ids))] = np.arange(len(self.doc_ids))
        return self._names

    def profile(self, vectors: np.ndarray, doc_type: str = "") -> np.ndarray:
        """The centred profile of a query document from its first chunk vectors."""
        raw = normalise(np.asarray(vectors, dtype=np.float32)[:LEADING_CHUNKS].mean(axis=0))[0]
        means = self._means()
        t = self.types.get(doc_type)
        mean = means[t] if t is not None else self.sums.sum(axis=0) / max(int(self.counts.sum()), 1)
        return normalise(raw - mean.astype(np.float32))[0]

    def vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        means, norms = self._row_norms()
        rows = np.asarray([self.row[d] for d in doc_ids], dtype=np.int64)
        return (self.raw[rows] - means[np.maximum(self.kind[rows], 0)]) / norms[rows, None]

    def _rows_of(self, doc_ids: AbstractSet[str]) -> np.ndarray:
        """The rows of those of these documents that have a profile."""
        rows = (self.row.get(d, -1) for d in doc_ids)
        return np.fromiter((r for r in rows if r >= 0), dtype=np.int64)

    def _rows_of_kept(self, doc_ids: frozenset[str]) -> np.ndarray:
        """``_rows_of`` for a set that is one object for many searches (the superseded versions of a
        catalog revision: thousands of documents), kept until that set or a profile changes."""
        kept = self._kept_rows
        if kept is None or kept[0] is not doc_ids or kept[1] != self._changes:
            kept = self._kept_rows = (doc_ids, self._changes, self._rows_of(doc_ids))
        return kept[2]

    def search(
        self, profile: np.ndarray, k: int, admitted: set[str] | None, removed: set[str],
        superseded: frozenset[str] = frozenset(),
    ) -> list[tuple[str, float]]:  # fmt: skip
        """The k documents with the nearest centred profiles among the allowed ones (not in
        ``removed``, nor in ``superseded``)."""
        n = len(self.doc_ids)
        allowed = self.kind[:n] >= 0
        if admitted is not None:
            keep = np.zeros(n, dtype=bool)
            keep[self._rows_of(admitted)] = True
            allowed &= keep
        allowed[self._rows_of(removed)] = False
        if superseded:
            allowed[self._rows_of_kept(superseded)] = False
        rows = np.flatnonzero(allowed)
        if not len(rows) or k <= 0:
            return []
        means, norms = self._row_norms()
        q = np.asarray(profile, dtype=np.float32)
        # one product over all rows, then the allowed ones: no copy of those rows (90 MB at 45k documents)
        dots = (self.raw[:n] @ q)[rows]
        scores = (dots - (means @ q)[np.maximum(self.kind[rows], 0)]) / norms[rows]
        top = np.argpartition(-scores, min(k, len(rows)) - 1)[:k] if len(rows) > k else np.arange(len(rows))
        top = top[np.lexsort((self._name_rank()[rows[top]], -scores[top]))]  # ties by document id
        return [(self.doc_ids[r], s) for r, s in zip(rows[top].tolist(), scores[top].tolist(), strict=True)]
