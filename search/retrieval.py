"""Questions and documents in, ranked documents out (filters applied before ranking)."""

from __future__ import annotations

from collections.abc import Sequence

from search.errors import InvalidInput
from search.index import Index
from search.ranking import group_by_document, query_stems, reciprocal_rank_fusion, snippet
from search.types import Filters, Hit, Result

MODES = ("hybrid", "dense", "lexical")
DEFAULT_MODE = "hybrid"
# Reciprocal rank fusion weights (dense, lexical), tuned on vac-questions dev (nDCG@10):
# equal weights 0.965, dense x2 0.969, dense x3 0.971; dense alone 0.960, BM25 alone 0.936.
QUESTION_WEIGHTS = (3.0, 1.0)
MAX_K = 100


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


# Find-similar lives in search/similarity.py; re-exported here so callers have one entry point.
from search.similarity import QueryDocument, query_document, similar  # noqa: E402

__all__ = ["MODES", "QueryDocument", "query_document", "search", "similar"]
