"""The index contract: what ranking, ingest and the API use of an index generation.

`search.index.Index` (SQLite catalog + FAISS + BM25 files) is the embedded engine; a server
engine (PostgreSQL, issue #12) implements the same two protocols. Ranking code
(`retrieval.py`, `similarity.py`, `results.py`) calls only these methods: searches take
`Filters` and apply them inside the engine, before ranking, so an engine can use whatever
filtered search it is good at (a bitmap, an index scan) and still return k hits whenever
k matching chunks exist.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from search.embedders import Embedder
from search.types import Chunk, Document, DocumentInfo, Filters


class CatalogReader(Protocol):
    """Documents and chunks by id, counts, facets and metadata: the catalog's read side."""

    def revision(self) -> int: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def content_hash(self, doc_id: str) -> str | None: ...

    def document(self, doc_id: str) -> DocumentInfo | None: ...

    def documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentInfo]: ...

    def list_documents(self, limit: int = 100, offset: int = 0) -> list[DocumentInfo]: ...

    def load_document(self, doc_id: str) -> Document | None: ...

    def document_ids(self) -> list[str]: ...

    def sources(self) -> dict[str, str]: ...

    def count_documents(self) -> int: ...

    def count_chunks(self) -> int: ...

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]: ...

    def chunks_by_id(self, chunk_ids: Sequence[int]) -> dict[int, tuple[str, Chunk]]: ...

    def chunk_documents(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """The document id of each of these chunks (unknown ids left out): ``chunks_by_id``
        without the text, for grouping a thousand scored chunks per document."""
        ...

    def facet_values(self, column: str) -> list[tuple[str, int]]: ...

    def municipalities(self) -> list[tuple[str, str, int]]: ...


class IndexEngine(Protocol):
    """One index generation: writes, filtered searches and find-similar profiles."""

    @property
    def catalog(self) -> CatalogReader: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def lock(self) -> AbstractContextManager[Any] | threading.RLock: ...

    @property
    def concurrent_reads(self) -> bool:
        """Whether two searches run in parallel when asked at once (hybrid asks dense and
        lexical together): True where the work happens in other processes (a database)."""
        ...

    # -- writes (one writer at a time) ------------------------------------------------

    def put(self, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray | None]]) -> None:
        """Insert or replace documents with their chunks and chunk vectors, atomically. Vectors
        None: the chunks are pending (lexical-first ingest), found by words until embedded."""
        ...

    def set_vectors(self, chunk_ids: Sequence[int], vectors: np.ndarray) -> int:
        """Give pending chunks their vectors (others are left alone); returns how many were set."""
        ...

    def pending_chunks(self) -> list[int]:
        """Ids of the chunks without a vector yet, ascending."""
        ...

    def pending_passages(self, first: int, last: int) -> list[tuple[int, str, Chunk]]:
        """(chunk id, document title, chunk) of the pending chunks with ids first..last."""
        ...

    def count_pending(self) -> int:
        """How many chunks have no vector yet (dense search and find-similar do not see them)."""
        ...

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents; returns how many existed."""
        ...

    def flush(self) -> None:
        """Make every write of this writer durable in every derived structure."""
        ...

    def close(self) -> None: ...

    # -- reads ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Catch up with writes of other processes."""
        ...

    def dense_search(self, vector: np.ndarray, filters: Filters, k: int) -> list[tuple[int, float]]:
        """(chunk id, score) best first; k hits whenever k chunks pass the filters."""
        ...

    def lexical_search(self, text: str, filters: Filters, k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) best first, chunks that pass the filters and match a term."""
        ...

    def lexical_terms(self, words: Sequence[str]) -> tuple[int, dict[str, tuple[str, int]]]:
        """(chunks indexed, {word: (its index term, chunks holding that term)}) for the lower-case
        words that are index terms in this engine's analysis: what find-similar needs to pick a
        document's distinctive words ("more like this") and search them with ``lexical_search``."""
        ...

    def chunk_vectors(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these chunks, one row each."""
        ...

    def nearest_chunks(
        self, doc_ids: Sequence[str], vector: np.ndarray, per_doc: int
    ) -> dict[str, list[tuple[int, float]]]:
        """Each document's ``per_doc`` chunks with the highest inner product with ``vector``, best
        first (ties by chunk id; a pending chunk scores 0): the passages find-similar shows."""
        ...

    def profile_of(self, vectors: np.ndarray, doc_type: str = "") -> np.ndarray:
        """The centred find-similar profile of a document given its leading chunk vectors."""
        ...

    def profile_vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        """The centred profiles of indexed documents, one row each."""
        ...

    def profile_search(self, profile: np.ndarray, filters: Filters, k: int) -> list[tuple[str, float]]:
        """(doc id, cosine) of the documents passing the filters whose profiles are nearest."""
        ...
