"""`schutting eval SET --folds K`: find-similar recipes chosen by cross-validation over municipalities.

The dev queries are every clustered document of the dev municipalities (similar_eval.py). The
municipalities are split into K folds (sorted codes shuffled with ``random.Random(7)``, dealt in
turn); for each fold the recipe with the best score on the *other* folds' queries is chosen from
``GRID`` and scored on this fold's queries. The score that chooses is the mean over clusters of
each cluster's mean nDCG@10 (so 95 buitengebied queries do not outvote 5 bedrijventerrein ones);
ties go to the earlier recipe of the grid. Every figure reported as cross-validated is scored on
queries that played no part in choosing its recipe. Each signal ranking is computed once per
query; recipes only re-weight them.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from api.evaluation.similar_eval import DevQueries
from search.engine import IndexEngine
from search.metrics import ndcg_at
from search.similarity import (
    CHAMFER_CANDIDATES,
    DEFAULT_RECIPE,
    EARLIER_RECIPE,
    QueryDocument,
    Recipe,
    chamfer_ranking,
    fuse,
    lexical_ranking,
    others,
    passage_ranking,
    profile_ranking,
    query_document,
)
from search.types import Filters

SEED = 7
# Each row a hypothesis of issue #15; signals are computed once per query, so rows are cheap.
GRID: tuple[Recipe, ...] = (
    EARLIER_RECIPE,  # profile + BM25 on the first 3,000 characters
    Recipe(lexical=0.0),  # profile alone
    Recipe(feedback=0, lexical=0.0),  # profile without feedback
    *(Recipe(lexical=w, lexical_terms=n) for n in (25, 40) for w in (1.0, 2.0)),  # "more like this"
    Recipe(feedback=0),
    *(Recipe(passages=w, passage_count=c) for c in (4, 8) for w in (1.0, 3.0)),  # passage to passage
    *(Recipe(profile=1.0, passages=w) for w in (1.0, 3.0)),
    Recipe(feedback=0, passages=3.0),
    Recipe(profile=0.0, passages=3.0),
    *(Recipe(feedback=0, title_weight=t, lexical=w) for t in (3, 10) for w in (1.0, 2.0)),  # title words
    Recipe(feedback=0, title_weight=0),  # the query's title not in its distinctive words
    *(Recipe(chamfer=w) for w in (1.0, 3.0)),  # passage sets of the profile's best candidates
    Recipe(profile=1.0, chamfer=3.0),
    Recipe(chamfer=3.0, passages=1.0),
)

Ranking = list[tuple[str, float]]


def fold_of(municipalities: Sequence[str], k: int) -> dict[str, int]:
    """Each municipality's fold: sorted codes shuffled with Random(7), dealt round-robin."""
    codes = sorted(set(municipalities))
    random.Random(SEED).shuffle(codes)
    return {code: i % k for i, code in enumerate(codes)}


def signal_rankings(index: IndexEngine, query: QueryDocument, grid: Sequence[Recipe]) -> dict[str, Ranking]:
    """Every ranking the grid's recipes fuse, once each."""
    filters = others(query, Filters())
    out = {
        f"profile{n}": profile_ranking(index, query, filters, n) for n in sorted({r.feedback for r in grid})
    }
    for terms, title in sorted({(r.lexical_terms, r.title_weight) for r in grid if r.lexical > 0}):
        out[f"lexical{terms}-{title}"] = lexical_ranking(index, query, filters, terms, title)
    for count in sorted({r.passage_count for r in grid if r.passages > 0}):
        out[f"passages{count}"] = passage_ranking(index, query, filters, count)
    for n in sorted({r.feedback for r in grid if r.chamfer > 0}):
        candidates = [d for d, _ in out[f"profile{n}"][:CHAMFER_CANDIDATES]]
        out[f"chamfer{n}"] = chamfer_ranking(index, query, candidates)
    return out


def recipe_ranking(signals: dict[str, Ranking], recipe: Recipe) -> list[str]:
    parts = [(recipe.profile, signals[f"profile{recipe.feedback}"])]
    if recipe.lexical > 0:
        parts.append((recipe.lexical, signals[f"lexical{recipe.lexical_terms}-{recipe.title_weight}"]))
    if recipe.passages > 0:
        parts.append((recipe.passages, signals[f"passages{recipe.passage_count}"]))
    if recipe.chamfer > 0:
        parts.append((recipe.chamfer, signals[f"chamfer{recipe.feedback}"]))
    parts = [(w, r) for w, r in parts if w > 0]
    return [d for d, _ in fuse([r for _, r in parts], [w for w, _ in parts])[:100]]


def score_grid(
    index: IndexEngine, dev: DevQueries, grid: Sequence[Recipe], progress: Callable[[int], None] | None = None
) -> tuple[dict[str, list[float]], float]:
    """nDCG@10 of every recipe on every query (by query id, in grid order), and the mean
    milliseconds to compute a query's signals."""
    scores: dict[str, list[float]] = {}
    started = time.perf_counter()
    for n, q in enumerate(dev.queries, 1):
        signals = signal_rankings(index, query_document(index, q["metadata"]["doc_id"]), grid)
        relevant = dev.qrels[q["_id"]]
        scores[q["_id"]] = [ndcg_at(recipe_ranking(signals, r), relevant, 10) for r in grid]
        if progress:
            progress(n)
    return scores, 1000 * (time.perf_counter() - started) / max(len(dev.queries), 1)


