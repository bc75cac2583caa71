"""Answerability for find-similar (#14): every query document run as is and with its relevant
documents excluded, on a small real set cut from similar-plans (real plans, the set's own cluster
rule for the qrels) and indexed with the fast real model; through the library and the CLI."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main
from api.evaluation.evaluate import eval_index
from api.evaluation.similar_answerability import (
    PRESENT_WEAK,
    SimilarObservation,
    dev_set,
    fit_threshold,
    is_find_similar_set,
    observe,
    shares,
    similar_answerability,
)
from api.evaluation.similar_eval import read_plans, relevant
from api.settings import Settings
from search.strength import SIMILAR_FALLBACK, SIMILAR_THRESHOLDS
from tests.conftest import FAST_MODEL, SHARED

PLANS = SHARED / "eval" / "similar-plans"
CLUSTERS = ("buitengebied", "centrum", "school")
PER_CLUSTER = 4


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shortest plans of three clusters and three distractors; every clustered plan a query,
    its qrels the plans of its cluster from other municipalities (the set's rule)."""
    if not (PLANS / "corpus.jsonl").exists():
        pytest.skip("shared eval sets not available")
    rows = {d["_id"]: d for d in map(json.loads, (PLANS / "corpus.jsonl").open(encoding="utf-8"))}
    plans = read_plans(PLANS)
    by_length = sorted(rows, key=lambda i: (len(rows[i]["text"]), i))
    chosen = [i for c in CLUSTERS for i in [d for d in by_length if plans[d].cluster == c][:PER_CLUSTER]]
    chosen += [d for d in by_length if plans[d].cluster is None][:3]
    folder = tmp_path_factory.mktemp("beir") / "small-similar"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(rows[d]) + "\n" for d in chosen))
    mine = {d: plans[d] for d in chosen}
    queries = [p for p in mine.values() if p.cluster]
    (folder / "queries.jsonl").write_text("".join(
        json.dumps({"_id": f"q-{p.doc_id}", "text": "",
                    "metadata": {"doc_id": p.doc_id, "municipality_code": p.municipality_code}}) + "\n"
        for p in queries))  # fmt: skip
    qrels = [f"q-{p.doc_id}\t{d}\t1\n" for p in queries for d in sorted(relevant(mine, p))]
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(qrels))
    return folder


@pytest.fixture(scope="module")
def settings(small_set: Path) -> Settings:
    return Settings(data_dir=small_set.parent / "data", model=FAST_MODEL)


@pytest.fixture(scope="module")
def found(small_set: Path, settings: Settings) -> dict[str, Any]:
    return similar_answerability(small_set, settings, FAST_MODEL)


@pytest.fixture(scope="module")
def observations(small_set: Path, settings: Settings) -> list[SimilarObservation]:
    index = eval_index(small_set, settings, FAST_MODEL)
    observed, _, _ = observe(index, dev_set(small_set, "dev"), "hybrid")
    return observed


def test_a_set_of_query_documents_is_told_from_a_set_of_questions(small_set: Path, tmp_path: Path) -> None:
    assert is_find_similar_set(small_set)
    questions = tmp_path / "questions"
    (questions / "qrels").mkdir(parents=True)
    (questions / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "Hoe hoog is de rioolheffing?"})
    )
    (questions / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    assert not is_find_similar_set(questions)


def test_every_query_document_is_run_with_and_without_its_relevant_documents(
    small_set: Path, observations: list[SimilarObservation]
) -> None:
    queries = dev_set(small_set, "dev").queries
    assert len(queries) == len(CLUSTERS) * PER_CLUSTER
    runs = {(o.query_id, o.answer_present) for o in observations}
    assert runs == {(q["_id"], present) for q in queries for present in (True, False)}
    absent = [o for o in observations if not o.answer_present]
    assert not any(o.top_relevant for o in absent)  # the exclusion removed every relevant document
    assert any(o.top_relevant for o in observations if o.answer_present)


def test_excluding_the_relevant_documents_lowers_the_top_cosine(
    observations: list[SimilarObservation],
) -> None:
    present = statistics.mean(o.cosine for o in observations if o.answer_present)
    absent = statistics.mean(o.cosine for o in observations if not o.answer_present)
    assert absent < present, (present, absent)


def test_the_report_gives_both_runs_at_the_models_threshold(
    found: dict[str, Any], observations: list[SimilarObservation]
) -> None:
    threshold = SIMILAR_THRESHOLDS.get(FAST_MODEL, SIMILAR_FALLBACK)
    assert found["threshold"] == threshold and found["model_id"] == FAST_MODEL
    assert {k: found[k] for k in ("weak_when_absent", "weak_when_present")} == {
        k: shares(observations, threshold)[k] for k in ("weak_when_absent", "weak_when_present")
    }
    assert found["queries"] == len(CLUSTERS) * PER_CLUSTER and 0.0 < found["ndcg@10"] <= 1.0
    assert found["fitted_threshold"] == fit_threshold(observations)
    assert found["fitted"]["weak_when_present"] <= PRESENT_WEAK
    # cross-validated: every query judged once, in the fold of its municipality
    assert sum(row["queries"] for row in found["cv"]["by_fold"]) == found["queries"]
    assert found["cv"]["threshold_min"] <= found["cv"]["threshold_max"]


def test_the_cli_dispatches_a_find_similar_set(
    small_set: Path, settings: Settings, found: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data-dir", str(settings.data_dir), "eval", str(small_set), "--answerability", "--json"]
    assert main([*argv, "--model", FAST_MODEL]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli.keys() == found.keys()
    assert {k: cli[k] for k in ("weak_when_absent", "weak_when_present", "ndcg@10")} == {
        k: found[k] for k in ("weak_when_absent", "weak_when_present", "ndcg@10")
    }


def test_the_fitted_threshold_leaves_five_percent_of_present_tops_weak() -> None:
    present = [SimilarObservation(f"q{i}", "GM0001", True, True, (30 + i) / 100) for i in range(40)]
    absent = [SimilarObservation(f"q{i}", "GM0001", False, False, (10 + i) / 100) for i in range(40)]
    threshold = fit_threshold(present + absent)
    assert threshold == 0.32  # two of forty (5%) below it
    measured = shares(present + absent, threshold)
    assert measured["weak_when_present"] == 0.05 and measured["weak_when_absent"] == 0.55
