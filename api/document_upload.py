"""`POST /documents`: one document uploaded with its metadata and indexed at once (admin token).

For many files or folders, `POST /admin/ingest` runs a background job instead.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.job_runs import ingest_options, ingest_target
from api.uploads import read_upload
from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestReport, ingest_paths
from search.config import Settings
from search.errors import UnreadableDocument
from search.locking import WriterLock


def install_document_upload(app: FastAPI, settings: Settings, require_admin: Callable[..., None]) -> None:
    @app.post("/documents", tags=["documents"], status_code=201, dependencies=[Depends(require_admin)])
    async def upload_document(
        request: Request,
        file: Annotated[UploadFile, File(description="PDF, CVDR XML, regelrecht YAML, .txt or .md")],
        municipality: Annotated[str, Form(description="name or CBS code, if the file does not say")] = "",
        type: Annotated[str, Form(description="document type, e.g. beleidsregel")] = "",
        date: Annotated[str, Form(description="YYYY-MM-DD")] = "",
        title: Annotated[str, Form()] = "",
        id: Annotated[str, Form(description="document id; default from municipality and file name")] = "",
    ) -> dict[str, Any]:
        folder = settings.data_dir / "uploads" / "documents" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        with WriterLock(settings.data_dir, "document upload (web)"):
            try:
                path = await read_upload(request, file, folder, settings.max_upload_bytes)
                params = {"municipality": municipality, "doc_type": type, "date": date, "title": title,
                          "doc_id": id, "ocr": settings.ocr, "ocr_page_limit": settings.ocr_page_limit,
                          "max_pages": settings.max_pages, "max_bytes": settings.max_upload_bytes}  # fmt: skip
                report = await run_in_threadpool(_ingest, settings, path, params)
            finally:
                shutil.rmtree(path.parent / path.name, ignore_errors=True) if path.is_dir() else path.unlink(
                    True
                )
        if report.failed:
            source, reason = report.failed[0]
            raise UnreadableDocument(file.filename or source, reason)
        doc_id = (report.added or report.replaced or report.skipped)[0]
        status = "added" if report.added else "replaced" if report.replaced else "unchanged"
        return {"id": doc_id, "status": status, "chunks": report.chunks, "url": f"/documents/{doc_id}"}


def _ingest(settings: Settings, path: Any, params: dict[str, Any]) -> IngestReport:
    index = ingest_target(settings)
    try:
        cache = EmbeddingCache(settings.data_dir / "embedding-cache.sqlite")
        return ingest_paths(index, [path], ingest_options(params), cache)
    finally:
        index.close()
