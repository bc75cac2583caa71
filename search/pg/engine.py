"""The PostgreSQL engine: one generation of an index in PostgreSQL + pgvector.

Implements ``search.engine.IndexEngine`` like the embedded ``search.index.Index``, with nothing
kept in memory that another node's write could make wrong: every read asks the database (the
corpus mean of the find-similar profiles is cached per revision, which is read each time).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import psycopg

from search.embedders import Embedder, normalise
from search.engine import IndexEngine
from search.errors import Busy, IndexMismatch
from search.index import Manifest
from search.pg import pending, ranking, terms
from search.pg.catalog import PgCatalog
from search.pg.connection import Database
from search.pg.generations import Generation
from search.pg.writes import Writer
from search.profiles import centring_means
from search.types import Chunk, Document, Filters


class PgEngine:
    """A generation (schema) of a PostgreSQL index, opened for reading and writing."""

    def __init__(
        self, db: Database, generation: Generation, embedder: Embedder | None = None, owns_db: bool = False
    ) -> None:
        if embedder is not None and (embedder.model_id, embedder.dim) != (
            generation.model_id,
            generation.dim,
        ):
            raise IndexMismatch(
                f"the index in PostgreSQL was built with {generation.model_id} ({generation.dim}-d), not "
                f"{embedder.model_id} ({embedder.dim}-d); vectors are never mixed: run "
                f"`schutting reindex --model {embedder.model_id}` to rebuild with the new model"
            )
        self.db = db
        self.generation = generation
        self.schema = generation.name
        self.manifest = Manifest(model_id=generation.model_id, dim=generation.dim, store="pgvector")
        self._embedder = embedder
        self._owns_db = owns_db
        self._catalog = PgCatalog(db, generation.name)
        self._writer = Writer(generation.name, generation.dim)
        self._lock = threading.RLock()
        self._means: tuple[int, TypeMeans] | None = None
        self._pending: tuple[int, int] | None = None  # (revision, chunks without a vector)

    @property
    def folder(self) -> PurePosixPath:
        """The generation's name where the embedded engine has its folder (health, info)."""
        return PurePosixPath(self.generation.name)

    @property
    def catalog(self) -> PgCatalog:
        return self._catalog

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from search.embedders import load_embedder

            self._embedder = load_embedder(self.manifest.model_id)
        return self._embedder

    @property
    def concurrent_reads(self) -> bool:
        return True  # each search is a query in its own server process

    @property
    def lock(self) -> threading.RLock:
        """Nothing in this process needs guarding; kept for callers of the embedded engine's lock."""
        return self._lock

    # -- writes: each call is one transaction --------------------------------------------

    def put(self, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray | None]]) -> None:
        if items:
            with self.db.write() as conn:
                self._refuse_during_reindex(conn)
                if any(vectors is None for _, _, vectors in items):
                    pending.allow_pending(conn, self.schema)
                self._writer.put(conn, items)

    def set_vectors(self, chunk_ids: Sequence[int], vectors: np.ndarray) -> int:
        if not len(chunk_ids):
            return 0
        with self.db.write() as conn:
            self._refuse_during_reindex(conn)
            return pending.set_vectors(conn, self.schema, chunk_ids, vectors)

    def pending_chunks(self) -> list[int]:
        with self.db.read() as conn:
            return pending.chunk_ids(conn, self.schema)

    def pending_passages(self, first: int, last: int) -> list[tuple[int, str, Chunk]]:
        with self.db.read() as conn:
            return pending.passages(conn, self.schema, first, last)

    def count_pending(self) -> int:
        """Counted once per revision (hybrid search asks on every question)."""
        revision = self.catalog.revision()
        if self._pending is None or self._pending[0] != revision:
            with self.db.read() as conn:
                self._pending = (revision, pending.count(conn, self.schema))
        return self._pending[1]

    def delete(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids:
            return 0
        with self.db.write() as conn:
            self._refuse_during_reindex(conn)
            return self._writer.delete(conn, doc_ids)

    def _refuse_during_reindex(self, conn: psycopg.Connection) -> None:
        """A write to the live generation while a reindex builds the next would be lost at the swap."""
        if self.generation.state == "building":
            return  # the reindex's own writes
        key = reindex_lock_key(self.generation.space)
        row = conn.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", (key,)).fetchone()
        if not (row and row[0]):
            raise Busy("a reindex is running; writes are refused until it has swapped generations")
        state = conn.execute("SELECT state FROM generations WHERE name = %s", (self.schema,)).fetchone()
        if state is None or state[0] != "live":
            raise Busy("this index generation was replaced by a reindex; open the live index and write again")

    def flush(self) -> None:
        """Nothing to do: every write is committed with its lexical statistics."""

    def refresh(self) -> None:
        """Nothing to do: every read asks the database."""

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    # -- reads ---------------------------------------------------------------------------

    def dense_search(self, vector: np.ndarray, filters: Filters, k: int) -> list[tuple[int, float]]:
        g = self.generation
        with self.db.read() as conn:
            return ranking.dense(conn, self.schema, g.vector_index, g.dim, vector, filters, k)

    def lexical_search(self, text: str, filters: Filters, k: int) -> list[tuple[int, float]]:
        with self.db.read() as conn:
            return ranking.lexical(conn, self.schema, text, filters, k)

    def lexical_terms(self, words: Sequence[str]) -> tuple[int, dict[str, tuple[str, int]]]:
        with self.db.read() as conn:
            return terms.term_frequencies(conn, self.schema, words)

    def chunk_vectors(self, chunk_ids: np.ndarray) -> np.ndarray:
        ids = [int(i) for i in np.asarray(chunk_ids).reshape(-1)]
        if not ids:
            return np.zeros((0, self.generation.dim), dtype=np.float32)
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT id, vector FROM {self.schema}.chunks WHERE id = ANY(%s)", (ids,))
            found = {int(i): as_array(v) for i, v in rows.fetchall() if v is not None}
        empty = np.zeros(self.generation.dim, dtype=np.float32)  # a pending chunk: no vector yet
        return np.vstack([found.get(i, empty) for i in ids]).astype(np.float32)

    def nearest_chunks(
        self, doc_ids: Sequence[str], vector: np.ndarray, per_doc: int
    ) -> dict[str, list[tuple[int, float]]]:
        if not doc_ids or per_doc <= 0:
            return {}
        with self.db.read() as conn:  # one round trip for all documents, scored in the database
            rows = ranking.nearest_chunks(conn, self.schema, list(doc_ids), vector, per_doc)
        out: dict[str, list[tuple[int, float]]] = {}
        for doc_id, chunk_id, score in rows:
            out.setdefault(str(doc_id), []).append((int(chunk_id), float(score)))
        return out

    def profile_of(self, vectors: np.ndarray, doc_type: str = "") -> np.ndarray:
        raw = normalise(np.asarray(vectors, dtype=np.float32).mean(axis=0))[0]
        return normalise(raw - self._profile_means().of(doc_type))[0]

    def profile_vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        if not doc_ids:
            return np.zeros((0, self.generation.dim), dtype=np.float32)
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT doc_id, doc_type, vector FROM {self.schema}.profiles WHERE doc_id = ANY(%s)",
                (list(doc_ids),),
            )
            found = {str(d): (str(t), as_array(v)) for d, t, v in rows.fetchall()}
        means = self._profile_means()
        return normalise(np.vstack([found[d][1] - means.of(found[d][0]) for d in doc_ids]))

    def profile_search(self, profile: np.ndarray, filters: Filters, k: int) -> list[tuple[str, float]]:
        means = self._profile_means()
        with self.db.read() as conn:
            return ranking.profiles(conn, self.schema, profile, means.by_type, means.overall, filters, k)

    def _profile_means(self) -> TypeMeans:
        """The centring mean of each document type (as ``search.profiles``: a type of fewer than
        MIN_TYPE_DOCUMENTS documents, and no type, use the mean of all), recomputed when the
        revision moved."""
        revision = self.catalog.revision()
        if self._means is None or self._means[0] != revision:
            with self.db.read() as conn:
                rows = conn.execute(
                    f"SELECT doc_type, count(*), sum(vector) FROM {self.schema}.profiles GROUP BY doc_type"
                ).fetchall()
            self._means = (revision, TypeMeans.of_sums([(str(t), int(n), as_array(v)) for t, n, v in rows],
                                                       self.generation.dim))  # fmt: skip
        return self._means[1]


