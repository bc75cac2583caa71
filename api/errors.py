"""One table from error class to HTTP status, CLI exit code and the Dutch message a civil servant reads.

The CLI (exit codes), the JSON API (status and ``melding``) and the pages (the message shown) all
look an error up here, so a new error class is answered the same way at every edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.meldingen import GENERAL, melding_for
from search.errors import (
    Busy,
    DatabaseUnavailable,
    DocumentNotFound,
    IndexMismatch,
    InvalidInput,
    ModelUnavailable,
    NoIndex,
    NotAuthorized,
    Overloaded,
    SchuttingError,
    TooLarge,
    UnreadableDocument,
)


class Forbidden(NotAuthorized):
    """A token was sent, but not the admin token."""


class AdminClosed(Forbidden):
    """No admin token is configured, so admin endpoints refuse every request."""


class JobNotFound(SchuttingError):
    """No job with that id."""


@dataclass(frozen=True)
class Answer:
    status: int  # HTTP status
    exit_code: int  # `schutting` exit code
    melding: str  # Dutch, for the UI


# Most specific class first: the first isinstance match answers.
ANSWERS: dict[type[SchuttingError], Answer] = {
    AdminClosed: Answer(403, 1, "Beheer is uitgeschakeld: er is geen beheerderstoken ingesteld."),
    Forbidden: Answer(403, 1, "Het beheerderstoken klopt niet."),
    NotAuthorized: Answer(401, 1, "U bent niet aangemeld als beheerder."),
    JobNotFound: Answer(404, 3, "Deze taak bestaat niet."),
    InvalidInput: Answer(400, 2, "De vraag of een filter klopt niet."),
    TooLarge: Answer(413, 6, "Het bestand is te groot."),
    UnreadableDocument: Answer(422, 7, "Het document kan niet worden gelezen."),
    DocumentNotFound: Answer(404, 3, "Dit document staat niet in de index."),
    Busy: Answer(409, 5, "Er loopt al een taak die de index bijwerkt. Probeer het later opnieuw."),
    Overloaded: Answer(429, 5, "Het is nu te druk. Probeer het over enkele seconden opnieuw."),
    IndexMismatch: Answer(409, 4, "De index hoort bij een ander taalmodel; herindexeren is nodig."),
    ModelUnavailable: Answer(503, 8, "Het taalmodel is niet beschikbaar."),
    NoIndex: Answer(503, 1, "Er zijn nog geen documenten geladen."),
    DatabaseUnavailable: Answer(503, 8, "De database is nu niet bereikbaar. Probeer het later opnieuw."),
}
UNEXPECTED = Answer(500, 1, "Er ging iets mis.")


def answer_for(exc: BaseException) -> Answer:
    for kind, answer in ANSWERS.items():
        if isinstance(exc, kind):
            return answer
    return UNEXPECTED


def melding(exc: BaseException) -> str:
    """The Dutch text for this error: its own (``exc.melding``), the reader's reason in Dutch for a
    refused document, or the table's text for its class."""
    own = getattr(exc, "melding", "")
    if isinstance(own, str) and own:
        return own
    if isinstance(exc, UnreadableDocument | Overloaded):
        text = melding_for(exc)
        if text != GENERAL:
            return text
    return answer_for(exc).melding


def status_and_message(exc: SchuttingError) -> tuple[int, str]:
    return answer_for(exc).status, melding(exc)


_SERVER_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/:'\"]+/)+(?=[^\s/:'\"]*)")


def public_text(text: str) -> str:
    """``text`` without server paths: ``/srv/data/uploads/ab12/besluit.pdf`` becomes ``besluit.pdf``."""
    return _SERVER_PATH.sub("", text)


def with_melding(exc: SchuttingError, text: str) -> SchuttingError:
    """``exc`` carrying a Dutch text of its own (shown instead of its class's general one)."""
    exc.melding = text  # type: ignore[attr-defined]
    return exc
