"""`schutting eval`: a BEIR-layout folder through the real ingest and search path.

The index for a set is cached per (corpus file, model, chunking) under
``<data_dir>/eval/``, so a second run only re-queries.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from api.evaluation import folds, similar_eval
from api.settings import Settings
from ingest.embedding import EmbeddingCache
from ingest.municipalities import load_municipalities
from ingest.pipeline import IngestOptions, ingest_documents
from ingest.sources import Defaults, complete
from ingest.text import read_corpus_jsonl
from search.embedders import load_embedder
from search.engine import IndexEngine
from search.engines import Place, open_live
from search.errors import InvalidInput, UnreadableDocument
from search.metrics import evaluate_run, ndcg_at, percentile
from search.pg.generations import GENERATION_FORMAT
from search.retrieval import query_document, search, similar
from search.types import Document

INDEX_RECIPE = "chunks200-title-context-v1"  # change when chunking or passage text changes
SIMILAR_PLANS = "similar-plans"  # the query-by-document set with topic clusters (similar_eval.py)


def load_queries(folder: Path) -> list[dict[str, Any]]:
    with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_qrels(folder: Path, split: str) -> dict[str, set[str]]:
    path = folder / "qrels" / f"{split}.tsv"
    if not path.exists():
        raise InvalidInput(f"{path} not found: is {folder} a BEIR-layout folder?")
    qrels: dict[str, set[str]] = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if float(row.get("score", 1) or 0) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return qrels


def eval_index(folder: Path, settings: Settings, model: str) -> IndexEngine:
    """The cached index of a set's corpus, built on first use."""
    corpus = folder / "corpus.jsonl"
    if not corpus.exists():
        raise InvalidInput(f"{corpus} not found: is {folder} a BEIR-layout folder?")
    stat = corpus.stat()
    place = Place.of(settings)
    # a database generation of an older format is refused: a cached set of one is built again
    recipe = INDEX_RECIPE + (f"-pg{GENERATION_FORMAT}" if place.engine == "postgres" else "")
    key = hashlib.sha1(f"{corpus.resolve()}|{stat.st_size}|{model}|{recipe}".encode()).hexdigest()[:12]
    place = place.sub(f"eval/{folder.name}-{key}")  # a folder, or a space in the database
    embedder = load_embedder(model)
    index = open_live(place, embedder, create=True)
    assert index is not None
    if index.catalog.get_meta("eval_complete") != "1":
        ingest_documents(index, _corpus_documents(corpus), IngestOptions(batch_chunks=64),
                         EmbeddingCache.in_data_dir(settings.data_dir))  # fmt: skip
        index.flush()
        index.catalog.set_meta("eval_complete", "1")
    return index


def _corpus_documents(corpus: Path) -> Any:
    registry = load_municipalities()
    for item in read_corpus_jsonl(corpus):
        if isinstance(item, UnreadableDocument):
            continue
        yield complete(item, corpus, Defaults(), registry)


def evaluate(
    folder: Path,
    settings: Settings,
    model: str,
    mode: str = "hybrid",
    split: str = "dev",
    limit: int | None = None,
) -> dict[str, Any]:
    qrels = load_qrels(folder, split)
    queries = [q for q in load_queries(folder) if q["_id"] in qrels][:limit]
    if folder.name == SIMILAR_PLANS:
        queries = similar_eval.annotate_clusters(folder, queries)
    started = time.monotonic()
    index = eval_index(folder, settings, model)
    index_seconds = time.monotonic() - started
    run, latencies = {}, []
    for query in queries:
        t0 = time.perf_counter()
        run[query["_id"]] = _ranked_ids(index, query, mode)
        latencies.append((time.perf_counter() - t0) * 1000)
    metrics = evaluate_run(run, {q["_id"]: qrels[q["_id"]] for q in queries})
    return {
        **metrics,
        **by_cluster(queries, run, qrels),
        "set": folder.name,
        "split": split,
        "mode": mode,
        "model": model,
        "documents": index.catalog.count_documents(),
        "chunks": index.catalog.count_chunks(),
        "latency_ms_p50": round(percentile(latencies, 50), 1),
        "latency_ms_p95": round(percentile(latencies, 95), 1),
        "index_seconds": round(index_seconds, 1),
    }


def by_cluster(
    queries: list[dict[str, Any]], run: dict[str, list[str]], qrels: dict[str, set[str]]
) -> dict[str, Any]:
    """``{"by_cluster": {cluster: nDCG@10}}`` over the queries with ``metadata.cluster``; {} if none."""
    groups: dict[str, list[float]] = {}
    for q in queries:
        name = (q.get("metadata") or {}).get("cluster")
        if name:
            groups.setdefault(name, []).append(ndcg_at(run.get(q["_id"], []), qrels[q["_id"]], 10))
    if not groups:
        return {}
    return {"by_cluster": {c: round(sum(v) / len(v), 4) for c, v in sorted(groups.items())}}


def evaluate_folds(
    folder: Path, settings: Settings, model: str, k: int, split: str = "dev"
) -> dict[str, Any]:
    """Find-similar recipes chosen by K-fold cross-validation over dev municipalities (folds.py)."""
    if folder.name != SIMILAR_PLANS:
        raise InvalidInput(f"--folds needs the {SIMILAR_PLANS} set (query by document with topic clusters)")
    if not 2 <= k <= 20:
        raise InvalidInput("--folds must be between 2 and 20")
    shipped = load_queries(folder)
    qrels = load_qrels(folder, split)
    dev = similar_eval.dev_queries(folder, shipped)
    similar_eval.check_shipped(dev, [q for q in shipped if q["_id"] in qrels], qrels)
    index = eval_index(folder, settings, model)
    scores, ms = folds.score_grid(index, dev, folds.GRID)
    ids = {q["_id"] for q in shipped}
    return {
        "set": folder.name,
        "split": split,
        "model": model,
        "queries": len(dev.queries),
        "municipalities": len(dev.municipalities),
        "folds": k,
        "cv": folds.cross_validate(dev, scores, folds.GRID, k, ids),
        "grid": folds.grid_table(dev, scores, folds.GRID, ids),
        "signals_ms_mean": round(ms, 1),
    }


def _ranked_ids(index: IndexEngine, query: dict[str, Any], mode: str) -> list[str]:
    doc_id = (query.get("metadata") or {}).get("doc_id")
    if doc_id and index.catalog.document(doc_id) is not None:
        results = similar(index, query_document(index, doc_id), k=100, mode=mode)
    else:
        results = search(index, query["text"], k=100, mode=mode)
    return [r.document.id for r in results]


def format_metrics(m: dict[str, Any]) -> str:
    return (
        f"{m['set']} ({m['split']}, {m['queries']} queries, {m['documents']} documents, {m['chunks']} chunks)\n"
        f"model {m['model']}, mode {m['mode']}\n"
        f"nDCG@10 {m['ndcg@10']:.4f}  MRR@10 {m['mrr@10']:.4f}  Recall@10 {m['recall@10']:.4f}  "
        f"Recall@100 {m['recall@100']:.4f}\n"
        f"latency p50 {m['latency_ms_p50']} ms, p95 {m['latency_ms_p95']} ms"
    )


__all__ = ["Document", "evaluate", "format_metrics"]
