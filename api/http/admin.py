"""Admin endpoints: ingest, reindex and harvest jobs, job status, deleting documents; behind a token.

    POST   /admin/ingest              files (multipart ``files``) or a server-side folder (JSON)
    POST   /admin/reindex             re-embed everything into a new generation, then swap
    POST   /admin/harvest             fetch regulations from CVDR (JSON filters; docs/harvest.md)
    GET    /admin/jobs                recent jobs, newest first
    GET    /admin/jobs/{id}           one job with its per-document errors
    POST   /admin/jobs/{id}/rerun     the same job again
    DELETE /admin/documents/{id}      remove a document from every index

Every request needs ``Authorization: Bearer <SCHUTTING_ADMIN_TOKEN>``: 401 without it, 403 with
a wrong one, 403 for everything while no token is configured. The token is checked before the
body is read. A write while another runs (here or in a ``schutting`` process) gets 409.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParameter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.errors import public_text, with_melding
from api.http.admin_uploads import save_uploads
from api.http.auth import require_admin
from api.jobs import Job, JobRecords, JobRunner, JobStore, embed_params, harvest_params, ingest_params
from api.queries import metadata_date, municipality_codes
from api.settings import Settings
from ingest.meldingen import melding
from ingest.sru import DEFAULT_ENDPOINT, HarvestQuery
from search.embedders import EMBEDDERS
from search.engines import Place, open_live
from search.errors import DocumentNotFound, InvalidInput
from search.locking import WriterLock


class FolderIngest(BaseModel):
    """JSON body of POST /admin/ingest for files already on the server."""

    model_config = ConfigDict(extra="forbid")
    path: str = ""
    paths: list[str] = []
    municipality: str = ""  # for documents that do not name their own
    type: str = ""
    date: str = ""
    sync: bool = False  # remove documents whose file left the folder
    force: bool = False  # re-embed unchanged documents too
    lexical_first: bool = False  # searchable by words at once; an embed job follows with the vectors


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = ""  # embedding model of the new generation; "" keeps the current one

    @field_validator("model")
    @classmethod
    def known_model(cls, model: str) -> str:
        if model and model not in EMBEDDERS and not model.startswith("st:"):
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(EMBEDDERS)} or st:<model>")
        return model


class HarvestRequest(BaseModel):
    """JSON body of POST /admin/harvest: the filters and politeness of `schutting harvest cvdr`."""

    model_config = ConfigDict(extra="forbid")
    municipalities: list[str] = []  # names, aliases or CBS codes
    subject: str = ""
    type: str = ""  # verordening or beleidsregel
    since: str = ""  # YYYY-MM-DD; default: the cursor of the last complete run of these filters
    endpoint: str = DEFAULT_ENDPOINT
    rate: float = Field(1.0, gt=0)  # requests per second
    retries: int = Field(4, ge=0)
    page_size: int = Field(100, ge=1, le=1000)
    all_versions: bool = False  # also versions that ended before today

    def params(self) -> dict[str, Any]:
        """No municipality, subject or type: every municipality (docs/harvest.md)."""
        query = HarvestQuery(tuple(self.municipalities), self.subject, self.type, self.since)
        return harvest_params(query, self.endpoint, rate=self.rate, retries=self.retries,
                              page_size=self.page_size, all_versions=self.all_versions)  # fmt: skip


class Admin:
    """Job store and runner of one app, opened on first use (create_app does no disk work)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: JobRecords | None = None
        self._runner: JobRunner | None = None
        self._guard = threading.Lock()

    def jobs(self) -> tuple[JobRecords, JobRunner]:
        with self._guard:
            if self._store is None or self._runner is None:
                self._store = JobStore.for_settings(self.settings)
                self._runner = JobRunner(self.settings, self._store)
                self._store.recover()  # jobs of a previous run of this server are over
            return self._store, self._runner

    def lock(self, what: str) -> WriterLock:
        return WriterLock(self.settings.data_dir, f"{what} (web)").acquire()

    def submit(self, lock: WriterLock, kind: str, params: dict[str, Any], rerun_of: int | None = None) -> Job:
        """Record and queue a job while holding ``lock``, which the runner releases at the end."""
        try:
            store, runner = self.jobs()
            store.mark_interrupted()  # we hold the lock: no other job of this data dir can still run
            job = store.create(kind, params, rerun_of)
            lock.describe(f"{kind} job {job.id} (web)")
        except BaseException:
            lock.release()
            raise
        runner.submit(job.id, lock)
        return job

    def delete(self, doc_id: str) -> None:
        """Remove a document from the live generation's catalog, vectors and lexical index."""
        found = 0
        with self.lock(f"delete {doc_id}"):
            index = open_live(Place.of(self.settings))  # the embedded index or the database
            if index is not None:
                try:
                    found = index.delete([doc_id])
                    index.flush()
                finally:
                    index.close()
        if not found:
            raise DocumentNotFound(f"no document with id {doc_id!r}")

    def job_dict(self, job_id: int) -> dict[str, Any]:
        store, runner = self.jobs()
        store.recover(runner.active())
        uploads = (self.settings.data_dir / "uploads").resolve()
        errors = [
            {
                "source": _shown_source(source, uploads),
                "reason": public_text(reason),
                "melding": melding(reason),
            }
            for source, reason in store.errors(job_id)
        ]
        return {**store.get(job_id).as_dict(), "errors": errors}


