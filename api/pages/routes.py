"""The page routes: Zoeken, Vergelijkbaar beleid, Document, Naast elkaar, Beheer (Dutch, server-rendered,
calling the library directly)."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.errors import status_and_message
from api.pages.rendering import render
from api.queries import build_filters, iso_date, municipality_codes, provinces, question, result_dict
from api.settings import Settings
from api.uploads import read_upload
from ingest.draft import draft_query
from ingest.municipalities import load_municipalities
from search.alignment import side_by_side, unwrap
from search.errors import DocumentNotFound, InvalidInput, SchuttingError
from search.index import Index
from search.retrieval import query_document, search, similar
from search.types import SECTION_SEPARATOR, Document, Filters

log = logging.getLogger(__name__)


def router() -> APIRouter:
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    router.add_api_route("/", search_page, methods=["GET"])
    router.add_api_route("/vergelijkbaar", similar_page, methods=["GET"])
    router.add_api_route("/vergelijkbaar", similar_upload, methods=["POST"])
    router.add_api_route("/document/{doc_id:path}", document_page, methods=["GET"])
    router.add_api_route("/naast-elkaar", side_by_side_page, methods=["GET"])
    router.add_api_route("/beheer", admin_page, methods=["GET"])
    return router


def _index(request: Request) -> Index | None:
    index: Index | None = request.app.state.live.get()
    return index if index is not None and index.catalog.count_documents() else None


# -- Zoeken ------------------------------------------------------------------------------------

SEARCH_FIELDS = ("gemeente", "provincie", "type", "van", "tot")
FIELD_NAMES = {"gemeente": "Gemeente", "provincie": "Provincie", "type": "Soort document",
               "van": "Periode vanaf", "tot": "Periode tot en met"}  # fmt: skip
FIELD_ERRORS = {
    "gemeente": "De gemeente ‘{value}’ kennen we niet. Kies een naam uit de lijst of een CBS-code zoals GM0363.",
    "provincie": "De provincie ‘{value}’ kennen we niet. Kies een provincie uit de lijst.",
    "datum": "‘{value}’ is geen datum. Gebruik een jaar (2020), een maand (2020-05) of een datum (2020-05-31).",
}


def search_filters(params: dict[str, str]) -> tuple[Filters, dict[str, str]]:
    """Filters from the page's URL parameters, and a Dutch message per field that is wrong."""
    checks: dict[str, Callable[[str], object]] = {
        "gemeente": lambda v: municipality_codes([v]),
        "provincie": lambda v: provinces([v]),
        "van": lambda v: iso_date(v, "van"),
        "tot": lambda v: iso_date(v, "tot"),
    }
    errors = {}
    for field, check in checks.items():
        value = params.get(field, "")
        try:
            check(value)
        except InvalidInput:
            errors[field] = _field_message(field, value)
    if not errors and params.get("van") and params.get("tot") and params["van"] > params["tot"]:
        errors["tot"] = "Deze datum ligt vóór de begindatum. Kies een latere einddatum."
    if errors:
        return Filters(), errors
    filters = build_filters([params.get("gemeente", "")], (), [params.get("provincie", "")],
                            [params.get("type", "")], params.get("van"), params.get("tot"))  # fmt: skip
    return filters, {}


def _field_message(field: str, value: str) -> str:
    return FIELD_ERRORS.get(field, FIELD_ERRORS["datum"]).format(value=value)


def search_page(request: Request) -> HTMLResponse:
    params = {k: request.query_params.get(k, "").strip() for k in ("q", *SEARCH_FIELDS, "aantal")}
    index = _index(request)
    context: dict[str, Any] = {"nav": "zoeken", "p": params, "field_names": FIELD_NAMES}
    context["chips"] = [
        (FIELD_NAMES[f], params[f], _url_without(params, f)) for f in SEARCH_FIELDS if params[f]
    ]
    if index is not None:
        context["municipalities"] = index.catalog.municipalities()
        context["provinces"] = index.catalog.facet_values("province")
        context["types"] = index.catalog.facet_values("doc_type")
        context["counts"] = (index.catalog.count_documents(), len(context["municipalities"]))
    filters, errors = search_filters(params)
    context["errors"] = errors
    if errors:
        return render(request, "zoeken.html", context, 400)
    if not params["q"] or index is None:
        return render(request, "zoeken.html", context)
    k = min(100, int(params["aantal"])) if params["aantal"].isdigit() and int(params["aantal"]) > 0 else 10
    try:
        results = search(
            index, question(params["q"]), filters, k=k, mode=request.app.state.settings.search_mode
        )
    except SchuttingError as exc:
        return render(request, "zoeken.html", context, exc=exc)
    context["results"] = [result_dict(r) for r in results]
    if len(results) == k < 100:
        context["more"] = "/?" + urlencode({**{f: v for f, v in params.items() if v}, "aantal": k + 10})
    return render(request, "zoeken.html", context)


