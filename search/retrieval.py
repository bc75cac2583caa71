"""Questions and documents in, ranked documents out (filters applied before ranking)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from search.errors import DocumentNotFound, InvalidInput
from search.index import Index
from search.ranking import group_by_document, query_stems, reciprocal_rank_fusion, snippet
from search.types import Filters, Hit, Result

MODES = ("hybrid", "dense", "lexical")
DEFAULT_MODE = "hybrid"
# Reciprocal rank fusion weights (dense, lexical), tuned on vac-questions dev (nDCG@10):
# equal weights 0.965, dense x2 0.969, dense x3 0.971; dense alone 0.960, BM25 alone 0.936.
QUESTION_WEIGHTS = (3.0, 1.0)
MAX_K = 100


@dataclass(frozen=True)
class QueryDocument:
    """A document used as a query: its text for BM25 and its chunk vectors for dense search."""

    text: str
    vectors: np.ndarray
    municipality_code: str = ""
    doc_id: str = ""


def search(
    index: Index,
    query: str,
    filters: Filters = Filters(),
    k: int = 10,
    mode: str = DEFAULT_MODE,
    passages: int = 3,
) -> list[Result]:
    """The k best documents for a question, one row per document, best passages under each."""
    query = query.strip()
    if not query:
        raise InvalidInput("empty query: type a question or some words")
    _check(k, mode)
    index.refresh()
    allowed = index.catalog.filtered_chunk_ids(filters)
    vector = index.embedder.embed_query(query) if mode != "lexical" else None
    depth = max(200, 20 * k)
    while True:
        rankings = []
        with index.lock:
            if vector is not None:
                rankings.append(index.store.search(vector, depth, allowed))
            if mode in ("lexical", "hybrid"):
                rankings.append(index.lexical.search(query, depth, allowed))
        fused = rankings[0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings, QUESTION_WEIGHTS)
        groups = _groups(index, fused)
        exhausted = all(len(r) < depth for r in rankings)
        if len(groups) >= k or exhausted or depth >= index.store.count():
            break
        depth *= 4
    return _results(index, groups[:k], query_stems(query), passages)


def similar(
    index: Index,
    query: QueryDocument,
    filters: Filters = Filters(),
    k: int = 10,
    mode: str = DEFAULT_MODE,
    passages: int = 2,
    query_chunks: int = 8,
    lexical_chars: int = 3000,
) -> list[Result]:
    """Documents like the query document, from other municipalities by default."""
    _check(k, mode)
    index.refresh()
    excluded = (query.municipality_code,) if query.municipality_code else ()
    filters = replace(
        filters,
        exclude_municipalities=(*filters.exclude_municipalities, *excluded),
        exclude_doc_ids=(*filters.exclude_doc_ids, *((query.doc_id,) if query.doc_id else ())),
    )
    allowed = index.catalog.filtered_chunk_ids(filters)
    doc_rankings: list[list[tuple[str, float]]] = []
    best_chunks: dict[str, list[tuple[int, float]]] = {}
    if mode in ("dense", "hybrid") and len(query.vectors):
        ranking, chunks = _dense_documents(index, query.vectors[:query_chunks], allowed)
        doc_rankings.append(ranking)
        best_chunks.update(chunks)
    if mode in ("lexical", "hybrid") and query.text.strip():
        with index.lock:
            lexical_hits = index.lexical.search(query.text[:lexical_chars], 1000, allowed)
        lexical_groups = _groups(index, lexical_hits)
        doc_rankings.append([(d, s) for d, s, _ in lexical_groups])
        for d, _, doc_chunks in lexical_groups:
            best_chunks.setdefault(d, doc_chunks)
    if not doc_rankings:
        return []
    ranked = _fuse_documents(doc_rankings)
    groups = [(d, s, best_chunks.get(d, [])) for d, s in ranked[:k]]
    stems = query_stems(query.text[:lexical_chars]) if query.text else set()
    return _results(index, groups, stems, passages)


def query_document(index: Index, doc_id: str) -> QueryDocument:
    """An indexed document as a similarity query."""
    info = index.catalog.document(doc_id)
    if info is None:
        raise DocumentNotFound(f"no document with id {doc_id!r}")
    chunks = index.catalog.chunks_of(doc_id)
    ids = np.asarray([cid for cid, _ in chunks], dtype=np.int64)
    text = f"{info.title}\n" + "\n".join(c.text for _, c in chunks)
    return QueryDocument(text, index.store.vectors(ids), info.municipality_code, doc_id)


def _dense_documents(
    index: Index, vectors: np.ndarray, allowed: np.ndarray | None, depth: int = 300
) -> tuple[list[tuple[str, float]], dict[str, list[tuple[int, float]]]]:
    """Documents scored by the mean over query chunks of their best matching chunk."""
    per_doc: dict[str, np.ndarray] = {}
    chunks: dict[str, list[tuple[int, float]]] = {}
    n = len(vectors)
    floors = np.zeros(n, dtype=np.float32)
    for i, vector in enumerate(vectors):
        with index.lock:
            hits = index.store.search(vector, depth, allowed)
        if not hits:
            continue
        floors[i] = hits[-1][1]
        for doc_id, score, doc_chunks in _groups(index, hits):
            row = per_doc.setdefault(doc_id, np.full(n, np.nan, dtype=np.float32))
            row[i] = score
            chunks.setdefault(doc_id, []).extend(doc_chunks[:1])
    ranking = []
    for doc_id, row in per_doc.items():
        filled = np.where(np.isnan(row), floors, row)
        ranking.append((doc_id, float(filled.mean())))
        chunks[doc_id].sort(key=lambda p: (-p[1], p[0]))
    ranking.sort(key=lambda p: (-p[1], p[0]))
    return ranking, chunks


def _fuse_documents(rankings: Sequence[Sequence[tuple[str, float]]]) -> list[tuple[str, float]]:
    if len(rankings) == 1:
        return list(rankings[0])
    names = sorted({d for r in rankings for d, _ in r})
    number = {d: i for i, d in enumerate(names)}
    fused = reciprocal_rank_fusion([[(number[d], s) for d, s in r] for r in rankings])
    return [(names[i], s) for i, s in fused]


def _groups(
    index: Index, scored: Sequence[tuple[int, float]]
) -> list[tuple[str, float, list[tuple[int, float]]]]:
    chunk_ids = [c for c, _ in scored]
    located = index.catalog.chunks_by_id(chunk_ids)
    return group_by_document(scored, {cid: doc for cid, (doc, _) in located.items()})


def _results(
    index: Index, groups: Sequence[tuple[str, float, list[tuple[int, float]]]], stems: set[str], passages: int
) -> list[Result]:
    infos = index.catalog.documents([d for d, _, _ in groups])
    wanted = [cid for _, _, chunks in groups for cid, _ in chunks[:passages]]
    located = index.catalog.chunks_by_id(wanted)
    results = []
    for doc_id, score, chunks in groups:
        info = infos.get(doc_id)
        if info is None:
            continue
        hits = []
        for cid, chunk_score in chunks[:passages]:
            if cid not in located:
                continue
            c = located[cid][1]
            hits.append(
                Hit(cid, doc_id, chunk_score, c.text, c.label, c.start, c.end, c.page, snippet(c.text, stems))
            )
        results.append(Result(info, score, tuple(hits)))
    return results


def _check(k: int, mode: str) -> None:
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be between 1 and {MAX_K}")
