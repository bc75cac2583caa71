from __future__ import annotations

import math

from search.metrics import evaluate_run, mrr_at, ndcg_at, percentile, recall_at


def test_metrics_on_a_hand_checked_ranking() -> None:
    ranked = ["a", "x", "b", "y"]
    relevant = {"a", "b", "c"}
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranked, relevant, 10) == (1 + 1 / math.log2(4)) / ideal
    assert mrr_at(["x", "a"], relevant) == 0.5
    assert mrr_at(["x"], relevant) == 0.0
    assert recall_at(ranked, relevant, 2) == 1 / 3
    assert recall_at(ranked, relevant, 100) == 2 / 3


def test_evaluate_run_counts_missing_queries_as_zero() -> None:
    qrels = {"q1": {"a"}, "q2": {"b"}}
    run = {"q1": ["a"]}
    metrics = evaluate_run(run, qrels)
    assert metrics["ndcg@10"] == 0.5
    assert metrics["queries"] == 2
    assert run == {"q1": ["a"]}  # input not mutated


def test_percentile_nearest_rank() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95
