"""`schutting bench scale --chunks N [--data-dir D] --json` / `make bench-scale`.

Builds (or reuses, in D) an index of N passages made from the shared corpora's real texts
(api/evaluation/scale_data.py says how), reopens it and measures with the product's own
`Index` and ranking: open time, memory, disk, recall@10 of the dense path against exact
search over the same vectors, question latency per mode (query embedding excluded: the
questions of vac-questions are embedded beforehand), find-similar, and write costs. The
build runs in a child process, so the measured memory is that of a reader that opened it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from api.evaluation import scale_data
from ingest.embedding import EmbeddingCache
from search.embedders import Embedder, load_embedder
from search.engine import IndexEngine
from search.index import Index
from search.retrieval import query_document, search, similar
from search.types import Filters

MODEL = "use-multilingual"
BUILD_BATCH = 5000  # chunks per catalog transaction during the first load
QUERIES = 100
SHARED = Path(__file__).resolve().parents[2].parent / "shared"


class PrecomputedQueries:
    """The index's embedder for the bench: query vectors computed before timing starts."""

    def __init__(self, model: Embedder, questions: Sequence[str]) -> None:
        self.model_id, self.dim = model.model_id, model.dim
        self._vectors = {q: model.embed_query(q) for q in questions}

    def matrix(self, questions: Sequence[str]) -> np.ndarray:
        return np.vstack([self._vectors[q] for q in questions])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("the scale bench does not embed passages while measuring")

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[text]


def build(folder: Path, chunks: int, corpus: Path, cache_dir: Path) -> float:
    """The bench index of `chunks` passages in `folder`; returns seconds spent."""
    model = load_embedder(MODEL)
    pool = scale_data.load_pool(corpus, model, EmbeddingCache(cache_dir / "embedding-cache.sqlite"))
    started = time.perf_counter()  # the pool's embedding (cached after the first run) is not build time
    index = Index.create(folder, model)
    with index.bulk():  # a first load: catalog batches, derived structures built once at the end
        for batch in scale_data.batches(scale_data.documents(pool, chunks), BUILD_BATCH):
            index.put(batch)
    seconds = time.perf_counter() - started
    index.catalog.set_meta("bench_build_s", f"{seconds:.1f}")
    index.close()
    return seconds


def _timed(calls: Sequence[Callable[[], object]]) -> dict[str, float]:
    """Wall-clock p50/p95 ms, and the same for this process's CPU time: on a shared machine the
    CPU figures say what an idle one would show (the code under test is single-threaded)."""
    wall, cpu = [], []
    for call in calls:
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return {
        "p50": round(float(np.percentile(wall, 50)), 1),
        "p95": round(float(np.percentile(wall, 95)), 1),
        "cpu_p50": round(float(np.percentile(cpu, 50)), 1),
        "cpu_p95": round(float(np.percentile(cpu, 95)), 1),
    }


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def exact_top10(index: Index, queries: np.ndarray) -> np.ndarray:
    """Top-10 chunk ids per query by an exact scan of the catalog's full-precision vectors."""
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best = np.zeros((len(queries), 0), dtype=np.float32)
    after = 0
    while True:
        rows = index.catalog.rows(
            "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT 50000", (after,)
        )
        if not rows:
            break
        after = rows[-1][0]
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        scores = np.hstack([best, queries @ vectors.T])
        all_ids = np.hstack([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))])
        top = np.argsort(-scores, axis=1)[:, :10]
        best, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(all_ids, top, 1)
    return best_ids


def recall(index: Index, queries: np.ndarray, exact: np.ndarray) -> float:
    """The product's dense top-10 (no filter) against the exact top-10."""
    everything = Filters(current_only=False)
    found = [{i for i, _ in index.dense_search(q, everything, 10)} for q in queries]
    return round(
        float(np.mean([len(f & set(t)) / 10 for f, t in zip(found, exact.tolist(), strict=True)])), 4
    )


def recall_by_nprobe(index: Index, queries: np.ndarray, exact: np.ndarray) -> dict[str, Any]:
    """Recall@10 and dense latency per number of IVF lists searched (how NPROBE was chosen)."""
    if not index.store.approximate:
        return {}
    chosen, out = index.store.nprobe, {}
    for nprobe in (8, 16, 32, 64, 128):
        index.store.nprobe = nprobe
        ms = _timed([partial(index.dense_search, q, Filters(current_only=False), 200) for q in queries])
        out[str(nprobe)] = {"recall@10": recall(index, queries, exact), "dense_search_ms": ms}
    index.store.nprobe = chosen
    return out


