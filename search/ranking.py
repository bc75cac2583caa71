"""Turning scored chunks into ranked documents: fusion, grouping, snippets."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from search.lexical import STOPWORDS, dutch_stemmer

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Fuse ranked (id, score) lists by reciprocal rank; ties broken by id for stable output."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (item, _) in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank + 1)
    return sorted(fused.items(), key=lambda p: (-p[1], p[0]))


def group_by_document(
    scored: Iterable[tuple[int, float]], doc_of: dict[int, str]
) -> list[tuple[str, float, list[tuple[int, float]]]]:
    """(doc id, doc score, its chunks best first): a document scores as its best chunk."""
    groups: dict[str, list[tuple[int, float]]] = {}
    for chunk_id, score in scored:
        doc_id = doc_of.get(chunk_id)
        if doc_id is not None:
            groups.setdefault(doc_id, []).append((chunk_id, score))
    ranked = []
    for doc_id, chunks in groups.items():
        chunks.sort(key=lambda p: (-p[1], p[0]))
        ranked.append((doc_id, chunks[0][1], chunks))
    ranked.sort(key=lambda g: (-g[1], g[0]))
    return ranked


_WORD = re.compile(r"\w+", re.UNICODE)


def query_stems(query: str) -> set[str]:
    words = [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS and len(w) > 1]
    return set(dutch_stemmer().stemWords(words))


def snippet(text: str, stems: set[str], width: int = 320) -> str:
    """An HTML-escaped window of text around the densest run of query terms, terms in <mark>."""
    words = list(_WORD.finditer(text))
    stemmed = dutch_stemmer().stemWords([w.group().lower() for w in words]) if words else []
    hits = [w for w, s in zip(words, stemmed, strict=True) if s in stems]
    start = 0
    if hits and len(text) > width:
        best = hits[_densest_window([h.start() for h in hits], width)]
        start = max(0, best.start() - width // 5)
        start = text.rfind(" ", 0, start) + 1 if start else 0
    end = min(len(text), start + width)
    if end < len(text):
        end = max(text.rfind(" ", start, end), start + width // 2)
    marked = {h.start(): h.end() for h in hits}
    out, pos = [], start
    for w in words:
        if w.start() < start or w.end() > end:
            continue
        if w.start() in marked:
            out.append(html.escape(text[pos : w.start()]))
            out.append(f"<mark>{html.escape(w.group())}</mark>")
            pos = w.end()
    out.append(html.escape(text[pos:end]))
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    return prefix + "".join(out).strip() + suffix


def _densest_window(positions: list[int], width: int) -> int:
    """Index of the sorted position that starts the window of `width` holding the most positions."""
    best, best_count, end = 0, 0, 0
    for i, start in enumerate(positions):
        end = max(end, i)
        while end < len(positions) and positions[end] - start < width:
            end += 1
        if end - i > best_count:
            best, best_count = i, end - i
    return best
