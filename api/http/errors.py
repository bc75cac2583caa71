"""Error answers: JSON ``{"error", "detail" (English), "melding" (Dutch)}`` with the status from
``api.errors``, or a Dutch page for a browser that asked for an unknown address. No input gives a
bare 500: the unexpected is logged with a request id, and the answer names that id."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from api.errors import ANSWERS, UNEXPECTED, answer_for, melding, public_text
from api.pages import error_page
from search.errors import InvalidInput, Overloaded, SchuttingError, UnreadableDocument

log = logging.getLogger("schutting.http")

NOT_FOUND = "Dit adres bestaat niet. Kijk in /docs welke adressen er zijn."


def error_body(exc: SchuttingError) -> dict[str, Any]:
    """The JSON of a SchuttingError: class, English detail without server paths, Dutch melding."""
    detail = (
        f"{exc.source.rsplit('/', 1)[-1]}: {exc.reason}" if isinstance(exc, UnreadableDocument) else str(exc)
    )
    return {"error": type(exc).__name__, "detail": public_text(detail), "melding": melding(exc)}


def error_response(exc: SchuttingError) -> JSONResponse:
    status = answer_for(exc).status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(exc, Overloaded):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(error_body(exc), status_code=status, headers=headers or None)


def _wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and request.method in ("GET", "HEAD")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SchuttingError)
    async def schutting_error(request: Request, exc: SchuttingError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        body = {"error": "InvalidInput", "detail": problems, "melding": ANSWERS[InvalidInput].melding}
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code in (404, 405) and _wants_page(request):
            return safe_error_page(request, exc.status_code)
        melding_text = NOT_FOUND if exc.status_code == 404 else "Dit verzoek kan niet worden verwerkt."
        body = {"error": "HTTPError", "detail": str(exc.detail), "melding": melding_text}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        request_id = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", request_id, request.method, request.url.path)
        if _wants_page(request):
            return safe_error_page(request, 500, request_id)
        body = {
            "error": "InternalError",
            "detail": f"unexpected error; request id {request_id} (see the server log)",
            "melding": f"{UNEXPECTED.melding} Probeer het opnieuw; blijft het misgaan, meld dan nummer {request_id}.",
            "request_id": request_id,
        }
        return JSONResponse(body, status_code=500)


def safe_error_page(request: Request, status: int, request_id: str = "") -> Response:
    """The Dutch error page, or plain Dutch text should rendering it fail too."""
    try:
        return error_page(request, status, request_id)
    except Exception:
        log.exception("rendering the error page failed")
        text = "Er ging iets mis." + (f" Nummer: {request_id}" if request_id else "")
        return HTMLResponse(f"<!doctype html><html lang='nl'><p>{text}</p></html>", status_code=status)
