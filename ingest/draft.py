"""A draft file as a find-similar query: read and embedded, never indexed.

Only what the comparison uses is embedded: find-similar compares a document by its leading
passages (``search.profiles.LEADING_CHUNKS``) and its opening text, so a 30-page draft costs the
same as a 3-page one. The file is read in a budgeted worker process (``ingest.sandbox``), so a
hostile PDF cannot stall the caller.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ingest.chunking import chunk
from ingest.embedding import embed_passages, passage_text
from ingest.sandbox import Budget, read_isolated
from ingest.sources import Defaults, ReadOptions
from search.engine import IndexEngine
from search.errors import UnreadableDocument
from search.profiles import LEADING_CHUNKS
from search.similarity import QueryDocument
from search.types import Chunk, Document

LEADING_PAGES = 6  # enough for LEADING_CHUNKS passages of up to 200 words in most drafts


def draft_query(
    index: IndexEngine, path: Path, options: ReadOptions, own_code: str = "", budget: Budget | None = None
) -> QueryDocument:
    """The draft at ``path`` as a similarity query; ``own_code`` (a CBS code) is the draft's own
    municipality, excluded from the answer (default: the municipality the file names, if any).

    A PDF is read from its first ``LEADING_PAGES`` pages, more only while they hold fewer than the
    leading passages the comparison uses, and from its text layer first: OCR (slow) only when the
    text layer has nothing to compare. A 30-page draft costs about what a 5-page one does."""
    try:
        doc, chunks = _leading(path, replace(options, ocr=False), own_code, budget)
    except UnreadableDocument as exc:
        if type(exc) is not UnreadableDocument or not options.ocr:  # over a limit or budget: no retry
            raise
        doc, chunks = _leading(path, replace(options, ocr_page_limit=LEADING_PAGES), own_code, budget)
    if not chunks:
        raise UnreadableDocument(path.name, "no text to compare after extraction")
    leading = chunks[:LEADING_CHUNKS]
    vectors = embed_passages(index.embedder, [passage_text(doc, c) for c in leading])
    text = f"{doc.title}\n" + "\n".join(c.text for c in chunks)
    known = doc.id if index.catalog.content_hash(doc.id) else ""
    return QueryDocument(text, vectors, own_code or doc.municipality_code, known)


def _leading(
    path: Path, options: ReadOptions, own_code: str, budget: Budget | None
) -> tuple[Document, list[Chunk]]:
    """The draft read from as many opening pages as the leading passages need (doubling)."""
    pages = LEADING_PAGES
    while True:
        doc = _read(path, replace(options, first_pages=pages), own_code, budget)
        chunks = chunk(doc)
        total = int(doc.extra.get("pages") or 0)
        if len(chunks) >= LEADING_CHUNKS or not total or pages >= total:
            return doc, chunks
        pages *= 2


def _read(path: Path, options: ReadOptions, own_code: str, budget: Budget | None) -> Document:
    docs = read_isolated(path, Defaults(municipality=own_code), options, budget or Budget())
    if not docs:
        raise UnreadableDocument(path.name, "no document in the file")
    if isinstance(docs[0], UnreadableDocument):
        raise docs[0]
    return docs[0]
