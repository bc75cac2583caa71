"""Find similar documents: a document in, the most alike documents of other municipalities out.

Measured on similar-plans dev (see README): documents are compared by their *profiles* (mean of
the first passages, with the corpus mean removed: the boilerplate every document shares),
expanded once with the profiles of the nearest neighbours (pseudo-relevance feedback), and
fused by weighted reciprocal rank with BM25 on the query's first 3,000 characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from search.engine import IndexEngine
from search.errors import DocumentNotFound
from search.profiles import LEADING_CHUNKS
from search.ranking import query_stems, reciprocal_rank_fusion
from search.results import check_request, document_groups, results
from search.types import Filters, Result

FEEDBACK_DOCS = 10  # neighbours whose profiles expand the query profile
FEEDBACK_WEIGHT = 1.0
DOCUMENT_WEIGHTS = (3.0, 1.0)  # (dense profile, BM25) in the fusion
LEXICAL_CHARS = 3000
PROFILE_DEPTH = 1000  # documents ranked by profile; deeper ranks add < 0.003 each to the fusion


@dataclass(frozen=True)
class QueryDocument:
    """A document used as a query: its text for BM25 and its chunk vectors for dense search."""

    text: str
    vectors: np.ndarray
    municipality_code: str = ""
    doc_id: str = ""
    doc_type: str = ""  # centres the profile with the mean of its own type; "": all documents


def query_document(index: IndexEngine, doc_id: str) -> QueryDocument:
    """An indexed document as a similarity query."""
    info = index.catalog.document(doc_id)
    if info is None:
        raise DocumentNotFound(f"no document with id {doc_id!r}")
    chunks = index.catalog.chunks_of(doc_id)
    ids = np.asarray([cid for cid, _ in chunks], dtype=np.int64)
    text = f"{info.title}\n" + "\n".join(c.text for _, c in chunks)
    vectors = index.chunk_vectors(ids)
    pending = np.flatnonzero(~vectors.any(axis=1))  # not embedded yet (lexical-first): embed them now
    if len(pending):
        texts = [chunks[i][1].embedded_text(info.title) for i in pending]
        vectors[pending] = index.embedder.embed_passages(texts)
    return QueryDocument(text, vectors, info.municipality_code, doc_id, info.doc_type)


def similar(
    index: IndexEngine,
    query: QueryDocument,
    filters: Filters = Filters(),
    k: int = 10,
    mode: str = "hybrid",
    passages: int = 2,
) -> list[Result]:
    """Documents like the query document, from other municipalities by default."""
    check_request(k, mode)
    index.refresh()
    own = (query.municipality_code,) if query.municipality_code else ()
    filters = replace(
        filters,
        exclude_municipalities=(*filters.exclude_municipalities, *own),
        exclude_doc_ids=(*filters.exclude_doc_ids, *((query.doc_id,) if query.doc_id else ())),
    )
    rankings: list[list[tuple[str, float]]] = []
    weights: list[float] = []
    if mode in ("dense", "hybrid") and len(query.vectors):
        rankings.append(_profile_ranking(index, query, filters))
        weights.append(DOCUMENT_WEIGHTS[0])
    if mode in ("lexical", "hybrid") and query.text.strip():
        hits = index.lexical_search(query.text[:LEXICAL_CHARS], filters, 1000)
        rankings.append([(d, s) for d, s, _ in document_groups(index, hits)])
        weights.append(DOCUMENT_WEIGHTS[1])
    ranked = _fuse(rankings, weights)[:k]
    best = _best_chunks(index, [d for d, _ in ranked], query.vectors, passages)
    groups = [(d, s, best.get(d, [])) for d, s in ranked]
    stems = query_stems(query.text[:LEXICAL_CHARS]) if query.text else set()
    return results(index, groups, stems, passages)


def _profile_ranking(index: IndexEngine, query: QueryDocument, filters: Filters) -> list[tuple[str, float]]:
    """Allowed documents by similarity of centred profiles, after one round of feedback."""
    doc_type = query.doc_type
    if not doc_type and query.doc_id:
        info = index.catalog.document(query.doc_id)
        doc_type = info.doc_type if info else ""
    profile = index.profile_of(query.vectors[:LEADING_CHUNKS], doc_type)
    first = index.profile_search(profile, filters, FEEDBACK_DOCS)
    if first:
        neighbours = index.profile_vectors([d for d, _ in first]).mean(axis=0)
        expanded = profile + FEEDBACK_WEIGHT * neighbours
        profile = expanded / (np.linalg.norm(expanded) or 1.0)
    return index.profile_search(profile, filters, PROFILE_DEPTH)


def _fuse(
    rankings: Sequence[Sequence[tuple[str, float]]], weights: Sequence[float]
) -> list[tuple[str, float]]:
    if len(rankings) == 1:
        return list(rankings[0])
    names = sorted({d for r in rankings for d, _ in r})
    number = {d: i for i, d in enumerate(names)}
    fused = reciprocal_rank_fusion([[(number[d], s) for d, s in r] for r in rankings], weights)
    return [(names[i], s) for i, s in fused]


def _best_chunks(
    index: IndexEngine, doc_ids: Sequence[str], vectors: np.ndarray, per_doc: int
) -> dict[str, list[tuple[int, float]]]:
    """For each result, its passages closest to the query document's opening passages."""
    if not len(vectors):
        return {}
    centre = vectors[:LEADING_CHUNKS].mean(axis=0)
    out: dict[str, list[tuple[int, float]]] = {}
    for doc_id in doc_ids:
        ids = np.asarray([cid for cid, _ in index.catalog.chunks_of(doc_id)], dtype=np.int64)
        if not len(ids):
            continue
        scores = index.chunk_vectors(ids) @ centre
        order = np.argsort(-scores, kind="stable")[:per_doc]
        out[doc_id] = [(int(ids[i]), float(scores[i])) for i in order]
    return out
