"""`GET /documents`, `GET /documents/{id}`, and `POST /documents`: one document uploaded with its
metadata and indexed at once (admin token). For many files, `POST /admin/ingest` runs a job."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from api.http.auth import require_admin
from api.http.deps import AppSettings, LiveIndex
from api.jobs import ingest_options, ingest_params, ingest_target
from api.queries import public_source
from api.settings import Settings
from api.uploads import read_upload
from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestReport, ingest_paths
from search.errors import DocumentNotFound, UnreadableDocument
from search.locking import WriterLock
from search.types import DocumentInfo

router = APIRouter(tags=["documents"])


def info_dict(info: DocumentInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "municipality": info.municipality,
        "municipality_code": info.municipality_code,
        "province": info.province,
        "type": info.doc_type,
        "date": info.date,
        "source": public_source(info.source),
        "chunks": info.chunk_count,
        "metadata": info.extra,
    }


@router.get("/documents")
def list_documents(
    index: LiveIndex,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # SQLite's largest integer
) -> dict[str, Any]:
    docs = index.catalog.list_documents(limit, offset)
    return {"total": index.catalog.count_documents(), "documents": [info_dict(d) for d in docs]}


@router.get("/documents/{doc_id}")
def get_document(doc_id: str, index: LiveIndex) -> dict[str, Any]:
    doc = index.catalog.load_document(doc_id)
    info = index.catalog.document(doc_id)
    if doc is None or info is None:
        raise DocumentNotFound(f"no document with id {doc_id!r}")
    sections = [
        {"label": s.label, "heading": s.heading, "page": s.page, "text": s.text} for s in doc.sections
    ]
    return {**info_dict(info), "sections": sections}


@router.post("/documents", status_code=201, dependencies=[Depends(require_admin)])
async def upload_document(
    request: Request,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="PDF, CVDR XML, regelrecht YAML, .txt or .md")],
    municipality: Annotated[str, Form(description="name or CBS code, if the file does not say")] = "",
    type: Annotated[str, Form(description="document type, e.g. beleidsregel")] = "",
    date: Annotated[str, Form(description="YYYY-MM-DD")] = "",
    title: Annotated[str, Form()] = "",
    id: Annotated[str, Form(description="document id; default from municipality and file name")] = "",
) -> dict[str, Any]:
    folder = settings.data_dir / "uploads" / "documents" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    try:
        with WriterLock(settings.data_dir, "document upload (web)"):
            path = await read_upload(request, file, folder, settings.max_upload_bytes)
            params = ingest_params(settings, municipality=municipality, doc_type=type, date=date, title=title,
                                   doc_id=id)  # fmt: skip
            report = await run_in_threadpool(_ingest, settings, path, params)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if report.failed:
        source, reason = report.failed[0]
        raise UnreadableDocument(file.filename or source, reason)
    doc_id = (report.added or report.replaced or report.skipped)[0]
    status = "added" if report.added else "replaced" if report.replaced else "unchanged"
    return {"id": doc_id, "status": status, "chunks": report.chunks, "url": f"/documents/{doc_id}"}


def _ingest(settings: Settings, path: Path, params: dict[str, Any]) -> IngestReport:
    index = ingest_target(settings)
    cache = EmbeddingCache.in_data_dir(settings.data_dir)
    try:
        return ingest_paths(index, [path], ingest_options(params), cache)
    finally:
        index.close()
        cache.close()
