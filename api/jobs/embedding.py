"""The embed job: vectors for the passages a lexical-first ingest left pending (``ingest.backfill``).

The job is the one writer; with ``workers`` > 1 it starts that many minus one helper processes
(``schutting embed --worker-only``) that take units beside it. Its record counts passages: total
(pending when it started), processed (embedded since), rate and ETA; its result has the units by
state and the semantic coverage of the index.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from api.jobs.progress import JobProgress
from api.settings import Settings
from ingest.backfill import LEASE_S, UNIT_PASSAGES, BackfillReport, backfill, generation_of
from ingest.db_cache import embedding_cache
from ingest.pipeline import IngestReport
from ingest.unit_tables import unit_table
from search.engines import Place, require_live


def embed_params(workers: int = 1, threads: int | None = None, unit_passages: int = UNIT_PASSAGES,
                 lease_s: float = LEASE_S) -> dict[str, Any]:  # fmt: skip
    return {"workers": workers, "threads": threads, "unit_passages": unit_passages, "lease_s": lease_s}


def run_embed(settings: Settings, params: dict[str, Any], progress: JobProgress) -> IngestReport:
    place = Place.of(settings)
    index = require_live(place)
    cache = embedding_cache(place, settings.data_dir)
    table = unit_table(place)
    unit, lease = int(params.get("unit_passages") or UNIT_PASSAGES), float(params.get("lease_s") or LEASE_S)
    progress.set_total(index.count_pending())
    table.plan(generation_of(index), index.pending_chunks(), unit)  # before helpers look for units
    helpers = [helper(settings, params, lease) for _ in range(int(params.get("workers") or 1) - 1)]

    def show(report: BackfillReport) -> None:
        progress.result = report.as_dict()
        progress(IngestReport(chunks=report.applied), progress_line(report))
        progress.store.set_result(progress.job_id, progress.result)

    try:
        report = backfill(index, cache, table, unit_passages=unit, lease_s=lease, progress=show)
    finally:
        for process in helpers:
            process.terminate()
            process.wait()
        index.close()
        cache.close()
        table.close()
    progress.result = report.as_dict()
    return IngestReport(chunks=report.applied, seconds=0.0)


def progress_line(report: BackfillReport) -> str:
    eta = report.eta_seconds
    left = f", ETA {duration(eta)}" if eta is not None else ""
    return (
        f"{report.applied}/{report.pending_at_start} passages, {report.rate:.2f}/s{left}; "
        f"semantic index {int(100 * report.coverage)}%"
    )


def duration(seconds: float) -> str:
    """4h05m, 3m07s, 42s."""
    s = max(int(seconds), 0)
    return (
        f"{s // 3600}h{s % 3600 // 60:02d}m"
        if s >= 3600
        else f"{s // 60}m{s % 60:02d}s"
        if s >= 60
        else f"{s}s"
    )


def helper(settings: Settings, params: dict[str, Any], lease_s: float) -> subprocess.Popen[bytes]:
    """A ``schutting embed --worker-only`` process on this machine (single-threaded with threads=1)."""
    env = dict(os.environ)
    if params.get("threads"):
        env["OMP_NUM_THREADS"] = str(int(params["threads"]))
    command = [sys.executable, "-m", "api.cli", "--data-dir", str(settings.data_dir)]
    if settings.database_url:
        command += ["--database-url", settings.database_url]
    command += ["embed", "--worker-only", "--lease", str(lease_s)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
