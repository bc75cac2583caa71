"""Zoeken: a question with filters, or filters alone (browse newest first); what was searched, how
strong each result is, and why a filter found nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.coverage import browse, held_of, searched, semantic_coverage
from api.pages.rendering import render
from api.queries import build_filters, iso_date, municipality_codes, provinces, question, result_dicts
from search.errors import InvalidInput, SchuttingError
from search.index import Index
from search.retrieval import search
from search.strength import STRONG, strengths
from search.types import Filters

SEARCH_FIELDS = ("gemeente", "provincie", "type", "van", "tot", "geldend", "grondslag")
FIELD_NAMES = {"gemeente": "Gemeente", "provincie": "Provincie", "type": "Soort document",
               "van": "Periode vanaf", "tot": "Periode tot en met", "geldend": "Geldend op",
               "grondslag": "Wettelijke grondslag"}  # fmt: skip
FIELD_ERRORS = {
    "gemeente": "De gemeente ‘{value}’ kennen we niet. Kies een naam uit de lijst of een CBS-code zoals GM0363.",
    "provincie": "De provincie ‘{value}’ kennen we niet. Kies een provincie uit de lijst.",
    "grondslag": "‘{value}’ is geen wettelijke grondslag. Gebruik een BWB-nummer, eventueel met artikel: "
    "BWBR0015703 of BWBR0015703:8.",
    "datum": "‘{value}’ is geen datum. Gebruik een jaar (2020), een maand (2020-05) of een datum (2020-05-31).",
}
SORTS = {"relevantie": "Best passend eerst", "datum": "Nieuwste eerst"}


def search_filters(params: dict[str, str]) -> tuple[Filters, dict[str, str]]:
    """Filters from the page's URL parameters, and a Dutch message per field that is wrong."""
    checks: dict[str, Callable[[str], object]] = {
        "gemeente": lambda v: municipality_codes([v]),
        "provincie": lambda v: provinces([v]),
        "van": lambda v: iso_date(v, "van"),
        "tot": lambda v: iso_date(v, "tot"),
        "geldend": lambda v: iso_date(v, "geldend"),
        "grondslag": _legal_basis,
    }
    errors = {}
    for field, check in checks.items():
        value = params.get(field, "")
        try:
            check(value)
        except InvalidInput:
            errors[field] = FIELD_ERRORS.get(field, FIELD_ERRORS["datum"]).format(value=value)
    if not errors and params.get("van") and params.get("tot") and params["van"] > params["tot"]:
        errors["tot"] = "Deze datum ligt vóór de begindatum. Kies een latere einddatum."
    if errors:
        return Filters(), errors
    filters = build_filters([params.get("gemeente", "")], (), [params.get("provincie", "")],
                            [params.get("type", "")], params.get("van"), params.get("tot"),
                            valid_on=params.get("geldend"), legal_basis=params.get("grondslag"))  # fmt: skip
    return filters, {}


def _legal_basis(value: str) -> None:
    bwb, _, artikel = value.strip().partition(":")
    if value and not (bwb.upper().startswith("BWBR") and bwb[4:].isdigit()):
        raise InvalidInput(f"not a BWB identifier: {value!r}")
    if artikel and not artikel.strip():
        raise InvalidInput(f"empty article in {value!r}")


def search_page(request: Request) -> HTMLResponse:
    params = {k: request.query_params.get(k, "").strip() for k in ("q", *SEARCH_FIELDS, "aantal", "sorteer")}
    if params["sorteer"] not in SORTS:
        params["sorteer"] = ""  # the default: relevance for a question, newest first when browsing
    live: Index | None = request.app.state.live.get()
    index = live if live is not None and live.catalog.count_documents() else None
    context: dict[str, Any] = {"nav": "zoeken", "p": params, "field_names": FIELD_NAMES, "sorts": SORTS}
    context["chips"] = [
        (FIELD_NAMES[f], params[f], _url_without(params, f)) for f in SEARCH_FIELDS if params[f]
    ]
    filters, errors = search_filters(params)
    context["errors"] = errors
    if index is not None:
        context.update(_choices(index))
        context["searched"] = searched(index.catalog, filters)
        context["semantic_coverage"] = semantic_coverage(index)
    if errors:
        return render(request, "zoeken.html", context, 400)
    if index is None or not (params["q"] or context["chips"]):
        return render(request, "zoeken.html", context)
    k = min(100, int(params["aantal"])) if params["aantal"].isdigit() and int(params["aantal"]) > 0 else 10
    try:
        context.update(_answer(request, index, params, filters, k))
    except SchuttingError as exc:
        return render(request, "zoeken.html", context, exc=exc)
    if not context["results"]:
        context["held"] = held_of(index.catalog, filters.municipalities, filters.doc_types)
    if len(context["results"]) == k < min(100, context["total"]):
        context["more"] = "/?" + urlencode({**{f: v for f, v in params.items() if v}, "aantal": k + 10})
    return render(request, "zoeken.html", context)


def _choices(index: Index) -> dict[str, Any]:
    municipalities = index.catalog.municipalities()
    return {"municipalities": municipalities, "provinces": index.catalog.facet_values("province"),
            "types": index.catalog.facet_values("doc_type"),
            "counts": (index.catalog.count_documents(), len(municipalities))}  # fmt: skip


def _answer(
    request: Request, index: Index, params: dict[str, str], filters: Filters, k: int
) -> dict[str, Any]:
    """Results for a question (with their strength), or the newest documents passing the filters."""
    if not params["q"]:
        total, docs = browse(index.catalog, filters, k)
        rows: list[dict[str, Any]] = [{"id": d.id, "title": d.title, "municipality": d.municipality, "type": d.doc_type,
                 "date": d.date, "passages": [], "match": ""} for d in docs]  # fmt: skip
        return {"results": rows, "total": total, "browsing": True, "answered": True}
    mode = request.app.state.settings.search_mode
    results = search(index, question(params["q"]), filters, k=k, mode=mode)
    rows = result_dicts(results, strengths(index, mode, params["q"], filters, results))
    if params["sorteer"] == "datum":
        rows.sort(key=lambda r: r["date"] or "", reverse=True)
    answered = any(r["match"] == STRONG for r in rows)
    return {"results": rows, "total": context_total(index, filters), "browsing": False, "answered": answered}


def context_total(index: Index, filters: Filters) -> int:
    return searched(index.catalog, filters)[0]


def _url_without(params: dict[str, str], field: str) -> str:
    return "/?" + urlencode({k: v for k, v in params.items() if v and k not in (field, "aantal")})
