"""`GET /search`, `GET /health`, `GET /municipalities`, `GET /facets`: questions and what is indexed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.coverage import coverage, searched, semantic_coverage
from api.http.deps import AppSettings, FilterList, LiveIndex, chosen_mode
from api.queries import build_filters, question, result_dicts
from search.retrieval import search
from search.strength import STRONG, strengths
from search.types import Filters

router = APIRouter()


@router.get("/health", tags=["status"])
def health(request: Request) -> dict[str, Any]:
    index = request.app.state.live.get()
    if index is None:
        return {"status": "empty", "documents": 0}
    return {
        "status": "ok",
        "documents": index.catalog.count_documents(),
        "chunks": index.catalog.count_chunks(),
        "semantic_coverage": round(semantic_coverage(index), 4),
        "model": index.manifest.model_id,
        "generation": index.folder.name,
    }


@router.get("/search", tags=["search"])
def search_documents(
    index: LiveIndex,
    settings: AppSettings,
    q: Annotated[str, Query(description="question or words, in Dutch")] = "",
    municipality: FilterList = [],  # noqa: B006
    exclude_municipality: FilterList = [],  # noqa: B006
    province: FilterList = [],  # noqa: B006
    type: FilterList = [],  # noqa: B006
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    all_versions: bool = False,
    valid_on: str | None = None,
    legal_basis: str | None = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: str | None = None,
) -> dict[str, Any]:
    filters = build_filters(municipality, exclude_municipality, province, type, date_from, date_to,
                            all_versions, valid_on, legal_basis)  # fmt: skip
    chosen = chosen_mode(mode, settings)
    results = search(index, question(q), filters, k=k, mode=chosen)
    matches = strengths(index, chosen, q, filters, results)
    return {
        "query": q,
        "mode": chosen,
        "answered": STRONG in matches,
        "semantic_coverage": round(semantic_coverage(index), 4),  # < 1: some documents found by words only
        "results": result_dicts(results, matches),
    }


@router.get("/municipalities", tags=["documents"])
def municipalities(index: LiveIndex) -> list[dict[str, Any]]:
    return [{"code": c, "name": n, "documents": k} for c, n, k in index.catalog.municipalities()]


@router.get("/facets", tags=["documents"])
def facets(index: LiveIndex) -> dict[str, Any]:
    return {
        "types": [{"value": v, "documents": n} for v, n in index.catalog.facet_values("doc_type")],
        "provinces": [{"value": v, "documents": n} for v, n in index.catalog.facet_values("province")],
    }


@router.get("/coverage", tags=["documents"])
def coverage_of_index(index: LiveIndex) -> dict[str, Any]:
    """Per current municipality: documents per type, newest document date, last CVDR harvest."""
    rows = coverage(index.catalog)
    documents, municipalities = searched(index.catalog, Filters())
    return {"documents": documents, "municipalities_with_documents": municipalities,
            "municipalities": [r.as_dict() for r in rows]}  # fmt: skip
