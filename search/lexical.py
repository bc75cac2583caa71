"""Dutch BM25 over chunks that grows: immutable segments, deletion marks, threshold merges.

Analysis: lower case, Dutch stop words out, Snowball Dutch stemmer. New chunks wait in memory
(``pending``) until ``save`` writes them as a new segment; deletions mark chunks in their
segment; when there are more than ``MAX_SEGMENTS`` segments the small ones are merged in tiers
(``_merge``: a flush never merges a first load's big segments). The
saved state records the catalog's change-log position it holds (``seq``); the index replays
the rest of the log on open, so a crash between the catalog commit and a save loses nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH

from search.bm25 import Segment, merge

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_WORD = re.compile(TOKEN_PATTERN)
# Bump when analysis or the indexed text changes: saved indexes of another recipe are rebuilt.
RECIPE = "snowball-dutch+stop+title-label-v3-segments"
STOPWORDS = frozenset(STOPWORDS_DUTCH) | {"wel", "kan", "moet", "mag", "gaat", "hoe", "wat", "welke"}
MAX_SEGMENTS = 16
SEAL_AT = 100_000
SMALL_SEGMENT = SEAL_AT // 10  # below this a segment is merged at the next flush past MAX_SEGMENTS
TIER = 10  # this many middle-sized segments (SMALL_SEGMENT..SEAL_AT) are merged into one
PRUNE_TERMS = 16  # longer queries (a document as query) are scored exhaustively
RARE_SHARE = 0.02  # terms in at most this share of chunks are scored first (see search)  # pending chunks that become an (unsaved) segment
EMPTY = "∅"  # the one term of a chunk without any other (keeps document lengths positive)


@cache
def dutch_stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("dutch")


def analyse(text: str) -> list[str]:
    """Lower-case, drop stop words, stem: the terms BM25 matches on."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return list(dutch_stemmer().stemWords(words))


