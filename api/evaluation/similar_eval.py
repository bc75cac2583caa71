"""More find-similar dev queries for similar-plans, built by the set's own rule (its README).

Topic clusters come from keywords in the plan name (the corpus title), one cluster per
document by priority. The README describes the keywords loosely ("at the start of a word");
the rule below is the one that reproduces the shipped set exactly: every cluster's size and
municipality count, and the qrels of all 62 shipped queries (``check_shipped`` verifies it).

Which municipalities are dev: the README's split shuffles "the 334 municipality codes", a list
that is not in ``../shared`` (the corpus holds 282 codes, its origin repository 392 CBS codes,
and neither list, nor other obvious candidates, puts the shipped queries' municipalities in
the first half). So the dev municipalities used here are the ones that are provably in the
dev half: those of the shipped queries. Every clustered document of those municipalities is a
query (195 instead of 62), its qrels every document of its cluster from another municipality.
No held-out-half document is ever a query.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.errors import InvalidInput

# Priority order: a document is in the first cluster whose keywords its plan name holds.
CLUSTER_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("veegplan", (r"veegplan", r"\bparaplu")),
    ("buitengebied", (r"buitengebied",)),
    ("centrum", (r"\bcentrum", r"\bbinnenstad", r"\bdorpskern", r"\bkernen")),
    ("school", (r"school", r"onderwijs", r"kindcentrum")),
    ("bedrijventerrein", (r"bedrijventerrein", r"bedrijvenpark", r"werklocatie")),
)
_COMPILED = [(name, [re.compile(k) for k in keys]) for name, keys in CLUSTER_RULES]


def cluster_of(plan_name: str) -> str | None:
    """The topic cluster of a plan by its name, or None (a distractor)."""
    name = plan_name.lower()
    for cluster, patterns in _COMPILED:
        if any(p.search(name) for p in patterns):
            return cluster
    return None


@dataclass(frozen=True)
class Plan:
    doc_id: str
    municipality_code: str
    cluster: str | None


@dataclass(frozen=True)
class DevQueries:
    """Query-by-document dev queries with their qrels and clusters."""

    queries: list[dict[str, Any]]
    qrels: dict[str, set[str]]
    municipalities: list[str]  # the dev municipalities the queries come from, sorted


def read_plans(folder: Path) -> dict[str, Plan]:
    path = folder / "corpus.jsonl"
    if not path.exists():
        raise InvalidInput(f"{path} not found: is {folder} the similar-plans set?")
    plans = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                d = json.loads(line)
                meta = d.get("metadata") or {}
                plans[d["_id"]] = Plan(
                    d["_id"], meta.get("municipality_code", ""), cluster_of(d.get("title", ""))
                )
    return plans


def relevant(plans: dict[str, Plan], query: Plan) -> set[str]:
    """Every document of the query's cluster from another municipality."""
    return {
        p.doc_id
        for p in plans.values()
        if p.cluster == query.cluster and p.municipality_code != query.municipality_code
    }


def dev_queries(folder: Path, shipped: list[dict[str, Any]]) -> DevQueries:
    """Every clustered document of the shipped queries' municipalities as a query."""
    plans = read_plans(folder)
    municipalities = sorted({(q.get("metadata") or {}).get("municipality_code", "") for q in shipped} - {""})
    dev = set(municipalities)
    queries, qrels = [], {}
    for plan in sorted(plans.values(), key=lambda p: p.doc_id):
        if plan.cluster is None or plan.municipality_code not in dev:
            continue
        qid = f"q-{plan.doc_id}"
        meta = {"doc_id": plan.doc_id, "municipality_code": plan.municipality_code, "cluster": plan.cluster}
        queries.append({"_id": qid, "text": "", "metadata": meta})
        qrels[qid] = relevant(plans, plan)
    return DevQueries(queries, qrels, municipalities)


def check_shipped(built: DevQueries, shipped: list[dict[str, Any]], qrels: dict[str, set[str]]) -> None:
    """The shipped queries must be among the built ones, with identical qrels."""
    ours = {q["_id"] for q in built.queries}
    for q in shipped:
        if q["_id"] not in ours:
            raise InvalidInput(f"the cluster rule misses shipped query {q['_id']}")
        if built.qrels[q["_id"]] != qrels.get(q["_id"], set()):
            raise InvalidInput(f"the cluster rule gives other qrels than shipped for {q['_id']}")


def annotate_clusters(folder: Path, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queries with ``metadata.cluster`` filled in from their document's plan name, where
    the query is a document of this set and has no cluster yet (new dicts; input unchanged)."""
    plans: dict[str, Plan] | None = None
    out = []
    for q in queries:
        meta = dict(q.get("metadata") or {})
        if meta.get("doc_id") and "cluster" not in meta:
            plans = plans if plans is not None else read_plans(folder)
            plan = plans.get(meta["doc_id"])
            if plan is not None and plan.cluster is not None:
                meta["cluster"] = plan.cluster
        out.append({**q, "metadata": meta})
    return out