def measure(folder: Path, questions: list[str], model: Embedder, pool: scale_data.Pool) -> dict[str, Any]:
    embedder = PrecomputedQueries(model, questions)
    faiss.omp_set_num_threads(1)  # one thread per query, as a server answering many at once
    started = time.perf_counter()
    index = Index.open(folder, embedder)  # type: ignore[arg-type]
    open_s = time.perf_counter() - started
    query_ms, profiles_s = latencies(index, questions)
    probes = embedder.matrix(questions[:50])
    exact = exact_top10(index, probes)
    out = {
        "chunks": index.catalog.count_chunks(),
        "build_s": float(index.catalog.get_meta("bench_build_s") or 0),
        "bytes_per_vector": round(index.store.file_bytes(folder) / max(index.store.count(), 1), 1),
        "vector_index": "ivf-sq8" if index.store.approximate else "exact-flat",
        "disk_bytes_per_chunk": round(
            sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / index.catalog.count_chunks()
        ),
        "open_s": round(open_s, 2),
        "rss_mb": _rss_mb(),
        "recall@10": recall(index, probes, exact),
        "recall_by_nprobe": recall_by_nprobe(index, probes, exact),
        "load_avg": round(os.getloadavg()[0], 1),
        "query_ms": query_ms,
        "profiles_build_s": round(profiles_s, 2),
    }
    out.update(writes(index, pool))
    index.close()
    return out


def latencies(index: Index, questions: list[str]) -> tuple[dict[str, dict[str, float]], float]:
    """Per mode p50/p95 (wall and CPU ms), and the seconds the first find-similar spent on profiles."""
    rng = np.random.default_rng(1)
    towns = [code for code, _, _ in index.catalog.municipalities()]
    sql = "SELECT id FROM documents WHERE is_current = 1 ORDER BY random() LIMIT 30"
    docs = [r[0] for r in index.catalog.rows(sql)]
    query_ms = {
        mode: _timed([partial(search, index, q, mode=mode) for q in questions])
        for mode in ("dense", "lexical", "hybrid")
    }
    query_ms["hybrid_filtered"] = _timed(
        [partial(search, index, q, Filters(municipalities=(str(rng.choice(towns)),))) for q in questions]
    )
    started = time.perf_counter()
    index.profiles()
    profiles_s = time.perf_counter() - started
    query_ms["similar"] = _timed([partial(_similar, index, d) for d in docs])
    return query_ms, profiles_s


def _similar(index: IndexEngine, doc_id: str) -> object:
    return similar(index, query_document(index, doc_id))  # k=10, as the pages ask


def writes(index: Index, pool: scale_data.Pool) -> dict[str, float]:
    """Seconds for a 1,000-passage batch, one document and one deletion, each with its flush."""
    new = list(scale_data.documents(pool, 1000 + 5 * 20, seed=99, prefix="write"))
    batch, singles = new[:-5], new[-5:]

    def put(items: list[Any]) -> None:
        index.put(items)
        index.flush()

    def remove(doc_id: str) -> None:
        index.delete([doc_id])
        index.flush()

    gone = [d.id for d, _, _ in [*singles, *batch]]
    timings = {
        "batch_1000_s": _timed([partial(put, batch)]),
        "one_document_s": _timed([partial(put, [d]) for d in singles]),
        "delete_one_s": _timed([partial(remove, g) for g in gone[:5]]),
    }
    out = {name: t["p50"] / 1000 for name, t in timings.items()}
    out.update({name.replace("_s", "_cpu_s"): t["cpu_p50"] / 1000 for name, t in timings.items()})
    index.delete(gone[5:])
    index.flush()
    return {k: round(v, 4) for k, v in out.items()}


def run(chunks: int, data_dir: Path, corpus: Path = SHARED / "corpus") -> dict[str, Any]:
    """Build (once) and measure the bench index of `chunks` passages under `data_dir`."""
    folder = data_dir / f"index-{chunks}"
    if (folder / "manifest.json").exists():
        index = Index.open(folder)
        complete = index.catalog.get_meta("bench_build_s") is not None
        index.close()
        if not complete:
            shutil.rmtree(folder)
    if not (folder / "manifest.json").exists():
        child = multiprocessing.get_context("spawn").Process(
            target=build, args=(folder, chunks, corpus, data_dir)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"building the bench index failed (exit code {child.exitcode})")
    model = load_embedder(MODEL)
    pool = scale_data.load_pool(corpus, model, EmbeddingCache(data_dir / "embedding-cache.sqlite"))
    lines = (SHARED / "eval" / "vac-questions" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["text"] for line in lines[:QUERIES]]
    result = measure(folder, questions, model, pool)
    result["method"] = scale_data.METHOD
    return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chunks", type=int, required=True, help="passages in the bench index")
    p.add_argument("--data-dir", dest="bench_dir", type=Path, default=Path("data/bench-scale"),
                   help="where bench indexes are built and reused (default: data/bench-scale)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")


def report(args: argparse.Namespace) -> str:
    result = run(args.chunks, args.bench_dir)
    if args.json:
        return json.dumps(result)
    q = result["query_ms"]
    lines = [f"{k}: {v}" for k, v in result.items() if k not in ("query_ms", "method")]
    lines += [f"query p50/p95 ms {mode}: {v['p50']} / {v['p95']}" for mode, v in q.items()]
    return "\n".join([*lines, f"data: {result['method']}"])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_scale", description=__doc__)
    add_arguments(p)
    print(report(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