def cross_validate(
    dev: DevQueries, scores: dict[str, list[float]], grid: Sequence[Recipe], k: int, shipped: set[str]
) -> dict[str, Any]:
    """Choose on K-1 folds, score on the held-out fold; figures over folds and clusters."""
    folds = fold_of(dev.municipalities, k)
    fold = {q["_id"]: folds[q["metadata"]["municipality_code"]] for q in dev.queries}
    cluster = {q["_id"]: q["metadata"]["cluster"] for q in dev.queries}
    held_out: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    per_fold: list[float] = []
    for f in range(k):
        train = [q for q in scores if fold[q] != f]
        test = [q for q in scores if fold[q] == f]
        best = max(range(len(grid)), key=lambda i: (_objective(train, cluster, scores, i), -i))
        held_out.update({q: scores[q][best] for q in test})
        per_fold.append(_mean(scores[q][best] for q in test))
        rows.append({
            "fold": f, "municipalities": sum(1 for v in folds.values() if v == f), "queries": len(test),
            "recipe": grid[best].name, "ndcg@10": per_fold[-1],
        })  # fmt: skip
    everything = list(scores)
    final = max(range(len(grid)), key=lambda i: (_objective(everything, cluster, scores, i), -i))
    return {
        "chosen_on_all_folds": grid[final].name,  # what the procedure picks for the product
        "ndcg@10": _mean(held_out.values()),
        "macro_ndcg@10": _macro(held_out, cluster),
        "fold_mean": _mean(per_fold),
        "fold_spread": round(statistics.pstdev(per_fold), 4) if len(per_fold) > 1 else 0.0,
        "fold_min": min(per_fold),
        "fold_max": max(per_fold),
        "by_cluster": _by_cluster(held_out, cluster),
        "shipped_queries": {
            "queries": len(shipped & held_out.keys()),
            "ndcg@10": _mean(v for q, v in held_out.items() if q in shipped),
            "by_cluster": _by_cluster({q: v for q, v in held_out.items() if q in shipped}, cluster),
        },
        "folds": rows,
    }


def grid_table(
    dev: DevQueries, scores: dict[str, list[float]], grid: Sequence[Recipe], shipped: set[str]
) -> list[dict[str, Any]]:
    """Each recipe on all dev queries (fixed recipes, not chosen on these queries: a row is a
    measurement of that recipe; picking the best row would be tuning on the test)."""
    cluster = {q["_id"]: q["metadata"]["cluster"] for q in dev.queries}
    table = []
    for i, recipe in enumerate(grid):
        mine = {q: s[i] for q, s in scores.items()}
        table.append({
            "recipe": recipe.name, "default": recipe == DEFAULT_RECIPE, "earlier": recipe == EARLIER_RECIPE,
            "ndcg@10": _mean(mine.values()), "macro_ndcg@10": _macro(mine, cluster),
            "by_cluster": _by_cluster(mine, cluster),
            "shipped_ndcg@10": _mean(v for q, v in mine.items() if q in shipped),
        })  # fmt: skip
    return table


def _objective(
    queries: Sequence[str], cluster: dict[str, str], scores: dict[str, list[float]], i: int
) -> float:
    return _macro({q: scores[q][i] for q in queries}, cluster)


def _by_cluster(values: dict[str, float], cluster: dict[str, str]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for q, v in values.items():
        groups.setdefault(cluster[q], []).append(v)
    return {c: _mean(vs) for c, vs in sorted(groups.items())}


def _macro(values: dict[str, float], cluster: dict[str, str]) -> float:
    per = _by_cluster(values, cluster)
    return _mean(per.values())


def _mean(values: Any) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else 0.0


def format_folds(m: dict[str, Any]) -> str:
    cv = m["cv"]
    lines = [
        f"{m['set']} ({m['queries']} dev queries from {m['municipalities']} municipalities, {m['folds']} folds)",
        f"model {m['model']}; recipe chosen per fold on the other folds (mean nDCG@10 over clusters)",
        f"cross-validated nDCG@10 {cv['ndcg@10']:.4f} (macro {cv['macro_ndcg@10']:.4f}); "
        f"folds mean {cv['fold_mean']:.4f}, spread {cv['fold_spread']:.4f} ({cv['fold_min']:.4f}-{cv['fold_max']:.4f})",
        "by cluster: " + ", ".join(f"{c} {v:.3f}" for c, v in cv["by_cluster"].items()),
        f"shipped {cv['shipped_queries']['queries']} queries: {cv['shipped_queries']['ndcg@10']:.4f}",
    ]
    lines += [
        f"fold {r['fold']}: {r['queries']} queries, {r['recipe']}: {r['ndcg@10']:.4f}" for r in cv["folds"]
    ]
    lines.append(f"chosen on all folds (the product's recipe): {cv['chosen_on_all_folds']}")
    lines.append("each recipe on all dev queries (not cross-validated):")
    lines += [f"  {r['recipe']}: {r['ndcg@10']:.4f} (macro {r['macro_ndcg@10']:.4f})" for r in m["grid"]]
    return "\n".join(lines)


__all__ = ["GRID", "cross_validate", "format_folds", "grid_table", "score_grid"]
