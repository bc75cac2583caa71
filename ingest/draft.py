"""A draft file as a find-similar query: read and embedded, never indexed."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import embed_document
from ingest.sources import Defaults, ReadOptions, read_source
from search.errors import UnreadableDocument
from search.index import Index
from search.similarity import QueryDocument


def draft_query(index: Index, path: Path, options: ReadOptions, own_code: str = "") -> QueryDocument:
    """The draft at ``path`` as a similarity query; ``own_code`` (a CBS code) is the draft's own
    municipality, excluded from the answer (default: the municipality the file names, if any)."""
    docs = list(read_source(path, Defaults(municipality=own_code), options))
    if not docs:
        raise UnreadableDocument(path.name, "no document in the file")
    if isinstance(docs[0], UnreadableDocument):
        raise docs[0]
    doc = docs[0]
    chunks, vectors = embed_document(index, doc)
    text = f"{doc.title}\n" + "\n".join(c.text for c in chunks)
    known = doc.id if index.catalog.content_hash(doc.id) else ""
    return QueryDocument(text, vectors, own_code or doc.municipality_code, known)
