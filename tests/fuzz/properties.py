"""The properties every reader must keep, for the fuzz harnesses and the saved regressions alike:
a damaged input gives a Document or the reader's own error with a reason, never another exception."""

from __future__ import annotations

from pathlib import Path

from ingest.cvdr import parse_cvdr
from ingest.regelrecht import parse_regelrecht
from ingest.sources import ReadOptions, read_source
from ingest.sru import SruPage, parse_page
from ingest.text import read_corpus_jsonl
from search.errors import SchuttingError, UnreadableDocument
from search.types import Document


def check_pdf(data: bytes, folder: Path) -> None:
    """The property: one Document with text, or one UnreadableDocument that says why; never a crash."""
    path = folder / "fuzz.pdf"
    path.write_bytes(data)
    items = list(read_source(path, options=ReadOptions(ocr=False, max_pages=50)))
    assert len(items) == 1
    (item,) = items
    if isinstance(item, UnreadableDocument):
        assert item.reason
    else:
        assert isinstance(item, Document)
        assert item.sections


def check_text(data: bytes, folder: Path) -> None:
    """The property: a Markdown or text file gives one Document with text, or one UnreadableDocument."""
    path = folder / "fuzz.md"
    path.write_bytes(data)
    (item,) = read_source(path)
    assert isinstance(item, Document | UnreadableDocument)
    if isinstance(item, Document):
        assert item.sections


def check_cvdr(data: bytes) -> None:
    """The property: a Document with sections, or UnreadableDocument; nothing else."""
    try:
        document = parse_cvdr(data, "fuzz.xml")
    except UnreadableDocument as error:
        assert error.reason
        return
    assert document.sections
    assert document.id.startswith("CVDR")


def check_regelrecht(data: bytes) -> None:
    """The property: a Document with sections, or UnreadableDocument; nothing else."""
    try:
        document = parse_regelrecht(data, "fuzz.yaml")
    except UnreadableDocument as error:
        assert error.reason
        return
    assert document.sections
    assert document.id


def check_corpus(data: bytes, folder: Path) -> None:
    """The property: one item per non-blank line, each a Document or an UnreadableDocument."""
    path = folder / "corpus.jsonl"
    path.write_bytes(data)
    try:
        items = list(read_corpus_jsonl(path))
    except UnreadableDocument:
        return  # the file as a whole is unreadable (not UTF-8): said so, once
    for item in items:
        assert isinstance(item, Document | UnreadableDocument)
        if isinstance(item, Document):
            assert item.sections


def check_sru(data: bytes) -> None:
    """The property: an SruPage, or FetchFailed / SruDiagnostic (SchuttingErrors) that say why."""
    try:
        page = parse_page(data, "fuzz")
    except SchuttingError as error:
        assert str(error)
        return
    assert isinstance(page, SruPage)
    assert page.total >= 0
