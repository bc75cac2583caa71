"""The HTTP API: FastAPI app built by ``create_app(settings)``; no work at import time."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile

from api.errors import install_error_handlers
from api.queries import build_filters, result_dict
from api.uploads import read_upload
from search.config import Settings
from search.errors import DocumentNotFound, InvalidInput, SchuttingError
from search.generations import LiveIndex
from search.index import Index
from search.retrieval import MODES, query_document, search, similar

FilterList = Annotated[list[str], Query()]


class NoIndex(SchuttingError):
    """Nothing has been ingested yet."""


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Over de schutting",
        description="Zoek hoe andere gemeenten dezelfde beleidsvraag regelen.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.live = LiveIndex(settings.data_dir)
    install_error_handlers(app)
    app.include_router(_routes())
    from api.pages import install_pages

    install_pages(app, settings)
    from api.admin import install_admin

    install_admin(app, settings)
    return app


def current_index(request: Request) -> Index:
    index: Index | None = request.app.state.live.get()
    if index is None:
        raise NoIndex("no index yet: ingest documents first (schutting ingest PATH)")
    return index


def _routes() -> Any:
    from fastapi import APIRouter

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
            "model": index.manifest.model_id,
            "generation": index.folder.name,
        }

    @router.get("/search", tags=["search"])
    def search_documents(
        request: Request,
        index: Annotated[Index, Depends(current_index)],
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
        chosen = _mode(mode, request.app.state.settings)
        results = search(index, q, filters, k=k, mode=chosen)
        return {"query": q, "mode": chosen, "results": [result_dict(r) for r in results]}

    @router.post("/similar", tags=["similar"])
    async def similar_to_upload(
        request: Request,
        index: Annotated[Index, Depends(current_index)],
        file: Annotated[UploadFile, File(description="a PDF draft")],
        municipality: Annotated[str, Form(description="the draft's own municipality, excluded")] = "",
        k: Annotated[int, Form(ge=1, le=100)] = 10,
        mode: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        from api.commands import file_query

        settings: Settings = request.app.state.settings
        with tempfile.TemporaryDirectory() as tmp:
            path = await read_upload(request, file, Path(tmp), settings.max_upload_bytes, pdf_only=True)
            query = file_query(index, path, settings, municipality=municipality)
        chosen = _mode(mode, request.app.state.settings)
        results = similar(index, query, k=k, mode=chosen)
        return {"document": file.filename, "mode": chosen, "results": [result_dict(r) for r in results]}

    @router.get("/documents", tags=["documents"])
    def list_documents(
        index: Annotated[Index, Depends(current_index)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        docs = index.catalog.list_documents(limit, offset)
        return {"total": index.catalog.count_documents(), "documents": [_info_dict(d) for d in docs]}

    @router.get("/documents/{doc_id}", tags=["documents"])
    def get_document(doc_id: str, index: Annotated[Index, Depends(current_index)]) -> dict[str, Any]:
        doc = index.catalog.load_document(doc_id)
        if doc is None:
            raise DocumentNotFound(f"no document with id {doc_id!r}")
        info = index.catalog.document(doc_id)
        assert info is not None
        sections = [
            {"label": s.label, "heading": s.heading, "page": s.page, "text": s.text} for s in doc.sections
        ]
        return {**_info_dict(info), "sections": sections}

    @router.get("/documents/{doc_id}/similar", tags=["similar"])
    def similar_to_document(
        request: Request,
        doc_id: str,
        index: Annotated[Index, Depends(current_index)],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        mode: str | None = None,
        include_own: bool = False,
    ) -> dict[str, Any]:
        query = query_document(index, doc_id)
        if include_own:
            query = type(query)(query.text, query.vectors, "", query.doc_id)
        chosen = _mode(mode, request.app.state.settings)
        results = similar(index, query, k=k, mode=chosen)
        return {"document": doc_id, "mode": chosen, "results": [result_dict(r) for r in results]}

    @router.get("/municipalities", tags=["documents"])
    def municipalities(index: Annotated[Index, Depends(current_index)]) -> list[dict[str, Any]]:
        return [{"code": c, "name": n, "documents": k} for c, n, k in index.catalog.municipalities()]

    @router.get("/facets", tags=["documents"])
    def facets(index: Annotated[Index, Depends(current_index)]) -> dict[str, Any]:
        return {
            "types": [{"value": v, "documents": n} for v, n in index.catalog.facet_values("doc_type")],
            "provinces": [{"value": v, "documents": n} for v, n in index.catalog.facet_values("province")],
        }

    return router


def _mode(mode: str | None, settings: Settings) -> str:
    if mode is None or mode == "":
        return settings.search_mode
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


def _info_dict(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "municipality": info.municipality,
        "municipality_code": info.municipality_code,
        "province": info.province,
        "type": info.doc_type,
        "date": info.date,
        "source": info.source,
        "chunks": info.chunk_count,
        "metadata": info.extra,
    }
