"""A draft file as a find-similar query: read and embedded, never indexed.

Only what the comparison uses is embedded: find-similar compares a document by its leading
passages (``search.profiles.LEADING_CHUNKS``) and its opening text, so a 30-page draft costs the
same as a 3-page one. The file is read in a budgeted worker process (``ingest.sandbox``), so a
hostile PDF cannot stall the caller.
"""

from __future__ import annotations

from pathlib import Path

from ingest.chunking import chunk
from ingest.embedding import embed_passages, passage_text
from ingest.sandbox import Budget, read_isolated
from ingest.sources import Defaults, ReadOptions
from search.engine import IndexEngine
from search.errors import UnreadableDocument
from search.profiles import LEADING_CHUNKS
from search.similarity import QueryDocument


def draft_query(
    index: IndexEngine, path: Path, options: ReadOptions, own_code: str = "", budget: Budget | None = None
) -> QueryDocument:
    """The draft at ``path`` as a similarity query; ``own_code`` (a CBS code) is the draft's own
    municipality, excluded from the answer (default: the municipality the file names, if any)."""
    docs = read_isolated(path, Defaults(municipality=own_code), options, budget or Budget())
    if not docs:
        raise UnreadableDocument(path.name, "no document in the file")
    if isinstance(docs[0], UnreadableDocument):
        raise docs[0]
    doc = docs[0]
    chunks = chunk(doc)
    if not chunks:
        raise UnreadableDocument(path.name, "no text to compare after extraction")
    leading = chunks[:LEADING_CHUNKS]
    vectors = embed_passages(index.embedder, [passage_text(doc, c) for c in leading])
    text = f"{doc.title}\n" + "\n".join(c.text for c in chunks)
    known = doc.id if index.catalog.content_hash(doc.id) else ""
    return QueryDocument(text, vectors, own_code or doc.municipality_code, known)
