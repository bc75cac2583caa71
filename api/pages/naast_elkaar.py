"""Naast elkaar: two documents side by side, chosen by title and municipality (or id), with the
most similar document of another municipality suggested as the counterpart."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.coverage import snapshot
from api.pages.rendering import render
from api.queries import result_dicts
from search.alignment import side_by_side
from search.engine import CatalogReader
from search.errors import DocumentNotFound
from search.markdown import strip_markdown
from search.retrieval import query_document, similar
from search.strength import similar_strengths
from search.types import Document, DocumentInfo

CHOICES = 12  # documents listed when a typed title matches several
_WORD = re.compile(r"\w+", re.UNICODE)


def choice_label(doc: DocumentInfo) -> str:
    """What the type-ahead shows and what a typed choice is matched against: "Title — Gemeente"."""
    return f"{strip_markdown(doc.title)} — {doc.municipality or 'gemeente onbekend'}"


def find_documents(catalog: CatalogReader, typed: str) -> list[DocumentInfo]:
    """Documents for what was typed: an id, a type-ahead label, or words of a title and municipality
    ("rioolheffing Venlo"); current versions, best match first."""
    by_id = catalog.document(typed)
    if by_id is not None:
        return [by_id]
    held = snapshot(catalog)
    current = [d for d in held.documents if d.id not in held.superseded]
    exact = [d for d in current if choice_label(d).lower() == typed.lower()]
    if exact:
        return exact
    words = {w for w in _WORD.findall(typed.lower()) if len(w) > 1}
    scored = []
    for doc in current:
        haystack = f"{choice_label(doc)} {doc.doc_type}".lower()
        if words and all(w in haystack for w in words):
            scored.append((-len(doc.title), doc.date or "", doc))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [doc for *_, doc in scored]


def _side_name(doc: Document, other: Document) -> str:
    """How a side is named in "alleen bij ...": its municipality, or its title when both sides
    are of the same municipality."""
    if doc.municipality and doc.municipality != other.municipality:
        return doc.municipality
    title = strip_markdown(doc.title)
    return title if len(title) <= 50 else title[:47] + "…"


def side_by_side_page(request: Request, links: str = "", rechts: str = "") -> HTMLResponse:
    live = request.app.state.live.get()
    index = live if live is not None and live.catalog.count_documents() else None
    context: dict[str, Any] = {"nav": "naast-elkaar", "links": links.strip(), "rechts": rechts.strip()}
    if index is None:
        return render(request, "naast-elkaar.html", context)
    held = snapshot(index.catalog)
    context["documents"] = sorted(choice_label(d) for d in held.documents if d.id not in held.superseded)
    chosen: dict[str, Document] = {}
    for side in ("links", "rechts"):
        if not context[side]:
            continue
        found = find_documents(index.catalog, context[side])
        doc = index.catalog.load_document(found[0].id) if len(found) == 1 else None
        if doc is not None:
            chosen[side] = doc
        elif found:
            context.setdefault("ambiguous", {})[side] = found[:CHOICES]
        else:
            context.setdefault("missing", []).append(side)
    context["chosen"] = chosen
    if context.get("missing"):
        return render(request, "naast-elkaar.html", context, exc=DocumentNotFound(""))
    left, right = chosen.get("links"), chosen.get("rechts")
    if left is not None and right is None and not context.get("ambiguous"):
        query = query_document(index, left.id)
        found_similar = similar(index, query, k=8, mode=request.app.state.settings.search_mode, passages=0)
        context["suggestions"] = result_dicts(found_similar, similar_strengths(index, query, found_similar))
    if left is not None and right is not None:
        context.update(left=left, right=right, rows=side_by_side(left.sections, right.sections),
                       left_name=_side_name(left, right), right_name=_side_name(right, left))  # fmt: skip
    return render(request, "naast-elkaar.html", context)
