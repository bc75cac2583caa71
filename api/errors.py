"""One exception handler per error class: HTTP status, English detail, Dutch message for the UI."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from search.errors import (
    Busy,
    DocumentNotFound,
    IndexMismatch,
    InvalidInput,
    ModelUnavailable,
    NotAuthorized,
    SchuttingError,
    TooLarge,
    UnreadableDocument,
)

# (status, message a civil servant reads)
RESPONSES: dict[type[SchuttingError], tuple[int, str]] = {
    InvalidInput: (400, "De vraag of een filter klopt niet."),
    TooLarge: (413, "Het bestand is te groot."),  # before its base class UnreadableDocument
    UnreadableDocument: (422, "Het document kan niet worden gelezen."),
    DocumentNotFound: (404, "Dit document staat niet in de index."),
    Busy: (409, "Er loopt al een taak die de index bijwerkt. Probeer het later opnieuw."),
    NotAuthorized: (401, "U bent niet aangemeld als beheerder."),
    IndexMismatch: (409, "De index hoort bij een ander taalmodel; herindexeren is nodig."),
    ModelUnavailable: (503, "Het taalmodel is niet beschikbaar."),
}
DEFAULT = (500, "Er ging iets mis.")


def status_and_message(exc: SchuttingError) -> tuple[int, str]:
    for kind, answer in RESPONSES.items():
        if isinstance(exc, kind):
            return answer
    if type(exc).__name__ == "NoIndex":
        return 503, "Er zijn nog geen documenten geladen."
    return DEFAULT


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SchuttingError)
    async def schutting_error(request: Request, exc: SchuttingError) -> JSONResponse:
        status, melding = status_and_message(exc)
        if isinstance(exc, UnreadableDocument) and not isinstance(exc, TooLarge):
            melding = f"{melding} Reden: {exc.reason}"
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body = {"error": type(exc).__name__, "detail": str(exc), "melding": melding}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        body = {"error": "InvalidInput", "detail": problems, "melding": RESPONSES[InvalidInput][1]}
        return JSONResponse(body, status_code=400)