@dataclass(frozen=True)
class TypeMeans:
    """Centring means: per document type where the type is common, else the mean of all
    (``search.profiles.centring_means``)."""

    overall: np.ndarray
    by_type: dict[str, np.ndarray]

    @classmethod
    def of_sums(cls, rows: Sequence[tuple[str, int, np.ndarray]], dim: int) -> TypeMeans:
        types = [t for t, _, _ in rows]
        counts = np.asarray([n for _, n, _ in rows], dtype=np.int64)
        sums = np.vstack([v for _, _, v in rows]).astype(np.float64) if rows else np.zeros((0, dim))
        overall, means = centring_means(types, counts, sums)
        return cls(overall, dict(zip(types, means, strict=False)))  # rare types: the mean of all

    def of(self, doc_type: str) -> np.ndarray:
        return self.by_type.get(doc_type, self.overall)


def reindex_lock_key(space: str) -> int:
    """Advisory lock id of a space's reindex (held exclusively by it, shared by each write)."""
    return zlib.crc32(f"reindex:{space}".encode()) - 2**31


def as_array(value: object) -> np.ndarray:
    """A pgvector value (numpy array or pgvector's Vector) as float32."""
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def _satisfies_contract(engine: PgEngine) -> IndexEngine:
    return engine  # mypy checks that the PostgreSQL engine implements the contract
