"""Find similar documents: a document in, the most alike documents of other municipalities out.

Three signals, each a ranking of documents, fused by weighted reciprocal rank (``Recipe``):

- *profile*: documents compared by their profiles (mean of the first passages, with the mean of
  their type removed: the boilerplate every document shares), expanded once with the profiles of
  the nearest neighbours (pseudo-relevance feedback);
- *lexical*: BM25 with the query's distinctive words ("more like this", search/more_like_this.py),
  a document scored by the sum of its best passages; or, with ``lexical_terms=0``, BM25 on the
  query's first 3,000 characters, a document scored by its best passage (the earlier recipe);
- *passages*: the query's most distinctive passages (furthest from the mean of their type), each
  searched passage to passage, so a few specific passages are not averaged away in a profile.

The default recipe and the grid it was chosen from: api/evaluation/folds.py and the README.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from search.engine import IndexEngine
from search.errors import DocumentNotFound
from search.more_like_this import distinctive_words
from search.profiles import LEADING_CHUNKS
from search.ranking import query_stems, reciprocal_rank_fusion
from search.readers import start
from search.results import check_request, document_groups, results
from search.types import Filters, Result

FEEDBACK_DOCS = 10  # neighbours whose profiles expand the query profile
FEEDBACK_WEIGHT = 1.0
LEXICAL_CHARS = 3000
# Passages BM25 returns for find-similar. 300 rather than 1,000 (1 Dec 2026, similar-plans, 195 dev
# queries, e5): nDCG@10 0.8165 -> 0.8202, cross-validated 0.799 -> 0.806, weak-when-absent 0.29 -> 0.38
# (within the folds' spread, seen on the same queries: kept for its cost, not its gain); the fast
# model 0.612 -> 0.602. At 1M passages on PostgreSQL its BM25 p50 drops from 78 to 27 ms.
LEXICAL_DEPTH = 300
LEXICAL_PASSAGES = 3  # a document's lexical score: the sum of its best passages' scores
PROFILE_DEPTH = 1000  # documents ranked by profile; deeper ranks add < 0.003 each to the fusion
PASSAGE_DEPTH = 100  # passages each distinctive query passage retrieves
CHAMFER_CANDIDATES = 200  # documents (the profile's best) whose passages are matched one by one


@dataclass(frozen=True)
class Recipe:
    """How find-similar ranks: the weight of each signal (0: off) and its size."""

    profile: float = 3.0
    feedback: int = FEEDBACK_DOCS  # neighbours whose profiles expand the query profile; 0: none
    lexical: float = 1.0
    lexical_terms: int = 25  # distinctive words searched; 0: the first LEXICAL_CHARS characters
    title_weight: int = 1  # a title word counts this many times in the choice of distinctive words (0: never)
    passages: float = 0.0
    passage_count: int = 8  # distinctive query passages searched one by one
    chamfer: float = 0.0  # weight of the passage-set match of the profile's best candidates

    @property
    def name(self) -> str:
        """e.g. ``profile3+mlt25x1+passages8x3``: each signal in use with its weight."""
        parts = []
        if self.profile > 0:
            parts.append(
                f"profile{self.profile:g}" + ("" if self.feedback == FEEDBACK_DOCS else f"-fb{self.feedback}")
            )
        if self.lexical > 0:
            lexical = f"mlt{self.lexical_terms}" if self.lexical_terms else f"lead{LEXICAL_CHARS}"
            lexical += f"-title{self.title_weight}" if self.title_weight != 1 and self.lexical_terms else ""
            parts.append(f"{lexical}x{self.lexical:g}")
        if self.passages > 0:
            parts.append(f"passages{self.passage_count}x{self.passages:g}")
        if self.chamfer > 0:
            parts.append(f"chamfer{CHAMFER_CANDIDATES}x{self.chamfer:g}")
        return "+".join(parts)


# The default since e5 was measured on the cross-validation protocol of issue #15 (README,
# "Find similar on specific topics"): on the 195 similar-plans dev queries with e5, profile x3 with
# feedback + "more like this" scores 0.818 (macro over clusters 0.687, the 62 shipped queries 0.747)
# against 0.809 (0.683, 0.727) for the earlier recipe (BM25 on the first 3,000 characters), and its
# BM25 part is 4x cheaper at 1M passages. The folds' own pick adds 4 distinctive passages
# (macro 0.691, inside the folds' spread of 0.033) at 10-35 ms more per query at 1M passages.
EARLIER_RECIPE = Recipe(profile=3.0, lexical=1.0, lexical_terms=0)
MLT_RECIPE = Recipe()
DEFAULT_RECIPE = MLT_RECIPE


@dataclass(frozen=True)
class QueryDocument:
    """A document used as a query: its text for BM25 and its chunk vectors for dense search."""

    text: str
    vectors: np.ndarray
    municipality_code: str = ""
    doc_id: str = ""
    doc_type: str = ""  # centres the profile with the mean of its own type; "": all documents
    title: str = ""  # the title (also at the start of text), for a recipe that weights title words


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
    return QueryDocument(text, vectors, info.municipality_code, doc_id, info.doc_type, info.title)


def similar(
    index: IndexEngine,
    query: QueryDocument,
    filters: Filters = Filters(),
    k: int = 10,
    mode: str = "hybrid",
    passages: int = 2,
    recipe: Recipe = DEFAULT_RECIPE,
) -> list[Result]:
    """Documents like the query document, from other municipalities by default."""
    check_request(k, mode)
    index.refresh()
    filters = others(query, filters)
    lexical = None  # BM25 runs beside the dense signals where the engine reads in parallel
    if mode in ("lexical", "hybrid") and query.text.strip() and (recipe.lexical > 0 or mode == "lexical"):
        ranking = partial(lexical_ranking, index, query, filters, recipe.lexical_terms, recipe.title_weight)
        lexical = start(ranking, index.concurrent_reads)
    signals = []
    if mode in ("dense", "hybrid") and len(query.vectors):
        if recipe.profile > 0 or (recipe.passages <= 0 and mode == "dense"):
            signals.append((recipe.profile or 1.0, profile_ranking(index, query, filters, recipe.feedback)))
        if recipe.passages > 0:
            signals.append((recipe.passages, passage_ranking(index, query, filters, recipe.passage_count)))
        if recipe.chamfer > 0:
            candidates = [d for d, _ in profile_ranking(index, query, filters, recipe.feedback)]
            signals.append((recipe.chamfer, chamfer_ranking(index, query, candidates[:CHAMFER_CANDIDATES])))
    if lexical is not None:
        signals.append((recipe.lexical or 1.0, lexical.result()))
    ranked = fuse([r for _, r in signals], [w for w, _ in signals])[:k]
    best = _best_chunks(index, [d for d, _ in ranked], query.vectors, passages)
    groups = [(d, s, best.get(d, [])) for d, s in ranked]
    stems = query_stems(query.text[:LEXICAL_CHARS]) if query.text else set()
    return results(index, groups, stems, passages)


def others(query: QueryDocument, filters: Filters) -> Filters:
    """The filters, less the query document and the documents of its own municipality."""
    own = (query.municipality_code,) if query.municipality_code else ()
    return replace(
        filters,
        exclude_municipalities=(*filters.exclude_municipalities, *own),
        exclude_doc_ids=(*filters.exclude_doc_ids, *((query.doc_id,) if query.doc_id else ())),
    )


def profile_ranking(
    index: IndexEngine, query: QueryDocument, filters: Filters, feedback: int = FEEDBACK_DOCS
) -> list[tuple[str, float]]:
    """Allowed documents by similarity of centred profiles, after one round of feedback from the
    ``feedback`` nearest (none: 0)."""
    profile = index.profile_of(query.vectors[:LEADING_CHUNKS], _doc_type(index, query))
    first = index.profile_search(profile, filters, feedback) if feedback > 0 else []
    if first:
        neighbours = index.profile_vectors([d for d, _ in first]).mean(axis=0)
        expanded = profile + FEEDBACK_WEIGHT * neighbours
        profile = expanded / (np.linalg.norm(expanded) or 1.0)
    return index.profile_search(profile, filters, PROFILE_DEPTH)


def lexical_ranking(
    index: IndexEngine, query: QueryDocument, filters: Filters, terms: int, title_weight: int = 1
) -> list[tuple[str, float]]:
    """Allowed documents by BM25 with the query's distinctive words (terms > 0), a document
    scoring the sum of its best passages; or with its first characters, scoring its best passage."""
    if terms <= 0:
        hits = index.lexical_search(query.text[:LEXICAL_CHARS], filters, LEXICAL_DEPTH)
        return [(d, s) for d, s, _ in document_groups(index, hits)]
    text = query.text + f"\n{query.title}" * (title_weight - 1)
    if title_weight == 0 and query.title and text.startswith(query.title):
        text = text[len(query.title) :]  # the query's title not used at all
    words = distinctive_words(index, text, terms)
    if not words:
        return []
    hits = index.lexical_search(" ".join(words), filters, LEXICAL_DEPTH)
    summed = [
        (d, sum(s for _, s in chunks[:LEXICAL_PASSAGES])) for d, _, chunks in document_groups(index, hits)
    ]
    return sorted(summed, key=lambda p: (-p[1], p[0]))


def passage_ranking(
    index: IndexEngine, query: QueryDocument, filters: Filters, count: int
) -> list[tuple[str, float]]:
    """Allowed documents by how well they match the query's ``count`` most distinctive passages,
    each searched with its centred vector; the per-passage document rankings fused by rank."""
    doc_type = _doc_type(index, query)
    centred = np.vstack([index.profile_of(v[None, :], doc_type) for v in query.vectors])
    # cosine between a passage and its centred vector: low for passages near the mean of the type
    distinct = np.einsum("ij,ij->i", np.asarray(query.vectors, dtype=np.float32), centred)
    chosen = np.argsort(-distinct, kind="stable")[:count]
    rankings = []
    for i in sorted(chosen.tolist()):
        hits = index.dense_search(centred[i], filters, PASSAGE_DEPTH)
        rankings.append([(d, s) for d, s, _ in document_groups(index, hits)])
    return fuse(rankings, [1.0] * len(rankings))


def chamfer_ranking(
    index: IndexEngine, query: QueryDocument, candidates: Sequence[str]
) -> list[tuple[str, float]]:
    """Candidates by how closely their passages match each of the query's passages: the mean over
    query passages (centred: the generic part of every passage removed) of the best cosine with
    a passage of the candidate. A few specific passages in common count; shared boilerplate,
    centred away, counts little."""
    if not len(query.vectors) or not candidates:
        return []
    doc_type = _doc_type(index, query)
    centred = np.vstack([index.profile_of(v[None, :], doc_type) for v in query.vectors])
    chunks = {d: [cid for cid, _ in index.catalog.chunks_of(d)] for d in candidates}
    ids = np.asarray([cid for d in candidates for cid in chunks[d]], dtype=np.int64)
    if not len(ids):
        return []
    similarity = centred @ index.chunk_vectors(ids).T  # query passages x candidate passages
    scores, start = [], 0
    for d in candidates:
        n = len(chunks[d])
        if n:
            scores.append((d, float(similarity[:, start : start + n].max(axis=1).mean())))
        start += n
    return sorted(scores, key=lambda p: (-p[1], p[0]))


def _doc_type(index: IndexEngine, query: QueryDocument) -> str:
    if query.doc_type or not query.doc_id:
        return query.doc_type
    info = index.catalog.document(query.doc_id)
    return info.doc_type if info else ""


def fuse(
    rankings: Sequence[Sequence[tuple[str, float]]], weights: Sequence[float]
) -> list[tuple[str, float]]:
    """Document rankings fused by weighted reciprocal rank (one ranking: as it is)."""
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
    return index.nearest_chunks(doc_ids, vectors[:LEADING_CHUNKS].mean(axis=0), per_doc)
