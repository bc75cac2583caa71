"""`python -m api.evaluation.bench_workers --database-url URL [--workers 1 2] --json`: queued-ingest
throughput on the PostgreSQL engine with 1 and with 2 worker processes (``make bench-workers``).

Each run queues the same files (default: the bundled demo corpus, 2 files per unit) into a space of
its own and times worker processes (models loaded before the clock starts) taking units until the
queue is empty, with no embedding cache
(the fast model's embedding is the work being shared). Prints one JSON object: seconds, chunks and
chunks/s per worker count, and the speed-up over one worker.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.worker import enqueue_ingest, work
from search.embedders import load_embedder
from search.engines import Place
from search.pg import queue

MODEL = "use-multilingual"


def _worker(place: Place, ready: Any) -> None:
    model = load_embedder(MODEL)
    model.embed_passages(["opwarmen"])  # load the model before the clock starts
    ready.wait()
    work(place, once=True, embedders={MODEL: model})


def run_once(url: str, paths: Sequence[Path], workers: int, unit_files: int) -> dict[str, Any]:
    place = Place(Path("data/bench-workers"), url, space=f"bench-workers/{secrets.token_hex(4)}")
    job = enqueue_ingest(place, paths, MODEL, unit_files=unit_files)
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(workers + 1)
    procs = [context.Process(target=_worker, args=(place, ready)) for _ in range(workers)]
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
    p.add_argument("--paths", nargs="+", type=Path, default=[Path("data/demo")])
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    p.add_argument("--unit-files", type=int, default=2)
    args = p.parse_args(argv)
    runs = [run_once(args.database_url, args.paths, n, args.unit_files) for n in args.workers]
    speedup = {f"{r['workers']}x": round(r["chunks_per_s"] / runs[0]["chunks_per_s"], 2) for r in runs}
    print(json.dumps({"model": MODEL, "runs": runs, "speedup": speedup}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
