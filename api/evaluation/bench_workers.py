"""`python -m api.evaluation.bench_workers --database-url URL [--workers 1 2] --json`: queued-ingest
throughput on the PostgreSQL engine with 1 and with 2 worker processes (``make bench-workers``).

Each run queues the same files into a space of its own and times worker processes (models loaded
before the clock starts, ``--threads`` threads each: 1, so that two workers are two cores) taking
units until the queue is empty, with no embedding cache (the fast model's embedding is the work being
shared). The default files are real zoning-plan explanations (``--plans`` of the shared corpus's 922,
``--per-file`` to a corpus.jsonl file, one file per unit): about 20 passages a plan, so a unit is
seconds of embedding, not a transaction. Prints one JSON object: seconds, chunks and chunks/s per
worker count, and the speed-up over one worker.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.evaluation.bench_scale import SHARED
from ingest.worker import enqueue_ingest, work
from search.embedders import load_embedder
from search.engines import Place
from search.pg import queue

MODEL = "use-multilingual"
PLANS = SHARED / "corpus" / "bestemmingsplannen" / "documents.jsonl"


def plan_files(folder: Path, plans: int, per_file: int, source: Path = PLANS) -> list[Path]:
    """The first ``plans`` plans of the shared corpus, ``per_file`` to a corpus.jsonl file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with source.open(encoding="utf-8") as f:
        lines = [line for _, line in zip(range(plans), f, strict=False)]
    files = []
    for start in range(0, len(lines), per_file):
        path = folder / f"plans-{start // per_file:04d}.jsonl"
        path.write_text("".join(lines[start : start + per_file]), encoding="utf-8")
        files.append(path)
    return files


def _worker(place: Place, ready: Any, threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before the model loads (search.embedders.model_threads)
    model = load_embedder(MODEL)
    model.embed_passages(["opwarmen"])  # load the model before the clock starts
    ready.wait()
    work(place, once=True, embedders={MODEL: model})


def run_once(url: str, paths: Sequence[Path], workers: int, unit_files: int, threads: int) -> dict[str, Any]:
    place = Place(Path("data/bench-workers"), url, space=f"bench-workers/{secrets.token_hex(4)}")
    job = enqueue_ingest(place, paths, MODEL, unit_files=unit_files)
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(workers + 1)
    procs = [context.Process(target=_worker, args=(place, ready, threads)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    ready.wait()
    started = time.perf_counter()
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    db = place.database()
    try:
        state = queue.progress(db, job)
    finally:
        db.close()
    return {"workers": workers, "seconds": round(seconds, 1), "chunks": state["chunks"],
            "chunks_per_s": round(state["chunks"] / seconds, 2), "units": state["units"]}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_workers", description=__doc__)
    p.add_argument("--database-url", required=True)
    p.add_argument("--paths", nargs="+", type=Path, help="files to ingest (default: shared zoning plans)")
    p.add_argument("--plans", type=int, default=60, help="plans of the shared corpus (default 60)")
    p.add_argument("--per-file", type=int, default=3, help="plans per file (default 3)")
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    p.add_argument("--unit-files", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="embedding threads per worker (default 1)")
    args = p.parse_args(argv)
    paths = args.paths or plan_files(Path("data/bench-workers/plans"), args.plans, args.per_file)
    runs = [run_once(args.database_url, paths, n, args.unit_files, args.threads) for n in args.workers]
    speedup = {f"{r['workers']}x": round(r["chunks_per_s"] / runs[0]["chunks_per_s"], 2) for r in runs}
    print(json.dumps({"model": MODEL, "threads_per_worker": args.threads, "files": len(paths), "runs": runs,
                      "speedup": speedup}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
