"""Rendering the Dutch pages: templates with their filters, the CSP header, error messages."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.errors import status_and_message
from search.errors import SchuttingError

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent  # templates/ and static/ are package data
MONTHS = "januari februari maart april mei juni juli augustus september oktober november december".split()  # noqa: SIM905
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def dutch_date(value: str) -> str:
    """ "2025-05-16" -> "16 mei 2025"; partial or unknown dates are shown as they are."""
    try:
        day = dt.date.fromisoformat(value[:10])
    except (ValueError, TypeError):
        return value or "datum onbekend"
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def dutch_number(value: int) -> str:
    """12340 -> "12.340"."""
    return f"{value:,}".replace(",", ".")


def doc_href(doc_id: str, passage: dict[str, Any] | None = None) -> str:
    url = f"/document/{quote(doc_id, safe='')}"
    return f"{url}?passage={passage['start']}-{passage['end']}#passage" if passage else url


def passage_place(passage: dict[str, Any]) -> str:
    """Where a passage is: "Artikel 3 · pagina 4"."""
    label = re.sub(r"^p\.\s*(\d+)$", r"pagina \1", passage.get("label") or "")
    page = passage.get("page")
    if page and "pagina" not in label:
        return f"{label} · pagina {page}" if label else f"pagina {page}"
    return label


def _static_url(folder: Path) -> Callable[[str], str]:
    stamp = hashlib.sha1(b"".join(p.read_bytes() for p in sorted(folder.iterdir()))).hexdigest()[:8]
    return lambda name: f"/static/{name}?v={stamp}"


def render(
    request: Request, name: str, context: dict[str, Any], status: int = 200, exc: SchuttingError | None = None
) -> HTMLResponse:
    """Render a page with the CSP header; with ``exc``, its Dutch message and status code."""
    if exc is not None:
        status, context = status_and_message(exc)[0], {**context, "melding": status_and_message(exc)[1]}
        log.info("page %s: %s", name, exc)
    index = request.app.state.live.get()
    base = {"index_empty": index is None or index.catalog.count_documents() == 0}
    response = request.app.state.templates.TemplateResponse(request, name, {**base, **context}, status)
    response.headers["Content-Security-Policy"] = CSP
    return response


def templates() -> Jinja2Templates:
    """The page templates with the Dutch date filter and the URL helpers."""
    found = Jinja2Templates(directory=HERE / "templates")
    found.env.filters.update(
        datum=dutch_date, soort=lambda t: (t or "document").capitalize(), getal=dutch_number
    )
    found.env.globals.update(static=_static_url(HERE / "static"), doc_href=doc_href, where=passage_place)
    return found
