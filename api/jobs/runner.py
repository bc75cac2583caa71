"""Running admin jobs: in the web app's runner thread, or in the foreground by the CLI.

Every run holds the write lock from before its record is created until it ends, so there is
one writer at a time and a job record never claims to run while its writer is gone unnoticed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from api.jobs.embedding import embed_params
from api.jobs.kinds import JOB_KINDS
from api.jobs.progress import Display, JobProgress
from api.jobs.records import Job, JobRecords
from api.jobs.store import JobStore
from api.settings import Settings
from ingest.pipeline import IngestReport
from ingest.reindex import ReindexFailed
from search.errors import SchuttingError
from search.locking import WriterLock

log = logging.getLogger(__name__)


def execute(
    settings: Settings,
    store: JobRecords,
    job_id: int,
    display: Display | None = None,
    then: Callable[[Job, IngestReport], None] | None = None,
) -> IngestReport:
    """Run a recorded job to its end (the caller holds the write lock); failures are recorded, then raised.
    ``then`` runs after the work and before the job shows ``done``: whoever waits for the job finds
    what it leads to (the embed job after a lexical-first ingest) already recorded."""
    job = store.get(job_id)
    progress = JobProgress(store, job_id, display)
    store.start(job_id)
    try:
        report = JOB_KINDS[job.kind](settings, job.params, progress)
        if then is not None:
            then(job, report)
    except ReindexFailed as exc:
        store.finish(job_id, exc.report, error=str(exc), result=progress.result)
        raise
    except BaseException as exc:
        store.finish(job_id, progress.report, error=_describe(exc), result=progress.result)
        raise
    store.finish(job_id, report, result=progress.result)
    return report


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted by the user"
    return str(exc) if isinstance(exc, SchuttingError) else f"{type(exc).__name__}: {exc}"


def run_in_foreground(
    settings: Settings,
    kind: str,
    params: dict[str, Any],
    display: Display | None = None,
    rerun_of: int | None = None,
) -> tuple[Job, IngestReport]:
    """A job run by this process (the CLI): take the write lock (Busy if taken), record, run."""
    store = JobStore.for_settings(settings)
    try:
        with WriterLock(settings.data_dir, f"schutting {kind}") as lock:
            store.mark_interrupted()  # we hold the lock: no other job of this data dir can still run
            job = store.create(kind, params, rerun_of)
            lock.describe(f"{kind} job {job.id} (command line)")
            report = execute(settings, store, job.id, display)
        return store.get(job.id), report
    finally:
        store.close()


class JobRunner:
    """The web app's background worker: runs submitted jobs in order; each comes with the lock held."""

    def __init__(self, settings: Settings, store: JobRecords) -> None:
        self.settings = settings
        self.store = store
        self._queue: queue.Queue[tuple[int, WriterLock]] = queue.Queue()
        self._active: set[int] = set()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job_id: int, lock: WriterLock) -> None:
        """Queue a recorded job; the runner releases ``lock`` when the job ends."""
        with self._guard:
            self._active.add(job_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="schutting-jobs", daemon=True)
                self._thread.start()
        self._queue.put((job_id, lock))

    def active(self) -> set[int]:
        with self._guard:
            return set(self._active)

    def _work(self) -> None:
        while True:
            job_id, lock = self._queue.get()
            follow: list[int] = []  # the embed job a lexical-first ingest leads to
            try:
                execute(self.settings, self.store, job_id, then=partial(self._embed_after, lock, follow))
            except Exception:
                log.exception("job %d failed", job_id)  # and recorded in the job
            finally:
                with self._guard:
                    self._active.discard(job_id)
                    self._active.update(follow)
                if not follow:
                    lock.release()
                else:
                    self._queue.put((follow[0], lock))  # the lock passes on to the embed job

    def _embed_after(self, lock: WriterLock, follow: list[int], job: Job, report: IngestReport) -> None:
        """After a lexical-first ingest, an embed job for its pending passages (same lock)."""
        if job.kind != "ingest" or not job.params.get("lexical_first") or not report.chunks:
            return
        embed = self.store.create("embed", embed_params(), rerun_of=None)
        lock.describe(f"embed job {embed.id} (web, after ingest job {job.id})")
        follow.append(embed.id)
