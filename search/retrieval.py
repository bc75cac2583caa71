"""Questions and documents in, ranked documents out (filters applied before ranking)."""

from __future__ import annotations

import numpy as np

from search.engine import IndexEngine
from search.errors import InvalidInput
from search.ranking import RRF_K, query_stems, reciprocal_rank_fusion
from search.readers import start
from search.results import MODES, check_request, document_groups, results

# Find-similar lives in search/similarity.py; re-exported so callers have one entry point.
from search.similarity import QueryDocument, query_document, similar
from search.types import Filters, Result

DEFAULT_MODE = "hybrid"
# Reciprocal rank fusion weights (dense, lexical), tuned on vac-questions dev (nDCG@10):
# equal weights 0.965, dense x2 0.969, dense x3 0.971; dense alone 0.960, BM25 alone 0.936.
QUESTION_WEIGHTS = (3.0, 1.0)


def search(
    index: IndexEngine,
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
    check_request(k, mode)
    index.refresh()
    vector = index.embedder.embed_query(query) if mode != "lexical" else None
    depth = max(200, 20 * k)
    while True:
        rankings = _rankings(index, query, vector, filters, depth, mode)
        fused = rankings[0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings, QUESTION_WEIGHTS)
        if len(rankings) == 2 and index.count_pending():
            fused = pending_ranked_lexically(index, fused, rankings[1])
        groups = document_groups(index, fused)
        exhausted = all(len(r) < depth for r in rankings)
        if len(groups) >= k or exhausted or depth >= index.catalog.count_chunks():
            break
        depth *= 4
    return results(index, groups[:k], query_stems(query), passages)


def _rankings(
    index: IndexEngine, query: str, vector: np.ndarray | None, filters: Filters, depth: int, mode: str
) -> list[list[tuple[int, float]]]:
    """The dense and/or lexical ranking; both at once where the engine answers reads in parallel
    (PostgreSQL: two server processes, so hybrid costs the slower of the two, not their sum)."""
    dense = (lambda: index.dense_search(vector, filters, depth)) if vector is not None else None
    lexical = (lambda: index.lexical_search(query, filters, depth)) if mode in ("lexical", "hybrid") else None
    if dense and lexical:
        other = start(lexical, index.concurrent_reads)
        return [dense(), other.result()]
    return [run() for run in (dense, lexical) if run]


def pending_ranked_lexically(
    index: IndexEngine, fused: list[tuple[int, float]], lexical: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """Hybrid fusion while a lexical-first ingest is being embedded: a chunk without a vector yet
    has no dense rank, so its lexical rank stands in for it. At no vectors this is the lexical
    ranking, at all vectors plain hybrid; in between a document is not pushed below every passage
    that happens to be embedded already (the dense list holds only those)."""
    ids = np.asarray([c for c, _ in lexical], dtype=np.int64)
    pending = {int(c) for c, row in zip(ids, index.chunk_vectors(ids), strict=True) if not row.any()}
    if not pending:
        return fused
    weight = QUESTION_WEIGHTS[0]
    stand_in = {c: weight / (RRF_K + rank + 1) for rank, (c, _) in enumerate(lexical) if c in pending}
    return sorted(((c, s + stand_in.get(c, 0.0)) for c, s in fused), key=lambda p: (-p[1], p[0]))


__all__ = ["MODES", "QueryDocument", "query_document", "search", "similar"]