class LexicalIndex:
    """BM25 over chunk texts, addressed by chunk id."""

    def __init__(self, segments: list[Segment] | None = None, names: list[str | None] | None = None) -> None:
        self.segments = segments or []
        self.names: list[str | None] = names or [None] * len(self.segments)  # None: not saved yet
        self.pending: dict[int, list[str]] = {}
        self._pending_segment: Segment | None = None

    @classmethod
    def build(cls, chunk_ids: Sequence[int], texts: Sequence[str]) -> LexicalIndex:
        index = cls()
        index.add(chunk_ids, texts)
        return index

    @property
    def chunk_ids(self) -> np.ndarray:
        """Every live chunk id (for consistency checks)."""
        parts = [np.asarray(s.chunk_ids)[~s.deleted] for s in self.segments]
        parts.append(np.asarray(sorted(self.pending), dtype=np.int64))
        return np.sort(np.concatenate(parts))

    def add(self, chunk_ids: Sequence[int], texts: Sequence[str]) -> None:
        """Index chunks (a chunk id already present is replaced)."""
        self.remove(np.asarray(chunk_ids, dtype=np.int64))
        for cid, text in zip(chunk_ids, texts, strict=True):
            self.pending[int(cid)] = analyse(text) or [EMPTY]
        self._pending_segment = None
        if len(self.pending) >= SEAL_AT:
            self.seal()

    def remove(self, chunk_ids: np.ndarray) -> None:
        ids = np.unique(np.asarray(chunk_ids, dtype=np.int64))
        for segment in self.segments:
            segment.delete(ids)
        for cid in ids.tolist():
            if self.pending.pop(cid, None) is not None:
                self._pending_segment = None

    def seal(self) -> None:
        """Turn the pending chunks into an (unsaved) segment."""
        if self.pending:
            self.segments.append(self._all_segments()[-1])
            self.names.append(None)
            self.pending, self._pending_segment = {}, None

    def _all_segments(self) -> list[Segment]:
        if self.pending and self._pending_segment is None:
            ids = list(self.pending)
            self._pending_segment = Segment.build(ids, [self.pending[c] for c in ids])
        return self.segments + ([self._pending_segment] if self.pending and self._pending_segment else [])

    def term_frequencies(self, words: Sequence[str]) -> tuple[int, dict[str, tuple[str, int]]]:
        """(live chunks, {word: (its term, chunks holding the term)}) for the words that are
        indexed terms (stop words and unseen terms left out); a word is analysed as in ``analyse``."""
        segments = self._all_segments()
        wanted = [w for w in dict.fromkeys(w.lower() for w in words) if w not in STOPWORDS]
        terms = dutch_stemmer().stemWords(wanted)
        frequencies = _document_frequencies(segments, terms)
        found = {w: (t, f) for w, t, f in zip(wanted, terms, frequencies, strict=True) if f}
        return sum(s.live() for s in segments), found

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Best chunks for the query; `allowed` is a bool mask by chunk id (None: all).

        Exact top-k with pruning (MaxScore): the chunks holding a rare term are scored in full;
        a chunk holding only common terms scores below the sum of their idfs, so when the k-th
        candidate scores at least that, no other chunk can enter the top-k."""
        terms = analyse(query)
        segments = self._all_segments()
        n = sum(s.live() for s in segments)
        if not terms or k <= 0 or n == 0:
            return []
        avgdl = sum(s.live_length() for s in segments) / n
        weights: dict[str, float] = {}
        unique = list(dict.fromkeys(terms))
        df = dict(zip(unique, _document_frequencies(segments, unique), strict=True))
        for term in terms:
            if df[term]:
                weights[term] = weights.get(term, 0.0) + float(
                    np.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                )
        if allowed is not None and np.count_nonzero(allowed) <= RARE_SHARE * n:
            inside = np.flatnonzero(allowed)  # a selective filter: score only the allowed chunks
            return _top(
                *self._collect(segments, allowed, lambda s: s.allowed_scores(inside, weights, avgdl)), k
            )
        rare = [t for t in weights if df[t] <= RARE_SHARE * n] if len(weights) <= PRUNE_TERMS else []
        bound = sum(w for t, w in weights.items() if t not in rare)
        if rare:
            hits = self._collect(segments, allowed, lambda s: s.candidate_scores(rare, weights, avgdl))
            if bound == 0 or (len(hits[0]) >= k and np.partition(-hits[1], k - 1)[k - 1] <= -bound):
                return _top(*hits, k)
        return _top(*self._collect(segments, allowed, lambda s: s.scores(weights, avgdl)), k)

    @staticmethod
    def _collect(
        segments: list[Segment],
        allowed: np.ndarray | None,
        score: Callable[[Segment], tuple[np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, scores) over every segment, only allowed chunks."""
        ids, scores = [], []
        for segment in segments:
            hits, s = score(segment)
            found = np.asarray(segment.chunk_ids)[hits]
            if allowed is not None:
                if found.max(initial=-1) < len(allowed):  # the usual case: every id inside the mask
                    keep = allowed[found]
                else:
                    inside = found < len(allowed)
                    keep = np.zeros(len(found), dtype=bool)
                    keep[inside] = allowed[found[inside]]
                found, s = found[keep], s[keep]
            ids.append(found)
            scores.append(s)
        return np.concatenate(ids), np.concatenate(scores)

    # -- disk ------------------------------------------------------------------------------

    def save(self, folder: Path, seq: int) -> None:
        """Write pending chunks as a segment, merge if there are many, record deletions and seq."""
        folder.mkdir(parents=True, exist_ok=True)
        self.seal()
        if len(self.segments) > MAX_SEGMENTS:
            self._merge()
        for i, segment in enumerate(self.segments):
            if self.names[i] is None:
                self.names[i] = f"seg-{seq}-{os.getpid()}-{i}"
                segment.save(folder / str(self.names[i]))
        deleted: dict[str, np.ndarray] = {
            str(name): s.deleted for name, s in zip(self.names, self.segments, strict=True) if s.deleted.any()
        }
        np.savez(folder / f"deleted-{seq}.npz", **deleted)  # type: ignore[arg-type]
        manifest = {"recipe": RECIPE, "seq": seq, "segments": self.names, "deleted": f"deleted-{seq}.npz"}
        tmp = folder / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, folder / "manifest.json")
        _remove_unlisted(folder, {*map(str, self.names), f"deleted-{seq}.npz"})

    def _merge(self) -> None:
        """Tiered merges, so a flush costs about what was written at any index size: the small
        segments (under ``SMALL_SEGMENT`` chunks) are merged while together they stay under it;
        when fewer than two are small, ``TIER`` middle-sized ones (under ``SEAL_AT``) are merged
        into one, a cost of about ``SEAL_AT`` chunks once per ``SEAL_AT`` chunks written. Segments
        of ``SEAL_AT`` or more (a first load's) are never merged in a flush: with 24 of them at 3M
        passages, every flush merged one with the new chunks and one document cost 1.1 s."""
        sizes = [len(s) for s in self.segments]
        small = sorted((i for i, n in enumerate(sizes) if n < SMALL_SEGMENT), key=lambda i: (sizes[i], i))
        chosen: list[int] = []
        for i in small:
            if sum(sizes[j] for j in chosen) + sizes[i] > SMALL_SEGMENT:
                break
            chosen.append(i)
        if len(chosen) < 2:
            middle = [i for i, n in enumerate(sizes) if SMALL_SEGMENT <= n < SEAL_AT]
            chosen = sorted(middle, key=lambda i: (sizes[i], i))[:TIER] if len(middle) >= TIER else []
        if len(chosen) < 2:
            return
        merged = merge([self.segments[i] for i in sorted(chosen)])
        keep = [i for i in range(len(self.segments)) if i not in chosen]
        self.segments = [self.segments[i] for i in keep] + [merged]
        self.names = [self.names[i] for i in keep] + [None]

    @staticmethod
    def saved_seq(folder: Path) -> int | None:
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        return int(manifest["seq"]) if manifest.get("recipe") == RECIPE else None

    @classmethod
    def load(cls, folder: Path) -> tuple[LexicalIndex, int] | None:
        """The saved index and the log position it holds, or None when there is none."""
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            if manifest.get("recipe") != RECIPE:
                return None
            deleted = np.load(folder / manifest["deleted"])
            names: list[str | None] = list(manifest["segments"])
            segments = [
                Segment.load(folder / str(n), deleted[n] if n in deleted.files else None) for n in names
            ]
            return cls(segments, names), int(manifest["seq"])
        except (OSError, ValueError, KeyError):
            return None


def _document_frequencies(segments: Sequence[Segment], terms: Sequence[str]) -> list[int]:
    """Chunks holding each term, over every segment (an array lookup per segment, not per term)."""
    total = np.zeros(len(terms), dtype=np.int64)
    for segment in segments:
        total += segment.dfs(terms)
    return [int(f) for f in total]


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (id, score), ties broken by chunk id."""
    if len(ids) > k:
        threshold = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th best score
        chosen = np.flatnonzero(scores >= threshold)
        ids, scores = ids[chosen], scores[chosen]
    order = np.lexsort((ids, -scores))[:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def _remove_unlisted(folder: Path, listed: set[str]) -> None:
    for path in folder.iterdir():
        if path.name not in listed and not path.name.startswith("manifest"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
