"""The page routes: Zoeken, Vergelijkbaar beleid, Document, Naast elkaar, Beheer (Dutch, server-rendered,
calling the library directly)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.errors import status_and_message
from api.pages.dekking import coverage_page
from api.pages.document import document_page, original_file
from api.pages.naast_elkaar import side_by_side_page
from api.pages.rendering import render
from api.pages.zoeken import FIELD_ERRORS, search_page
from api.queries import municipality_codes, result_dicts
from api.settings import Settings
from api.uploads import read_upload
from ingest.draft import draft_query
from ingest.municipalities import load_municipalities
from search.errors import InvalidInput, SchuttingError
from search.index import Index
from search.retrieval import QueryDocument, query_document, similar
from search.strength import STRONG, similar_strengths
from search.types import Filters, Result

log = logging.getLogger(__name__)


def router() -> APIRouter:
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    router.add_api_route("/", search_page, methods=["GET"])
    router.add_api_route("/dekking", coverage_page, methods=["GET"])
    router.add_api_route("/vergelijkbaar", similar_page, methods=["GET"])
    router.add_api_route("/vergelijkbaar", similar_upload, methods=["POST"])
    router.add_api_route("/document/{doc_id:path}", document_page, methods=["GET"])
    router.add_api_route("/origineel/{doc_id:path}", original_file, methods=["GET"], response_model=None)
    router.add_api_route("/naast-elkaar", side_by_side_page, methods=["GET"])
    router.add_api_route("/beheer", admin_page, methods=["GET"])
    return router


def _index(request: Request) -> Index | None:
    index: Index | None = request.app.state.live.get()
    return index if index is not None and index.catalog.count_documents() else None


# -- Vergelijkbaar beleid -----------------------------------------------------------------------


def _similar_context(request: Request) -> dict[str, Any]:
    index = _index(request)
    return {"nav": "vergelijkbaar", "all_municipalities": load_municipalities().all_active(),
            "mode": request.app.state.settings.search_mode, "index": index}  # fmt: skip


def similar_page(request: Request, document: str = "") -> HTMLResponse:
    context = _similar_context(request)
    index: Index | None = context["index"]
    if not document or index is None:
        return render(request, "vergelijkbaar.html", context)
    try:
        query = query_document(index, document)  # DocumentNotFound for an unknown id
        context["source"] = index.catalog.document(document)
        results = similar(index, query, k=10, mode=context["mode"])
    except SchuttingError as exc:
        return render(request, "vergelijkbaar.html", context, exc=exc)
    context.update(_rated(index, query, results))
    return render(request, "vergelijkbaar.html", context)


async def similar_upload(
    request: Request,
    bestand: Annotated[UploadFile | None, File()] = None,
    gemeente: Annotated[str, Form()] = "",
) -> HTMLResponse:
    context = {**_similar_context(request), "gemeente": gemeente.strip()}
    index: Index | None = context["index"]
    settings: Settings = request.app.state.settings
    if index is None:
        return render(request, "vergelijkbaar.html", context, 503)
    problem = _upload_problem(bestand, context["gemeente"])
    if problem or bestand is None:
        return render(request, "vergelijkbaar.html", {**context, **problem}, 400)
    context["upload_name"] = bestand.filename
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = await read_upload(request, bestand, Path(tmp), settings.max_upload_bytes, pdf_only=True)
            own = municipality_codes([context["gemeente"]])
            query = await run_in_threadpool(
                draft_query, index, path, settings.read_options(), own[0] if own else "", settings.budget()
            )
        results = await run_in_threadpool(similar, index, query, Filters(), 10, context["mode"])
        context.update(await run_in_threadpool(_rated, index, query, results))
    except SchuttingError as exc:
        status, message = status_and_message(exc)
        log.info("upload %s: %s", bestand.filename, exc)
        return render(request, "vergelijkbaar.html", {**context, "upload_error": message}, status)
    return render(request, "vergelijkbaar.html", context)


def _rated(index: Index, query: QueryDocument, results: list[Result]) -> dict[str, Any]:
    """Result rows with their match strength, and whether any of them is a good match."""
    rows = result_dicts(results, similar_strengths(index, query, results))
    return {"results": rows, "answered": any(r["match"] == STRONG for r in rows)}


def _upload_problem(upload: UploadFile | None, municipality: str) -> dict[str, str]:
    if upload is None or not upload.filename:
        return {"upload_error": "Kies eerst een PDF-bestand."}
    try:
        municipality_codes([municipality])
    except InvalidInput:
        return {"gemeente_error": FIELD_ERRORS["gemeente"].format(value=municipality)}
    return {}


# -- Beheer -------------------------------------------------------------------------------------


def admin_page(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    return render(request, "beheer.html", {"nav": "beheer", "enabled": bool(settings.admin_token)})