def _url_without(params: dict[str, str], field: str) -> str:
    return "/?" + urlencode({k: v for k, v in params.items() if v and k not in (field, "aantal")})


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
    context["results"] = [result_dict(r) for r in results]
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
    except SchuttingError as exc:
        status, message = status_and_message(exc)
        log.info("upload %s: %s", bestand.filename, exc)
        return render(request, "vergelijkbaar.html", {**context, "upload_error": message}, status)
    context["results"] = [result_dict(r) for r in results]
    return render(request, "vergelijkbaar.html", context)


def _upload_problem(upload: UploadFile | None, municipality: str) -> dict[str, str]:
    if upload is None or not upload.filename:
        return {"upload_error": "Kies eerst een PDF-bestand."}
    try:
        municipality_codes([municipality])
    except InvalidInput:
        return {"gemeente_error": _field_message("gemeente", municipality)}
    return {}


# -- Document -----------------------------------------------------------------------------------


def document_page(request: Request, doc_id: str, passage: str = "") -> HTMLResponse:
    index = _index(request)
    context: dict[str, Any] = {"nav": "", "doc_id": doc_id}
    doc = index.catalog.load_document(doc_id) if index is not None else None
    if index is None or doc is None:
        return render(request, "document.html", context, exc=DocumentNotFound(doc_id))
    span = re.fullmatch(r"(\d+)-(\d+)", passage)
    marked = (int(span[1]), int(span[2])) if span else None
    context.update(doc=doc, source=source_url(doc), sections=marked_sections(doc, marked), marked=marked)
    try:
        query = query_document(index, doc_id)
        found = similar(index, query, k=6, mode=request.app.state.settings.search_mode, passages=1)
        context["similar"] = [result_dict(r) for r in found]
    except SchuttingError as exc:
        log.info("similar for %s: %s", doc_id, exc)
    return render(request, "document.html", context)


def marked_sections(doc: Document, span: tuple[int, int] | None) -> list[dict[str, Any]]:
    """Sections split around the passage at document offsets ``span`` (before, passage, after)."""
    out, offset, first = [], 0, True
    for number, section in enumerate(doc.sections):
        text = unwrap(section.text)
        parts = (text, "", "")
        if span is not None:
            start, end = max(span[0] - offset, 0), min(span[1] - offset, len(text))
            if start < end:
                parts = (text[:start], text[start:end], text[end:])
        out.append({"section": section, "anchor": f"deel-{number + 1}", "parts": parts,
                    "first_mark": bool(parts[1]) and first})  # fmt: skip
        first = first and not parts[1]
        offset += len(text) + len(SECTION_SEPARATOR)
    return out


def source_url(doc: Document) -> str:
    """A web address for the original: the source itself, the recorded URL, or CVDR by id."""
    for value in (doc.source, doc.extra.get("url"), doc.extra.get("publication_url")):
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    found = re.fullmatch(r"CVDR(\d+)_(\d+)", doc.id)
    return f"https://lokaleregelgeving.overheid.nl/CVDR{found[1]}/{found[2]}" if found else ""


# -- Naast elkaar --------------------------------------------------------------------------------


def side_by_side_page(request: Request, links: str = "", rechts: str = "") -> HTMLResponse:
    index = _index(request)
    context: dict[str, Any] = {"nav": "naast-elkaar", "links": links.strip(), "rechts": rechts.strip()}
    if index is None:
        return render(request, "naast-elkaar.html", context)
    context["documents"] = index.catalog.list_documents(limit=1000)
    docs = {side: index.catalog.load_document(context[side]) for side in ("links", "rechts") if context[side]}
    context["chosen"] = {side: doc for side, doc in docs.items() if doc is not None}
    missing = [side for side, doc in docs.items() if doc is None]
    if missing:
        return render(request, "naast-elkaar.html", {**context, "missing": missing}, exc=DocumentNotFound(""))
    if "links" in docs and "rechts" not in docs:
        query = query_document(index, context["links"])
        found = similar(index, query, k=8, mode=request.app.state.settings.search_mode, passages=0)
        context["suggestions"] = [result_dict(r) for r in found]
    left, right = docs.get("links"), docs.get("rechts")
    if left is not None and right is not None:
        context.update(left=left, right=right, rows=side_by_side(left.sections, right.sections))
    return render(request, "naast-elkaar.html", context)


# -- Beheer -------------------------------------------------------------------------------------


def admin_page(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    return render(request, "beheer.html", {"nav": "beheer", "enabled": bool(settings.admin_token)})
