"""JSON error answers: ``{"error", "detail" (English), "melding" (Dutch)}``, status from ``api.errors``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.errors import ANSWERS, answer_for
from search.errors import InvalidInput, SchuttingError, TooLarge, UnreadableDocument


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SchuttingError)
    async def schutting_error(request: Request, exc: SchuttingError) -> JSONResponse:
        answer = answer_for(exc)
        melding = answer.melding
        if isinstance(exc, UnreadableDocument) and not isinstance(exc, TooLarge):
            melding = f"{melding} Reden: {exc.reason}"
        headers = {"WWW-Authenticate": "Bearer"} if answer.status == 401 else None
        body = {"error": type(exc).__name__, "detail": str(exc), "melding": melding}
        return JSONResponse(body, status_code=answer.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        body = {"error": "InvalidInput", "detail": problems, "melding": ANSWERS[InvalidInput].melding}
        return JSONResponse(body, status_code=400)
