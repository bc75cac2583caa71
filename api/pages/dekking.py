"""Dekking: which gemeenten and document types the index holds, so that "no result" is not read
as "no policy"."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.coverage import coverage
from api.pages.rendering import render


def coverage_page(request: Request, provincie: str = "", alleen: str = "") -> HTMLResponse:
    """All current gemeenten with their documents per type; ?provincie= and ?alleen=met narrow it."""
    live = request.app.state.live.get()
    context: dict[str, Any] = {"nav": "dekking", "provincie": provincie.strip(), "alleen": alleen}
    if live is None:
        return render(request, "dekking.html", context)
    rows = coverage(live.catalog)
    context["provinces"] = sorted({r.province for r in rows})
    context["types"] = sorted({t for r in rows for t in r.types})
    context["with_documents"] = sum(1 for r in rows if r.documents)
    context["total"] = len(rows)
    context["documents"] = sum(r.documents for r in rows)
    shown = [r for r in rows if not context["provincie"] or r.province == context["provincie"]]
    context["rows"] = [r for r in shown if r.documents] if alleen == "met" else shown
    return render(request, "dekking.html", context)
