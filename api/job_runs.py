"""Running admin jobs: in the web app's runner thread, or in the foreground by the CLI.

Every run holds the write lock from before its record is created until it ends, so there is
one writer at a time and a job record never claims to run while its writer is gone unnoticed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from api.jobs import Job, JobStore
from ingest.embedding import EmbeddingCache
from ingest.harvest import HarvestReport, harvest_cvdr
from ingest.pipeline import IngestOptions, IngestReport, ingest_paths
from ingest.reindex import ReindexFailed, reindex
from ingest.sources import Defaults, ReadOptions, discover
from ingest.sru import DEFAULT_ENDPOINT, HarvestQuery, build_cql
from search.config import Settings
from search.embedders import load_embedder
from search.errors import IndexMismatch, InvalidInput, SchuttingError
from search.generations import open_live
from search.index import Index
from search.locking import WriterLock

log = logging.getLogger(__name__)


class Display(Protocol):
    """Where a foreground job shows its progress (the CLI's progress bar)."""

    def set_total(self, total: int) -> None: ...

    def update(self, report: IngestReport, source: str) -> None: ...


class JobProgress:
    """The progress callback of a running job: saves counts and failures, feeds an optional display."""

    def __init__(self, store: JobStore, job_id: int, display: Display | None = None) -> None:
        self.store = store
        self.job_id = job_id
        self.display = display
        self.report = IngestReport()
        self.result: dict[str, Any] = {}  # what the runner reports beyond the counts, kept in the record
        self._saved_failures = 0
        self._saved_at = 0.0

    def set_total(self, total: int) -> None:
        self.store.set_total(self.job_id, total)
        if self.display is not None:
            self.display.set_total(total)

    def __call__(self, report: IngestReport, source: str) -> None:
        self.report = report
        if self.display is not None:
            self.display.update(report, source)
        now = time.monotonic()
        if len(report.failed) > self._saved_failures or not source or now - self._saved_at >= 0.25:
            self.store.progress(self.job_id, report, source, report.failed[self._saved_failures :])
            self._saved_failures, self._saved_at = len(report.failed), now


# -- what each kind of job does ----------------------------------------------------------


def run_ingest(settings: Settings, params: dict[str, Any], progress: JobProgress) -> IngestReport:
    paths = [Path(p) for p in params["paths"]]
    progress.set_total(count_documents(paths))
    index = ingest_target(settings, str(params.get("model") or ""))
    cache = EmbeddingCache(settings.data_dir / "embedding-cache.sqlite")
    try:
        return ingest_paths(index, paths, ingest_options(params), cache, progress)
    finally:
        index.close()
        cache.close()


def run_reindex(settings: Settings, params: dict[str, Any], progress: JobProgress) -> IngestReport:
    live = open_live(settings.data_dir)
    if live is not None:
        progress.set_total(live.catalog.count_documents())
        live.close()
    cache = EmbeddingCache(settings.data_dir / "embedding-cache.sqlite")
    try:
        return reindex(settings.data_dir, params.get("model") or None, cache, progress)
    finally:
        cache.close()


class HarvestIncomplete(SchuttingError):
    """A harvest stopped early (network trouble, Ctrl-C); running it again resumes where it stopped."""

    def __init__(self, report: HarvestReport) -> None:
        super().__init__(f"harvest incomplete: {report.error}")
        self.report = report


def run_harvest(settings: Settings, params: dict[str, Any], progress: JobProgress) -> IngestReport:
    """Harvest CVDR (``ingest.harvest``); the job counts records: added, updated, unchanged, failed."""
    index = ingest_target(settings, str(params.get("model") or ""))
    cache = EmbeddingCache(settings.data_dir / "embedding-cache.sqlite")
    try:
        report = harvest_cvdr(
            index, harvest_query(params), params.get("endpoint") or DEFAULT_ENDPOINT, index.catalog,
            HarvestProgress(progress), rate=float(params.get("rate", 1.0)),
            retries=int(params.get("retries", 4)), page_size=int(params.get("page_size", 100)), cache=cache,
        )  # fmt: skip
    finally:
        index.close()
        cache.close()
    progress.report, progress.result = harvested(report), report.as_dict()
    if not report.complete:
        raise HarvestIncomplete(report)
    return progress.report


JOB_KINDS: dict[str, Callable[[Settings, dict[str, Any], JobProgress], IngestReport]] = {
    "ingest": run_ingest,
    "reindex": run_reindex,
    "harvest": run_harvest,
}


class HarvestProgress:
    """A harvest's progress callback feeding a job's: records handled of CVDR's numberOfRecords."""

    def __init__(self, job: JobProgress) -> None:
        self.job = job
        self.total: int | None = None

    def __call__(self, report: HarvestReport, identifier: str) -> None:
        if report.total != self.total:
            self.total = report.total
            self.job.set_total(report.total)
        self.job(harvested(report), identifier)


def harvested(report: HarvestReport) -> IngestReport:
    """A harvest in a job's counts: updated records are replaced documents; records not of a
    municipality count as skipped (their reasons, the cursor and the rest are in the job's result)."""
    skipped = [*report.skipped, *(doc_id for doc_id, _ in report.ignored)]
    return IngestReport(added=report.added, replaced=report.updated, skipped=skipped, failed=report.failed,
                        seconds=report.seconds)  # fmt: skip


def harvest_params(
    query: HarvestQuery, endpoint: str = DEFAULT_ENDPOINT, *, rate: float = 1.0, retries: int = 4,
    page_size: int = 100, model: str = "",
) -> dict[str, Any]:  # fmt: skip
    """A harvest job's parameters, checked before any job is recorded (InvalidInput when wrong)."""
    build_cql(query, query.since)  # unknown municipality, bad type or date, no filter at all
    if not endpoint.startswith(("http://", "https://")):
        raise InvalidInput(f"the endpoint must be an http(s) URL, got {endpoint!r}")
    if not rate > 0 or retries < 0 or not 1 <= page_size <= 1000:
        raise InvalidInput(
            f"need rate > 0, retries >= 0 and a page size of 1 to 1000; got {rate}, {retries}, {page_size}"
        )
    return {
        "municipalities": list(query.municipalities), "subject": query.subject, "doc_type": query.doc_type,
        "since": query.since, "endpoint": endpoint, "rate": rate, "retries": retries,
        "page_size": page_size, "model": model,
    }  # fmt: skip


def harvest_query(params: dict[str, Any]) -> HarvestQuery:
    fields = (str(params.get(name) or "") for name in ("subject", "doc_type", "since"))
    return HarvestQuery(tuple(params.get("municipalities") or ()), *fields)


def ingest_options(params: dict[str, Any]) -> IngestOptions:
    """Ingest options from a job's parameters (kept in the record, so a rerun does the same)."""
    return IngestOptions(
        defaults=Defaults(
            municipality=params.get("municipality") or "",
            doc_type=params.get("doc_type") or "",
            date=params.get("date") or "",
            title=params.get("title") or "",
            doc_id=params.get("doc_id") or "",
        ),
        read=ReadOptions(
            ocr=bool(params.get("ocr", True)),
            ocr_page_limit=params.get("ocr_page_limit"),
            max_pages=params.get("max_pages"),
            max_bytes=params.get("max_bytes"),
        ),
        force=bool(params.get("force")),
        sync=bool(params.get("sync")),
    )


def ingest_target(settings: Settings, model: str = "") -> Index:
    """The live generation (a new one with ``model`` or the configured model when there is none)."""
    live = open_live(settings.data_dir)
    if live is None:
        created = open_live(settings.data_dir, load_embedder(model or settings.model), create=True)
        assert created is not None  # create=True with an embedder always gives an index
        return created
    if model and model != live.manifest.model_id:
        live.close()
        raise IndexMismatch(
            f"the index was built with {live.manifest.model_id}, not {model}; vectors are never "
            f"mixed: run `schutting reindex --model {model}` first"
        )
    return live


def count_documents(paths: Sequence[Path]) -> int:
    """How many documents ingesting paths will meet: one per file, one per line of a corpus.jsonl."""
    total = 0
    for path in discover(paths):
        if path.suffix.lower() == ".jsonl":
            with path.open("rb") as lines:
                total += sum(1 for line in lines if line.strip())
        else:
            total += 1
    return total


# -- running -----------------------------------------------------------------------------


def execute(settings: Settings, store: JobStore, job_id: int, display: Display | None = None) -> IngestReport:
    """Run a recorded job to its end (the caller holds the write lock); failures are recorded, then raised."""
    job = store.get(job_id)
    progress = JobProgress(store, job_id, display)
    store.start(job_id)
    try:
        report = JOB_KINDS[job.kind](settings, job.params, progress)
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
    with WriterLock(settings.data_dir, f"schutting {kind}") as lock:
        store.mark_interrupted()  # we hold the lock: no other job can still be running
        job = store.create(kind, params, rerun_of)
        lock.describe(f"{kind} job {job.id} (command line)")
        report = execute(settings, store, job.id, display)
    return store.get(job.id), report


class JobRunner:
    """The web app's background worker: runs submitted jobs in order; each comes with the lock held."""

    def __init__(self, settings: Settings, store: JobStore) -> None:
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
            try:
                execute(self.settings, self.store, job_id)
            except Exception:
                log.exception("job %d failed", job_id)  # and recorded in the job
            finally:
                lock.release()
                with self._guard:
                    self._active.discard(job_id)
