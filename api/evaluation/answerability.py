"""`schutting eval DIR --answerability`: does the product say so when the index holds no answer?

Each question is asked twice: as is, and with its relevant documents excluded (the index then
holds no answer). The share of questions whose top result is weak in each run is
``weak_when_absent`` (should be high) and ``weak_when_present`` (should be low); nDCG@10 of the
normal run shows that marking strength changes no ranking.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.evaluation.evaluate import eval_index, load_qrels, load_queries
from api.settings import Settings
from search.engine import IndexEngine
from search.metrics import evaluate_run, percentile
from search.retrieval import search
from search.strength import Evidence, calibration, evidence
from search.types import Filters

K = 10  # the top result is what is judged, nDCG@10 what is reported (eval itself retrieves 100)


@dataclass(frozen=True)
class Observation:
    """The top result of one question in one run, with its evidence."""

    query_id: str
    answer_present: bool
    top_relevant: bool
    evidence: Evidence


def observe(
    index: IndexEngine, queries: list[dict[str, Any]], qrels: dict[str, set[str]], mode: str
) -> tuple[list[Observation], dict[str, list[str]], list[float]]:
    """Both runs of every question: observations, the normal run's ranking, strength timings (ms)."""
    observations, run, timings = [], {}, []
    for query in queries:
        relevant = qrels[query["_id"]]
        for present in (True, False):
            filters = Filters() if present else Filters(exclude_doc_ids=tuple(sorted(relevant)))
            results = search(index, query["text"], filters, k=K, mode=mode)
            if present:
                run[query["_id"]] = [r.document.id for r in results]
            if not results:
                continue
            t0 = time.perf_counter()
            top = evidence(index, query["text"], filters, results[:1])[0]
            timings.append((time.perf_counter() - t0) * 1000)
            observations.append(Observation(query["_id"], present, results[0].document.id in relevant, top))
    return observations, run, timings


def answerability(
    folder: Path, settings: Settings, model: str, mode: str = "hybrid", split: str = "dev",
    limit: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    qrels = load_qrels(folder, split)
    queries = [q for q in load_queries(folder) if q["_id"] in qrels][:limit]
    index = eval_index(folder, settings, model)
    observations, run, timings = observe(index, queries, qrels, mode)
    return {
        **shares(observations, model, mode),
        "ndcg@10": evaluate_run(run, {q["_id"]: qrels[q["_id"]] for q in queries})["ndcg@10"],
        "queries": len(queries),
        "set": folder.name,
        "split": split,
        "mode": mode,
        "model": model,
        "strength_ms_p50": round(percentile(timings, 50), 1),
        "strength_ms_p95": round(percentile(timings, 95), 1),
    }


def shares(observations: list[Observation], model: str, mode: str) -> dict[str, float]:
    fitted = calibration(model, mode)
    return weak_shares(
        [(o.answer_present, o.top_relevant, not fitted.strong(o.evidence)) for o in observations]
    )


def weak_shares(tops: Sequence[tuple[bool, bool, bool]]) -> dict[str, float]:
    """The reported shares from each top result's (answer present, top relevant, weak); also used
    by find-similar (similar_answerability.py)."""
    present = [(relevant, weak) for answer, relevant, weak in tops if answer]
    absent = [weak for answer, _, weak in tops if not answer]
    wrong_top = [weak for relevant, weak in present if not relevant]
    return {
        "weak_when_absent": round(sum(absent) / max(1, len(absent)), 4),
        "weak_when_present": round(sum(weak for _, weak in present) / max(1, len(present)), 4),
        # present, but ranking put a wrong document on top: weak is the honest label there
        "weak_when_top_wrong": round(sum(wrong_top) / max(1, len(wrong_top)), 4),
        "top_wrong": len(wrong_top),
    }


def format_answerability(m: dict[str, Any]) -> str:
    return (
        f"{m['set']} ({m['split']}, {m['queries']} questions, each asked with and without its answer)\n"
        f"model {m['model']}, mode {m['mode']}\n"
        f"top result weak when the answer is absent  {m['weak_when_absent']:.3f}  (target >= 0.80)\n"
        f"top result weak when the answer is present {m['weak_when_present']:.3f}  (target <= 0.05)\n"
        f"nDCG@10 {m['ndcg@10']:.4f}; strength costs p50 {m['strength_ms_p50']} ms per question"
    )