def _shown_source(source: str, uploads: Path) -> str:
    """An uploaded file by its name (its folder under data/uploads means nothing to the admin)."""
    path = Path(source)
    return path.name if path.is_absolute() and path.resolve().is_relative_to(uploads) else source


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


def admin_of(request: Request) -> Admin:
    """The app's Admin (made by create_app; it opens its job store on first use)."""
    admin: Admin = request.app.state.admin
    return admin


AppAdmin = Annotated[Admin, Depends(admin_of)]
JobId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]  # job ids; SQLite's integers end at 2**63 - 1


def _accepted(job: Job) -> JSONResponse:
    body = {"id": job.id, "kind": job.kind, "state": job.state, "url": f"/admin/jobs/{job.id}"}
    return JSONResponse(body, status_code=202)


@router.post("/ingest", status_code=202)
async def ingest(request: Request, admin: AppAdmin) -> JSONResponse:
    """Multipart ``files`` (with optional ``municipality``, ``type``, ``date``, ``force``), or JSON
    ``{"path": "/srv/stukken", "sync": true}`` for a folder below SCHUTTING_INGEST_ROOTS."""
    settings = admin.settings
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        body = _parse(FolderIngest, await request.body())
        paths = allowed_paths([p for p in [body.path, *body.paths] if p], settings.allowed_roots())
        params = ingest_params(settings, paths, municipality=_known(body.municipality), doc_type=body.type,
                               date=metadata_date(body.date), force=body.force, sync=body.sync,
                               lexical_first=body.lexical_first)  # fmt: skip
        return _accepted(admin.submit(admin.lock("ingest"), "ingest", params))
    lock = admin.lock("ingest")  # before saving anything: a busy index refuses uploads at once
    try:
        folder, fields = await save_uploads(request, settings)
        metadata = _checked_metadata(fields, folder)
        params = ingest_params(settings, [folder], municipality=metadata["municipality"],
                               doc_type=fields.get("type", ""), date=metadata["date"],
                               force=_flag(fields.get("force")), uploaded=True)  # fmt: skip
    except BaseException:
        lock.release()
        raise
    return _accepted(admin.submit(lock, "ingest", params))


