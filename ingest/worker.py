"""Workers on any number of hosts share large ingests through the PostgreSQL job queue.

``enqueue_ingest`` splits the files under some paths into units of ``unit_files`` files and
queues them as one job; ``work`` is a worker's loop: claim a unit (``search.pg.queue``), keep its
lease alive from a second thread, ingest its files, record its report. A worker killed mid-unit
loses that unit's work only: after the lease expires another worker takes the unit again, and
documents it had already written are skipped as unchanged.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestOptions, ingest_paths
from ingest.sources import Defaults, discover
from search.embedders import Embedder, load_embedder
from search.engines import Place, open_live
from search.errors import InvalidInput, SchuttingError
from search.pg import queue
from search.pg.connection import Database

LEASE_S = 60.0
UNIT_FILES = 8


def enqueue_ingest(
    place: Place,
    paths: Sequence[Path],
    model: str,
    defaults: Defaults = Defaults(),
    unit_files: int = UNIT_FILES,
) -> int:
    """Queue an ingest of every file under ``paths``, ``unit_files`` files per unit; returns the job id."""
    if not place.database_url:
        raise InvalidInput(
            "queued ingests need the PostgreSQL engine: set SCHUTTING_DATABASE_URL or --database-url"
        )
    files = [str(p) for p in discover([p.resolve() for p in paths])]
    if not files:
        raise InvalidInput(f"no readable files under {', '.join(map(str, paths))}")
    units = [{"paths": files[i : i + unit_files]} for i in range(0, len(files), unit_files)]
    db = place.database()
    try:
        return queue.submit(db, "ingest", place.space, {"model": model, "defaults": defaults.__dict__}, units)
    finally:
        db.close()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def work(
    place: Place,
    lease_s: float = LEASE_S,
    once: bool = False,
    idle_s: float = 1.0,
    cache: EmbeddingCache | None = None,
    log: Callable[[str], None] = lambda line: None,
    embedders: dict[str, Embedder] | None = None,
) -> int:
    """Take and run units until the queue is empty (``once``) or forever; returns units done.
    ``embedders``: models already loaded, by id (others are loaded when a unit needs them)."""
    db, name, done = place.database(), worker_name(), 0
    embedders = embedders if embedders is not None else {}
    try:
        while True:
            unit = queue.claim(db, name, lease_s)
            if unit is None:
                if once:
                    return done
                time.sleep(idle_s)
                continue
            log(f"{name}: job {unit.job_id} unit {unit.ordinal} (attempt {unit.attempts})")
            _run(db, place, unit, name, lease_s, embedders, cache)
            done += 1
    finally:
        db.close()


def _run(
    db: Database, place: Place, unit: queue.Unit, name: str, lease_s: float,
    embedders: dict[str, Embedder], cache: EmbeddingCache | None,
) -> None:  # fmt: skip
    stop = threading.Event()
    lease = threading.Thread(target=_keep_lease, args=(db, unit, name, lease_s, stop), daemon=True)
    lease.start()
    try:
        report = _ingest_unit(place, unit, embedders, cache)
        queue.finish(db, unit, name, report)
    except SchuttingError as exc:
        queue.finish(db, unit, name, None, error=str(exc))
    finally:
        stop.set()
        lease.join()


def _keep_lease(db: Database, unit: queue.Unit, name: str, lease_s: float, stop: threading.Event) -> None:
    while not stop.wait(lease_s / 3):
        try:
            if not queue.renew(db, unit, name, lease_s):
                return
        except SchuttingError:
            continue  # the database is briefly unreachable: try again; the lease is long enough


def _ingest_unit(
    place: Place, unit: queue.Unit, embedders: dict[str, Embedder], cache: EmbeddingCache | None
) -> dict[str, Any]:
    if unit.kind != "ingest":
        raise InvalidInput(f"this worker does not know job kind {unit.kind!r}")
    model = str(unit.params["model"])
    if model not in embedders:
        embedders[model] = load_embedder(model)
    index = open_live(Place(place.data_dir, place.database_url, place.database_read_url, unit.space),
                      embedders[model], create=True)  # fmt: skip
    assert index is not None  # create=True with an embedder always gives an index
    try:
        options = IngestOptions(defaults=Defaults(**unit.params.get("defaults", {})))
        report = ingest_paths(index, [Path(p) for p in unit.params["paths"]], options, cache)
    finally:
        index.close()
    return report.as_dict()
