"""Document: metadata, provenance (the exact CVDR version, the kept original), text with the
matched passage in view, similar documents of other municipalities."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse

from api.pages.rendering import render
from api.queries import result_dicts
from api.settings import Settings
from search.alignment import unwrap
from search.errors import DocumentNotFound, SchuttingError
from search.markdown import strip_markdown
from search.retrieval import query_document, similar
from search.strength import similar_strengths
from search.types import SECTION_SEPARATOR, Document

log = logging.getLogger(__name__)


def document_page(request: Request, doc_id: str, passage: str = "") -> HTMLResponse:
    live = request.app.state.live.get()
    index = live if live is not None and live.catalog.count_documents() else None
    context: dict[str, Any] = {"nav": "", "doc_id": doc_id}
    doc = index.catalog.load_document(doc_id) if index is not None else None
    if index is None or doc is None:
        return render(request, "document.html", context, exc=DocumentNotFound(doc_id))
    span = re.fullmatch(r"(\d+)-(\d+)", passage)
    marked = (int(span[1]), int(span[2])) if span else None
    sections = marked_sections(doc, marked)
    context.update(doc=doc, source=source_url(doc), sections=sections, marked=marked,
                   cvdr=cvdr_version(doc.id), title=strip_markdown(doc.title),
                   original=_kept_original(request.app.state.settings, doc) is not None,
                   passage_page=next((s["section"].page for s in sections if s["parts"][1]), None))  # fmt: skip
    try:
        query = query_document(index, doc_id)
        found = similar(index, query, k=6, mode=request.app.state.settings.search_mode, passages=1)
        context["similar"] = result_dicts(found, similar_strengths(index, query, found))
        context["counterpart"] = counterpart(doc, context["similar"])
    except SchuttingError as exc:
        log.info("similar for %s: %s", doc_id, exc)
    return render(request, "document.html", context)


def counterpart(doc: Document, similar_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The document to put next to this one: the most similar strong match of another
    municipality, of the same type when there is one."""
    strong = [r for r in similar_rows if r["match"] == "strong"]
    same_type = [r for r in strong if r["type"] == doc.doc_type]
    best = same_type or strong
    return best[0] if best else None


def cvdr_version(doc_id: str) -> tuple[str, str] | None:
    """("CVDR100394", "2") for a CVDR regulation's id."""
    found = re.fullmatch(r"(CVDR\d+)_(\d+)", doc_id)
    return (found[1], found[2]) if found else None


def _kept_original(settings: Settings, doc: Document) -> Path | None:
    """The uploaded original file, when it was kept under data_dir/uploads/ (never another path)."""
    if not doc.source or doc.source.startswith(("https://", "http://")):
        return None
    uploads = (settings.data_dir / "uploads").resolve()
    path = Path(doc.source).resolve()
    return path if path.is_relative_to(uploads) and path.is_file() else None


def original_file(request: Request, doc_id: str) -> FileResponse | HTMLResponse:
    """The kept original of an uploaded document, inline (a PDF opens at #page=N in the browser)."""
    live = request.app.state.live.get()
    doc = live.catalog.load_document(doc_id) if live is not None else None
    path = _kept_original(request.app.state.settings, doc) if doc is not None else None
    if doc is None or path is None:
        context = {"nav": "", "doc_id": doc_id}
        return render(
            request, "document.html", context, exc=DocumentNotFound(f"no kept original of {doc_id!r}")
        )
    media = "application/pdf" if path.suffix.lower() == ".pdf" else None
    return FileResponse(path, media_type=media, filename=path.name, content_disposition_type="inline")


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
        shown = tuple(strip_markdown(part) for part in parts)
        out.append({"section": section, "anchor": f"deel-{number + 1}", "parts": shown,
                    "first_mark": bool(parts[1]) and first})  # fmt: skip
        first = first and not parts[1]
        offset += len(text) + len(SECTION_SEPARATOR)
    return out


def source_url(doc: Document) -> str:
    """A web address for the original: for CVDR the exact version that was indexed
    (lokaleregelgeving.overheid.nl/CVDR<n>/<version>), else the source itself or the recorded URL."""
    found = re.fullmatch(r"CVDR(\d+)_(\d+)", doc.id)
    if found:
        return f"https://lokaleregelgeving.overheid.nl/CVDR{found[1]}/{found[2]}"
    for value in (doc.source, doc.extra.get("url"), doc.extra.get("publication_url")):
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return ""