def _checked_metadata(fields: dict[str, str], folder: Path) -> dict[str, str]:
    """The upload's municipality and date, checked; on a refusal the saved files are removed."""
    try:
        return {"municipality": _known(fields.get("municipality", "")),
                "date": metadata_date(fields.get("date", ""))}  # fmt: skip
    except InvalidInput:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _known(municipality: str) -> str:
    """The municipality as given, once it is known (else InvalidInput with a Dutch melding)."""
    if municipality.strip():
        try:
            municipality_codes([municipality])
        except InvalidInput as exc:
            raise with_melding(exc, f"De gemeente ‘{municipality}’ kennen we niet. Gebruik de naam of de "
                               "CBS-code, bijvoorbeeld Venlo of GM0983.") from None  # fmt: skip
    return municipality.strip()


@router.post("/reindex", status_code=202)
async def reindex(request: Request, admin: AppAdmin) -> JSONResponse:
    body = _parse(ReindexRequest, await request.body())
    return _accepted(admin.submit(admin.lock("reindex"), "reindex", {"model": body.model}))


@router.post("/embed", status_code=202)
def embed(admin: AppAdmin) -> JSONResponse:
    """Vectors for passages a lexical-first ingest left pending (one runs after such an ingest anyway)."""
    return _accepted(admin.submit(admin.lock("embed"), "embed", embed_params()))


@router.post("/harvest", status_code=202)
async def harvest(request: Request, admin: AppAdmin) -> JSONResponse:
    """JSON ``{"municipalities": ["Someren"], "type": "beleidsregel", "since": "2024-01-01"}``."""
    params = _parse(HarvestRequest, await request.body()).params()  # 400 before taking the lock
    return _accepted(admin.submit(admin.lock("harvest"), "harvest", params))


@router.delete("/documents/{doc_id}")
def delete_document(doc_id: str, admin: AppAdmin) -> dict[str, Any]:
    admin.delete(doc_id)
    return {"deleted": doc_id}


@router.get("/jobs")
def jobs(admin: AppAdmin, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
    store, runner = admin.jobs()
    store.recover(runner.active())
    return {"jobs": [job.as_dict() for job in store.recent(limit)]}


@router.get("/jobs/{job_id}")
def job(job_id: JobId, admin: AppAdmin) -> dict[str, Any]:
    return admin.job_dict(job_id)


@router.post("/jobs/{job_id}/rerun", status_code=202)
def rerun(job_id: JobId, admin: AppAdmin) -> JSONResponse:
    old = admin.jobs()[0].get(job_id)
    return _accepted(admin.submit(admin.lock(old.kind), old.kind, old.params, rerun_of=old.id))


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    """A JSON body (empty: all defaults) validated by a pydantic model; InvalidInput when it is not."""
    try:
        return model.model_validate(json.loads(raw) if raw.strip() else {})
    except (ValueError, ValidationError) as exc:
        raise InvalidInput(f"request body: {exc}") from exc


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes", "on"}


def allowed_paths(names: list[str], roots: list[Path]) -> list[Path]:
    """Server-side paths to ingest, each below one of ``roots`` after resolving symlinks and ``..``.

    A missing path and a forbidden one get the same answer, so the endpoint does not tell which
    files exist on the server; with no roots configured, path ingest is off."""
    if not names:
        raise InvalidInput('give a folder or file on the server: {"path": "/srv/stukken"}, or upload files')
    if not roots:
        raise InvalidInput("ingest from server paths is off: set SCHUTTING_INGEST_ROOTS, or upload the files")
    paths = []
    for name in names:
        path = _existing(name)
        if path is None or not any(path.is_relative_to(root) for root in roots):
            raise InvalidInput(
                f"{name!r} is not a file or folder below an ingest root (SCHUTTING_INGEST_ROOTS)"
            )
        paths.append(path)
    return paths


def _existing(name: str) -> Path | None:
    """The resolved path a name points to, or None when nothing is there or it cannot be a path
    (a NUL byte, ``~nosuchuser``, a name too long): one answer for all, as for a forbidden path."""
    try:
        path = Path(name).expanduser().resolve()
        return path if path.exists() else None
    except (OSError, ValueError, RuntimeError):
        return None
