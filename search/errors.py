"""Errors that reach the edges (CLI exit codes, HTTP status codes)."""


class SchuttingError(Exception):
    """Base class: a problem the user can act on; the message says what to do."""


class UnreadableDocument(SchuttingError):
    """A source document could not be turned into text (corrupt, encrypted, empty, scanned, ...)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class DocumentNotFound(SchuttingError):
    """No document with that id is in the index."""


class IndexMismatch(SchuttingError):
    """The index was built with another embedding model or format than requested."""


class InvalidInput(SchuttingError):
    """A request or argument is malformed (empty query, bad date, unknown filter value)."""


class TooLarge(UnreadableDocument):
    """A document or upload exceeds the configured size or page limit (refused before parsing)."""

    def __init__(self, message: str, source: str = "") -> None:
        SchuttingError.__init__(self, message)
        self.source = source
        self.reason = message


class Busy(SchuttingError):
    """Another writer (ingest or reindex job) holds the index."""


class NotAuthorized(SchuttingError):
    """Missing or wrong admin token."""


class ModelUnavailable(SchuttingError):
    """The embedding model cannot be loaded offline."""


class NoIndex(SchuttingError):
    """Nothing has been ingested yet: there is no live index to search."""


class OverLimit(TooLarge):
    """A document exceeds a configured limit; `limit` names which: "bytes", "pages" or "characters"."""

    def __init__(self, source: str, reason: str, *, limit: str, value: int, maximum: int) -> None:
        UnreadableDocument.__init__(self, source, reason)
        self.limit, self.value, self.maximum = limit, value, maximum


class OverBudget(UnreadableDocument):
    """Reading a document took more time or memory than its budget: a pathological or hostile file."""


class Overloaded(SchuttingError):
    """Every reader is busy with other documents; try again after `retry_after` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(SchuttingError):
    """The PostgreSQL engine's database cannot be reached; nothing was changed."""
