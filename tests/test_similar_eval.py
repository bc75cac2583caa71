"""The find-similar dev protocol: similar-plans' cluster rule rebuilt from its README (checked
against the shipped queries and qrels), more dev queries, and cross-validation over folds of
municipalities that never scores a query with a recipe chosen on it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from api.evaluation.evaluate import by_cluster, load_qrels, load_queries
from api.evaluation.folds import cross_validate, fold_of
from api.evaluation.similar_eval import DevQueries, annotate_clusters, check_shipped, cluster_of, dev_queries
from search.errors import InvalidInput
from tests.conftest import SHARED

PLANS = SHARED / "eval" / "similar-plans"


@pytest.mark.parametrize(
    ("name", "cluster"),
    [
        ("Veegplan Buitengebied Winsum", "veegplan"),  # veegplan before buitengebied
        ("Parapluherziening woningaantal en parkeren", "veegplan"),
        ("Wijziging 1 - BestemmingsplanBuitengebied Oss - 2020", "buitengebied"),
        (
            "Vriezenveen Lintbebouwing en Centrumgebied PH Schoolstraat L 167",
            "centrum",
        ),  # centrum before school
        ("Gendringen, nieuwbouw woonzorgcentrum", None),  # centrum only at the start of a word
        ("Herontwikkeling Acaciaschool", "school"),  # school anywhere in a word
        ("Wijzigingsplan woon-werklocatie Gariperwei Oudega", "bedrijventerrein"),
        ("Wijzigingsplan Jukwerderweg 58 Appingedam", None),
    ],
)
def test_cluster_of_a_plan_name(name: str, cluster: str | None) -> None:
    assert cluster_of(name) == cluster


@pytest.fixture(scope="module")
def shipped() -> tuple[list[dict], dict[str, set[str]]]:
    if not (PLANS / "corpus.jsonl").exists():
        pytest.skip("shared eval sets not available")
    return load_queries(PLANS), load_qrels(PLANS, "dev")


def test_the_rule_reproduces_the_shipped_set(shipped: tuple[list[dict], dict[str, set[str]]]) -> None:
    queries, qrels = shipped
    dev = dev_queries(PLANS, queries)
    check_shipped(dev, queries, qrels)  # every shipped query, with identical qrels
    # the README's cluster sizes: documents and municipalities
    corpus = [json.loads(line) for line in (PLANS / "corpus.jsonl").open(encoding="utf-8")]
    clusters = {d["_id"]: cluster_of(d["title"]) for d in corpus}
    sizes = Counter(c for c in clusters.values() if c)
    assert sizes == {
        "buitengebied": 347,
        "centrum": 156,
        "veegplan": 39,
        "school": 16,
        "bedrijventerrein": 14,
    }
    towns = {
        c: len({d["metadata"]["municipality_code"] for d in corpus if clusters[d["_id"]] == c}) for c in sizes
    }
    assert towns == {"buitengebied": 132, "centrum": 82, "veegplan": 30, "school": 14, "bedrijventerrein": 13}
    # more queries, all from the shipped queries' (dev) municipalities
    assert len(dev.municipalities) == 49 and len(dev.queries) == 195
    assert {q["metadata"]["municipality_code"] for q in dev.queries} == set(dev.municipalities)
    assert Counter(q["metadata"]["cluster"] for q in dev.queries)["school"] == 12


def test_a_wrong_rule_is_caught(shipped: tuple[list[dict], dict[str, set[str]]]) -> None:
    queries, qrels = shipped
    dev = dev_queries(PLANS, queries)
    first = queries[0]["_id"]
    with pytest.raises(InvalidInput, match="other qrels"):
        check_shipped(dev, queries, {**qrels, first: qrels[first] - {sorted(qrels[first])[0]}})


def test_shipped_queries_get_their_cluster(shipped: tuple[list[dict], dict[str, set[str]]]) -> None:
    queries, _ = shipped
    annotated = annotate_clusters(PLANS, queries)
    assert all(q["metadata"]["cluster"] for q in annotated)
    assert Counter(q["metadata"]["cluster"] for q in annotated) == {
        "buitengebied": 15, "centrum": 15, "veegplan": 15, "school": 12, "bedrijventerrein": 5,
    }  # fmt: skip
    assert "cluster" not in queries[0]["metadata"]  # input unchanged


def test_by_cluster_means_ndcg_per_cluster() -> None:
    queries = [
        {"_id": "q1", "metadata": {"cluster": "school"}},
        {"_id": "q2", "metadata": {"cluster": "school"}},
        {"_id": "q3", "metadata": {}},
    ]
    run = {"q1": ["a", "x"], "q2": ["x", "y"], "q3": ["a"]}
    qrels = {"q1": {"a"}, "q2": {"a"}, "q3": {"a"}}
    assert by_cluster(queries, run, qrels) == {"by_cluster": {"school": 0.5}}
    assert by_cluster(queries[2:], run, qrels) == {}


def test_folds_split_municipalities_deterministically() -> None:
    codes = [f"GM{i:04d}" for i in range(10)]
    folds = fold_of(reversed(codes), 3)  # type: ignore[arg-type]
    assert folds == fold_of(codes, 3)
    assert sorted(Counter(folds.values()).values()) == [3, 3, 4]


def test_cross_validation_chooses_on_the_other_folds() -> None:
    # Two municipalities per fold, two recipes. Recipe 1 is far better on fold 0's queries, a
    # little worse on the others. Fold 0 is scored with the recipe the other folds prefer (0),
    # never with the one that wins on fold 0 itself; folds 1 and 2 see fold 0 in training (1).
    codes = [f"GM{i:04d}" for i in range(6)]
    folds = fold_of(codes, 3)
    queries = [{"_id": f"q{c}", "metadata": {"municipality_code": c, "cluster": "school"}} for c in codes]
    scores = {
        q["_id"]: [0.1, 1.0] if folds[q["metadata"]["municipality_code"]] == 0 else [0.6, 0.5]
        for q in queries
    }
    dev = DevQueries(queries, {q["_id"]: {"x"} for q in queries}, codes)
    out = cross_validate(dev, scores, [_Named("r0"), _Named("r1")], 3, {"qGM0000"})  # type: ignore[list-item]
    assert {row["fold"]: row["recipe"] for row in out["folds"]} == {0: "r0", 1: "r1", 2: "r1"}
    assert {row["fold"]: row["ndcg@10"] for row in out["folds"]} == {0: 0.1, 1: 0.5, 2: 0.5}
    assert out["ndcg@10"] == round((2 * 0.1 + 4 * 0.5) / 6, 4)
    assert out["fold_spread"] == pytest.approx(0.1886, abs=1e-4)
    assert out["by_cluster"] == {"school": out["ndcg@10"]}
    assert out["shipped_queries"]["queries"] == 1


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
