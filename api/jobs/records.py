"""Admin job records, whichever engine keeps them: the ``Job`` and the ``JobRecords`` interface.

Life of a job: a writer takes the write lock and records the job ``queued``; the web app's
runner thread (or the CLI itself) moves it to ``running``, then ``done`` or ``failed``. Counts,
the current document and every per-document failure are written as it goes, so
``GET /admin/jobs/{id}`` and ``schutting jobs ID`` show them live; ``result`` keeps what a kind
reports beyond the counts (a harvest: its cursor, superseded versions, ...). A job whose process died
(kill -9, power loss) is marked ``failed`` ("interrupted") when jobs are listed or the next
writer starts. Rerunning is safe: ingest skips what is already indexed, and a reindex starts
over beside the live generation, which a crash never touches. ``api.jobs.runner`` runs them.

Two implementations: ``data_dir/jobs.sqlite`` for the embedded engine (``api.jobs.store``; a dead
job is found by its pid) and the database for PostgreSQL (``api.jobs.pg_store``; a dead job is found
by its heartbeat), so that every API node lists every job whichever node runs it.
``JobStore.for_settings`` picks the one for the configured engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ingest.pipeline import IngestReport

KINDS = ("ingest", "reindex", "harvest", "embed")


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    state: str  # queued, running, done, failed
    params: dict[str, Any]
    pid: int | None
    total: int | None  # documents expected (an embed job: passages); None until counted
    done: int  # added + updated
    failed: int
    skipped: int  # unchanged
    removed: int  # source gone from a synced folder
    chunks: int
    current: str  # the document being worked on
    error: str  # why the job failed
    created_at: str
    started_at: str | None
    finished_at: str | None
    rerun_of: int | None
    added: int  # documents new to the index
    updated: int  # documents replaced by a changed version
    result: dict[str, Any]  # the kind's own report when it ended; {} for ingest and reindex

    @property
    def processed(self) -> int:
        """Documents handled; for an embed job, passages embedded (its total counts passages too)."""
        return self.chunks if self.kind == "embed" else self.done + self.failed + self.skipped

    def rate(self) -> float | None:
        """Documents per second since the job started."""
        if not self.started_at:
            return None
        end = datetime.fromisoformat(self.finished_at) if self.finished_at else datetime.now(UTC)
        seconds = (end - datetime.fromisoformat(self.started_at)).total_seconds()
        return self.processed / seconds if seconds > 0 else None

    def as_dict(self) -> dict[str, Any]:
        rate = self.rate()
        left = (self.total or 0) - self.processed
        eta = left / rate if rate and self.state == "running" and self.total is not None else None
        return {
            **asdict(self),
            "processed": self.processed,
            "rate": round(rate, 3) if rate is not None else None,
            "eta_seconds": round(max(eta, 0.0), 1) if eta is not None else None,
        }


class JobRecords(Protocol):
    """Where job records live; safe to share between threads (the app's runner and its requests)."""

    def create(self, kind: str, params: dict[str, Any], rerun_of: int | None = None) -> Job: ...

    def start(self, job_id: int) -> None:
        """The job runs, in this process."""
        ...

    def set_total(self, job_id: int, total: int) -> None: ...

    def progress(self, job_id: int, report: IngestReport, current: str, new_failures: Iterable[Any]) -> None:
        """Counts and the document being worked on; ``new_failures`` are added to the job's errors."""
        ...

    def set_result(self, job_id: int, result: dict[str, Any]) -> None:
        """What the kind reports so far (a harvest: its counts per municipality), while it runs."""
        ...

    def finish(
        self, job_id: int, report: IngestReport, error: str = "", result: dict[str, Any] | None = None
    ) -> None:
        """Final counts, the complete list of failures and the result; ``failed`` when error is given."""
        ...

    def get(self, job_id: int) -> Job:
        """The job (JobNotFound when there is none)."""
        ...

    def recent(self, limit: int = 50) -> list[Job]:
        """Newest first."""
        ...

    def errors(self, job_id: int) -> list[tuple[str, str]]:
        """(source, reason) of every document that failed, in the order they failed."""
        ...

    def mark_interrupted(self, job_ids: Iterable[int] | None = None) -> list[int]:
        """Fail the jobs given, or (None) every job that cannot still be running now that the caller
        holds the write lock; returns their ids."""
        ...

    def recover(self, active: Iterable[int] = ()) -> list[int]:
        """Mark unfinished jobs interrupted whose process is gone (this process's: unless in ``active``)."""
        ...

    def close(self) -> None: ...


def interrupted(pid: int | None, host: str = "") -> str:
    """Why a job whose process died failed (the same words on both engines)."""
    where = f"pid {pid} on {host}" if host else f"pid {pid}"
    return f"interrupted: the process running it ({where}) stopped; run it again"


def report_counts(report: IngestReport) -> tuple[int, int, int, int, int, int, int]:
    """The counts both stores keep of a report, in their column order: done, added, updated,
    failed, skipped, removed, chunks."""
    return (report.done, len(report.added), len(report.replaced), len(report.failed), len(report.skipped),
            len(report.removed), report.chunks)  # fmt: skip
