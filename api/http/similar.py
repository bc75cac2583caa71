"""`POST /similar` (a draft PDF) and `GET /documents/{id}/similar`: policy like it, other municipalities."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from api.http.deps import AppSettings, LiveIndex, chosen_mode
from api.queries import municipality_codes, result_dicts
from api.uploads import read_upload
from ingest.draft import draft_query
from search.retrieval import QueryDocument, query_document, similar
from search.strength import STRONG, similar_strengths

router = APIRouter(tags=["similar"])


@router.post("/similar")
async def similar_to_upload(
    request: Request,
    index: LiveIndex,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="a PDF draft")],
    municipality: Annotated[str, Form(description="the draft's own municipality, excluded")] = "",
    k: Annotated[int, Form(ge=1, le=100)] = 10,
    mode: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    chosen = chosen_mode(mode, settings)
    own = municipality_codes([municipality])
    with tempfile.TemporaryDirectory() as tmp:
        path = await read_upload(request, file, Path(tmp), settings.max_upload_bytes, pdf_only=True)
        query = await run_in_threadpool(
            draft_query, index, path, settings.read_options(), own[0] if own else "", settings.budget()
        )
    results = await run_in_threadpool(similar, index, query, k=k, mode=chosen)
    matches = similar_strengths(index, query, results)
    return {"document": file.filename, "mode": chosen, "answered": STRONG in matches,
            "results": result_dicts(results, matches)}  # fmt: skip


@router.get("/documents/{doc_id}/similar")
def similar_to_document(
    doc_id: str,
    index: LiveIndex,
    settings: AppSettings,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: str | None = None,
    include_own: bool = False,
) -> dict[str, Any]:
    chosen = chosen_mode(mode, settings)
    query = query_document(index, doc_id)
    if include_own:
        query = QueryDocument(query.text, query.vectors, "", query.doc_id)
    results = similar(index, query, k=k, mode=chosen)
    matches = similar_strengths(index, query, results)
    return {"document": doc_id, "mode": chosen, "answered": STRONG in matches,
            "results": result_dicts(results, matches)}  # fmt: skip
