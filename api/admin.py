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

import hmac
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.admin_uploads import save_uploads
from api.document_upload import install_document_upload
from api.job_runs import JobRunner, harvest_params
from api.jobs import Job, JobNotFound, JobStore
from ingest.sru import DEFAULT_ENDPOINT, HarvestQuery
from search.config import Settings
from search.embedders import EMBEDDERS
from search.errors import DocumentNotFound, InvalidInput, NotAuthorized, SchuttingError
from search.generations import open_live
from search.locking import WriterLock


class Forbidden(NotAuthorized):
    """A token was sent, but not the admin token."""


class AdminClosed(Forbidden):
    """No admin token is configured, so admin endpoints refuse every request."""


MELDINGEN: dict[type[SchuttingError], tuple[int, str]] = {
    AdminClosed: (403, "Beheer is uitgeschakeld: er is geen beheerderstoken ingesteld."),
    Forbidden: (403, "Het beheerderstoken klopt niet."),
    JobNotFound: (404, "Deze taak bestaat niet."),
}


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

    def params(self) -> dict[str, Any]:
        query = HarvestQuery(tuple(self.municipalities), self.subject, self.type, self.since)
        return harvest_params(
            query, self.endpoint, rate=self.rate, retries=self.retries, page_size=self.page_size
        )


class Admin:
    """Job store and runner of one app, opened on first use (create_app does no disk work)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: JobStore | None = None
        self._runner: JobRunner | None = None
        self._guard = threading.Lock()

    def jobs(self) -> tuple[JobStore, JobRunner]:
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
            store.mark_interrupted()  # we hold the lock: no other job can still be running
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
            index = open_live(self.settings.data_dir)
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
        errors = [{"source": s, "reason": r} for s, r in store.errors(job_id)]
        return {**store.get(job_id).as_dict(), "errors": errors}


def install_admin(app: FastAPI, settings: Settings) -> None:
    """Add the /admin routes and their error answers to the app."""
    admin = Admin(settings)
    app.state.admin = admin
    for kind in MELDINGEN:
        app.add_exception_handler(kind, _answer)
    require_admin = _token_check(settings)
    app.include_router(_routes(admin), prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
    install_document_upload(app, settings, require_admin)


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    status, melding = next(answer for kind, answer in MELDINGEN.items() if isinstance(exc, kind))
    body = {"error": type(exc).__name__, "detail": str(exc), "melding": melding}
    return JSONResponse(body, status_code=status)


def _token_check(settings: Settings) -> Callable[..., None]:
    def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = settings.admin_token
        if not expected:
            raise AdminClosed("admin endpoints are closed: set SCHUTTING_ADMIN_TOKEN to open them")
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorized(
                "admin endpoints need the header Authorization: Bearer <SCHUTTING_ADMIN_TOKEN>"
            )
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise Forbidden("wrong admin token")

    return require_admin


def _accepted(job: Job) -> JSONResponse:
    body = {"id": job.id, "kind": job.kind, "state": job.state, "url": f"/admin/jobs/{job.id}"}
    return JSONResponse(body, status_code=202)


def _routes(admin: Admin) -> APIRouter:
    router = APIRouter()
    _add_writes(router, admin)
    _add_job_views(router, admin)
    return router


def _add_writes(router: APIRouter, admin: Admin) -> None:
    @router.post("/ingest", status_code=202)
    async def ingest(request: Request) -> JSONResponse:
        """Multipart ``files`` (with optional ``municipality``, ``type``, ``date``, ``force``), or JSON
        ``{"path": "/srv/stukken", "sync": true}`` for a folder on the server."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            params = _folder_params(_parse(FolderIngest, await request.body()), admin.settings)
            return _accepted(admin.submit(admin.lock("ingest"), "ingest", params))
        lock = admin.lock("ingest")  # before saving anything: a busy index refuses uploads at once
        try:
            folder, fields = await save_uploads(request, admin.settings)
            params = _params(admin.settings, [folder], {**fields, "sync": False})
        except BaseException:
            lock.release()
            raise
        return _accepted(admin.submit(lock, "ingest", params))

    @router.post("/reindex", status_code=202)
    async def reindex(request: Request) -> JSONResponse:
        body = _parse(ReindexRequest, await request.body())
        return _accepted(admin.submit(admin.lock("reindex"), "reindex", {"model": body.model}))

    @router.post("/harvest", status_code=202)
    async def harvest(request: Request) -> JSONResponse:
        """JSON ``{"municipalities": ["Someren"], "type": "beleidsregel", "since": "2024-01-01"}``."""
        params = _parse(HarvestRequest, await request.body()).params()  # 400 before taking the lock
        return _accepted(admin.submit(admin.lock("harvest"), "harvest", params))

    @router.delete("/documents/{doc_id}")
    def delete_document(doc_id: str) -> dict[str, Any]:
        admin.delete(doc_id)
        return {"deleted": doc_id}


def _add_job_views(router: APIRouter, admin: Admin) -> None:
    @router.get("/jobs")
    def jobs(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
        store, runner = admin.jobs()
        store.recover(runner.active())
        return {"jobs": [job.as_dict() for job in store.recent(limit)]}

    @router.get("/jobs/{job_id}")
    def job(job_id: int) -> dict[str, Any]:
        return admin.job_dict(job_id)

    @router.post("/jobs/{job_id}/rerun", status_code=202)
    def rerun(job_id: int) -> JSONResponse:
        old = admin.jobs()[0].get(job_id)
        return _accepted(admin.submit(admin.lock(old.kind), old.kind, old.params, rerun_of=old.id))


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    """A JSON body (empty: all defaults) validated by a pydantic model; InvalidInput when it is not."""
    try:
        return model.model_validate(json.loads(raw) if raw.strip() else {})
    except (ValueError, ValidationError) as exc:
        raise InvalidInput(f"request body: {exc}") from exc


def _params(settings: Settings, paths: list[Path], fields: dict[str, Any]) -> dict[str, Any]:
    """Job parameters: what to read, metadata defaults, and the limits in force when it was asked."""
    return {
        "paths": [str(p) for p in paths],
        "municipality": str(fields.get("municipality") or ""),
        "doc_type": str(fields.get("type") or ""),
        "date": str(fields.get("date") or ""),
        "force": _flag(fields.get("force")),
        "sync": _flag(fields.get("sync")),
        "ocr": settings.ocr,
        "ocr_page_limit": settings.ocr_page_limit,
        "max_pages": settings.max_pages,
        "max_bytes": settings.max_upload_bytes,
    }


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes", "on"}


def _folder_params(body: FolderIngest, settings: Settings) -> dict[str, Any]:
    names = [p for p in [body.path, *body.paths] if p]
    if not names:
        raise InvalidInput('give a folder or file on the server: {"path": "/srv/stukken"}, or upload files')
    paths = [Path(name).expanduser().resolve() for name in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InvalidInput(f"not found on the server: {', '.join(missing)}")
    return _params(settings, paths, body.model_dump())
