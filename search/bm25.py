"""One immutable BM25 segment: term -> (chunk, term frequency) postings, saved as numpy arrays.

Segments are built from analysed chunks, never changed afterwards except for their deletion
marks (tombstones), and merged into bigger ones (dropping deleted chunks), the way Lucene and
tantivy grow an index. Scores use collection statistics (document count, document frequency,
average length) summed over all segments, so a chunk scores the same in any segment; the
formula is bm25s's default (Lucene's): idf = ln(1 + (N - df + 0.5) / (df + 0.5)) and
tf / (tf + k1 (1 - b + b dl / avgdl)).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

K1, B = 1.2, 0.75


@dataclass
class Segment:
    chunk_ids: np.ndarray  # int64, ascending; position = local document number
    lengths: np.ndarray  # int32 terms per chunk
    terms: list[str]
    indptr: np.ndarray  # int64, postings of term t are [indptr[t], indptr[t + 1])
    docs: np.ndarray  # int32 local document numbers
    tfs: np.ndarray  # float32 term frequencies
    deleted: np.ndarray  # bool per local document

    def __post_init__(self) -> None:
        self.vocab = {t: i for i, t in enumerate(self.terms)}
        self._cached: tuple[int, int] | None = None
        self._norms: tuple[float, np.ndarray] | None = None  # (avgdl, length normalisation per document)

    @classmethod
    def build(cls, chunk_ids: Sequence[int], token_lists: Sequence[Sequence[str]]) -> Segment:
        ids = np.asarray(chunk_ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        vocab: dict[str, int] = {}
        lists = [token_lists[i] for i in order]
        flat = [vocab.setdefault(t, len(vocab)) for tokens in lists for t in tokens]
        lengths = np.asarray([len(tokens) for tokens in lists], dtype=np.int32)
        doc_of = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
        return cls._from_pairs(ids[order], lengths, list(vocab), np.asarray(flat, dtype=np.int64), doc_of)

    @classmethod
    def _from_pairs(
        cls, ids: np.ndarray, lengths: np.ndarray, terms: list[str], term_of: np.ndarray, doc_of: np.ndarray
    ) -> Segment:
        """From one (term, document) pair per token (or per posting, with counts) to postings."""
        n = max(len(ids), 1)
        keys, counts = np.unique(term_of * n + doc_of, return_counts=True)
        return cls._from_postings(ids, lengths, terms, keys // n, keys % n, counts.astype(np.float32))

    @classmethod
    def _from_postings(
        cls,
        ids: np.ndarray,
        lengths: np.ndarray,
        terms: list[str],
        t: np.ndarray,
        d: np.ndarray,
        tf: np.ndarray,
    ) -> Segment:
        """Postings sorted by (term, document)."""
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(t, minlength=len(terms)), out=indptr[1:])
        return cls(ids, lengths, terms, indptr, d.astype(np.int32), tf, np.zeros(len(ids), dtype=bool))

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def live(self) -> int:
        return self._stats()[0]

    def live_length(self) -> int:
        return self._stats()[1]

    def _stats(self) -> tuple[int, int]:
        """(live chunks, their total length), cached until the next deletion."""
        if self._cached is None:
            keep = ~self.deleted
            self._cached = (int(keep.sum()), int(np.asarray(self.lengths)[keep].sum()))
        return self._cached

    def dfs(self, terms: Sequence[str]) -> np.ndarray:
        """Chunks holding each term (postings, deleted ones included), 0 where the segment lacks it."""
        t = np.fromiter(map(self.vocab.get, terms, repeat(-1)), dtype=np.int64, count=len(terms))
        known = t >= 0
        out = np.zeros(len(terms), dtype=np.int64)
        out[known] = self.indptr[t[known] + 1] - self.indptr[t[known]]
        return out

    def length_norms(self, avgdl: float) -> np.ndarray:
        """K1 (1 - B + B dl / avgdl) of every local document, the very expression (and dtype,
        float64) ``contributions`` computes per posting; kept until avgdl changes."""
        if self._norms is None or self._norms[0] != avgdl:
            self._norms = (avgdl, K1 * (1 - B + B * self.lengths / np.float32(avgdl)))
        return self._norms[1]

    def delete(self, chunk_ids: np.ndarray) -> None:
        if not len(self.chunk_ids) or not len(chunk_ids):
            return
        pos = np.searchsorted(self.chunk_ids, chunk_ids)
        pos = pos[pos < len(self.chunk_ids)]
        hit = pos[np.isin(self.chunk_ids[pos], chunk_ids)]
        if len(hit):
            self.deleted[hit] = True
            self._cached = None

    def contributions(
        self, term: str, weight: float, avgdl: float, at: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(local documents holding the term, the term's BM25 part of their score); only at the
        sorted local documents `at` when given (postings are sorted by document)."""
        t = self.vocab.get(term)
        if t is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        d, tf = self.docs[self.indptr[t] : self.indptr[t + 1]], self.tfs[self.indptr[t] : self.indptr[t + 1]]
        if at is not None:
            pos = np.minimum(np.searchsorted(d, at), len(d) - 1)
            found = d[pos] == at
            d, tf = at[found], tf[pos[found]]
        norm = K1 * (1 - B + B * self.lengths[d] / np.float32(avgdl))
        return d, np.float32(weight) * tf / (tf + norm)

    def scores(self, weights: dict[str, float], avgdl: float) -> tuple[np.ndarray, np.ndarray]:
        """(local documents matching a term, their BM25 scores); weights = idf per query term,
        repeated terms counted once per repetition (as bm25s does). All postings in one pass."""
        found = [(self.vocab[t], w) for t, w in weights.items() if t in self.vocab]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        spans = [(int(self.indptr[t]), int(self.indptr[t + 1])) for t, _ in found]
        d = np.concatenate([self.docs[lo:hi] for lo, hi in spans], dtype=np.intp)  # the index type: cast once
        tf = np.concatenate([self.tfs[lo:hi] for lo, hi in spans])
        w = np.repeat(np.asarray([w for _, w in found], dtype=np.float32), [hi - lo for lo, hi in spans])
        # w tf / (tf + norm), as in ``contributions`` (float32 numerator, float64 quotient), computed
        # in place over the (millions of) postings of a long query, the norms looked up per document
        denominator = self.length_norms(avgdl)[d]
        denominator += tf
        tf *= w
        part = np.divide(tf, denominator, out=denominator)
        total = np.bincount(d, weights=part, minlength=len(self.chunk_ids)).astype(np.float32)
        hits = np.flatnonzero(total)
        hits = hits[~self.deleted[hits]]
        return hits, total[hits]

    def allowed_scores(
        self, chunk_ids: np.ndarray, weights: dict[str, float], avgdl: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores of only these chunks (sorted chunk ids) that are in this segment."""
        pos = np.searchsorted(self.chunk_ids, chunk_ids)
        valid = pos < len(self.chunk_ids)
        pos, ids = pos[valid], chunk_ids[valid]
        local = pos[self.chunk_ids[pos] == ids]
        local = local[~self.deleted[local]]
        total = np.zeros(len(local), dtype=np.float32)
        for term, weight in weights.items():
            d, part = self.contributions(term, weight, avgdl, local)
            total[np.searchsorted(local, d)] += part
        keep = total > 0
        return local[keep], total[keep]

    def candidate_scores(
        self, rare: list[str], weights: dict[str, float], avgdl: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full scores of only the documents holding one of the `rare` terms."""
        parts = [self.contributions(t, weights[t], avgdl)[0] for t in rare]
        local = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        local = local[~self.deleted[local]]
        total = np.zeros(len(local), dtype=np.float32)
        if len(local):
            for term, weight in weights.items():
                d, part = self.contributions(term, weight, avgdl, local)
                total[np.searchsorted(local, d)] += part
        return local, total

    # -- disk ------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the immutable part to a new folder (deletion marks are saved by the index)."""
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        for name in ("chunk_ids", "lengths", "indptr", "docs", "tfs"):
            np.save(tmp / f"{name}.npy", getattr(self, name))
        (tmp / "terms.json").write_text(json.dumps(self.terms, ensure_ascii=False))
        os.replace(tmp, folder)

    @classmethod
    def load(cls, folder: Path, deleted: np.ndarray | None) -> Segment:
        arrays = {  # memory-mapped, viewed as plain arrays (memmap slicing costs ~20 us a call)
            n: np.load(folder / f"{n}.npy", mmap_mode="r").view(np.ndarray)
            for n in ("chunk_ids", "lengths", "indptr", "docs", "tfs")
        }
        terms = json.loads((folder / "terms.json").read_text())
        mask = (
            np.array(deleted, dtype=bool)
            if deleted is not None
            else np.zeros(len(arrays["chunk_ids"]), dtype=bool)
        )
        return cls(deleted=mask, terms=terms, **arrays)


def merge(segments: Sequence[Segment]) -> Segment:
    """One segment holding the live chunks of these segments."""
    vocab: dict[str, int] = {}
    ids, lengths, t_parts, d_parts, tf_parts = [], [], [], [], []
    offset = 0
    for seg in segments:
        keep = ~seg.deleted
        renumber = np.cumsum(keep) - 1 + offset
        remap = np.asarray([vocab.setdefault(t, len(vocab)) for t in seg.terms], dtype=np.int64)
        term_of = np.repeat(remap, np.diff(seg.indptr))
        live = keep[seg.docs]
        t_parts.append(term_of[live])
        d_parts.append(renumber[seg.docs[live]])
        tf_parts.append(np.asarray(seg.tfs)[live])
        ids.append(np.asarray(seg.chunk_ids)[keep])
        lengths.append(np.asarray(seg.lengths)[keep])
        offset += int(keep.sum())
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    order = np.argsort(all_ids, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    t = np.concatenate(t_parts) if t_parts else np.zeros(0, dtype=np.int64)
    d = rank[np.concatenate(d_parts)] if d_parts else np.zeros(0, dtype=np.int64)
    tf = np.concatenate(tf_parts) if tf_parts else np.zeros(0, dtype=np.float32)
    by = np.lexsort((d, t))
    lens = np.concatenate(lengths)[order] if lengths else np.zeros(0, dtype=np.int32)
    return Segment._from_postings(all_ids[order], lens, list(vocab), t[by], d[by], tf[by])
