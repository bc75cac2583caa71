"""Domain types that flow through the pipeline: Document -> Chunk -> Hit -> Result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A structural unit of a document: an article, a heading's text, or a PDF page."""

    label: str  # "Artikel 3", "Hoofdstuk 2", "p. 4"; "" when the document has no structure
    text: str
    heading: str = ""  # the article or heading title, e.g. "Begripsbepalingen"
    page: int | None = None


@dataclass(frozen=True)
class Document:
    """One source file or regulation, with its metadata and structured text."""

    id: str
    title: str
    sections: tuple[Section, ...]
    municipality: str = ""  # display name, e.g. "Amsterdam"
    municipality_code: str = ""  # CBS code, e.g. "GM0363"
    province: str = ""
    doc_type: str = ""  # verordening, beleidsregel, beleidsnota, bestemmingsplan, besluit, ...
    date: str = ""  # ISO date: issued / adopted / published
    source: str = ""  # path or URL the document came from
    content_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # subject, version, valid_from, legal_basis, ...

    @property
    def text(self) -> str:
        return document_text(self.sections)


SECTION_SEPARATOR = "\n\n"


def document_text(sections: tuple[Section, ...] | list[Section]) -> str:
    """The full text of a document: its sections joined; chunk offsets index into this string."""
    return SECTION_SEPARATOR.join(s.text for s in sections)


@dataclass(frozen=True)
class Chunk:
    """One passage of a document, with where it came from."""

    doc_id: str
    ordinal: int
    text: str
    label: str  # article or page label, e.g. "Artikel 4.2" or "p. 12"
    start: int  # character offsets into Document.text
    end: int
    page: int | None = None

    def embedded_text(self, title: str) -> str:
        """What gets embedded for this chunk: its document's title and section label give context."""
        context = title if not self.label else f"{title} — {self.label}"
        return f"{context}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """A scored chunk."""

    chunk_id: int
    doc_id: str
    score: float
    text: str
    label: str
    start: int
    end: int
    page: int | None = None
    snippet: str = ""  # HTML-safe text with <mark> around matched terms


@dataclass(frozen=True)
class DocumentInfo:
    """Document metadata as stored in the catalog (no text)."""

    id: str
    title: str
    municipality: str
    municipality_code: str
    province: str
    doc_type: str
    date: str
    source: str
    content_hash: str
    chunk_count: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """A document with its best hits: one row of a result list."""

    document: DocumentInfo
    score: float
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Filters:
    """Restrictions applied before ranking."""

    municipalities: tuple[str, ...] = ()  # CBS codes
    exclude_municipalities: tuple[str, ...] = ()  # CBS codes
    provinces: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""
    exclude_doc_ids: tuple[str, ...] = ()
    current_only: bool = True  # CVDR: only the version in force
    valid_on: str = ""  # CVDR: the version in force on this date
    legal_basis: str = ""  # e.g. "BWBR0015703" or "BWBR0015703:8"

    def is_empty(self) -> bool:
        return self == Filters(current_only=self.current_only)
