"""One index generation: catalog (SQLite) + vector store (FAISS) + lexical index (BM25).

Writes go to the catalog in one transaction first; the FAISS file and the BM25 folder are
derived copies stamped with the catalog revision and rebuilt whenever they are behind.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.catalog import Catalog
from search.embedders import Embedder
from search.engine import IndexEngine
from search.errors import IndexMismatch
from search.lexical import LexicalIndex
from search.profiles import LEADING_CHUNKS, Profiles
from search.store import STORES, FaissStore, VectorStore
from search.types import Chunk, Document, Filters

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    model_id: str
    dim: int
    store: str = "faiss"
    format_version: int = FORMAT_VERSION

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        data = json.loads((folder / "manifest.json").read_text())
        return cls(**{k: data[k] for k in ("model_id", "dim", "store", "format_version")})

    def write(self, folder: Path) -> None:
        tmp = folder / "manifest.json.tmp"
        tmp.write_text(json.dumps(self.__dict__, indent=2))
        tmp.replace(folder / "manifest.json")


class Index:
    """A generation folder opened for reading and writing (one writer at a time)."""

    def __init__(self, folder: Path, manifest: Manifest, embedder: Embedder | None = None) -> None:
        self.folder = folder
        self.manifest = manifest
        self._embedder = embedder
        self.catalog = Catalog(folder / "catalog.sqlite")
        self._lock: threading.RLock = threading.RLock()
        self._revision = -1
        self._lexical_revision = -1
        self.store: VectorStore = STORES[manifest.store](manifest.dim)
        self.lexical = LexicalIndex.build([], [])
        self._profiles: tuple[int, Profiles] | None = None
        self._allowed_cache: dict[tuple[int, Filters], tuple[np.ndarray | None]] = {}
        self.refresh()

    @classmethod
    def create(cls, folder: Path, embedder: Embedder) -> Index:
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "manifest.json").exists():
            return cls.open(folder, embedder)
        Manifest(model_id=embedder.model_id, dim=embedder.dim).write(folder)
        return cls.open(folder, embedder)

    @classmethod
    def open(cls, folder: Path, embedder: Embedder | None = None) -> Index:
        manifest = Manifest.read(folder)
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatch(
                f"index at {folder} has format {manifest.format_version}, this version reads "
                f"{FORMAT_VERSION}: run `schutting reindex`"
            )
        if embedder is not None and (embedder.model_id, embedder.dim) != (manifest.model_id, manifest.dim):
            raise IndexMismatch(
                f"index at {folder} was built with {manifest.model_id} ({manifest.dim}-d), not "
                f"{embedder.model_id} ({embedder.dim}-d); vectors are never mixed: run "
                f"`schutting reindex --model {embedder.model_id}` to rebuild with the new model"
            )
        return cls(folder, manifest, embedder)

    @property
    def lock(self) -> threading.RLock:
        """Held by writers while they change FAISS/BM25, and by readers while they search them."""
        return self._lock

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from search.embedders import load_embedder

            self._embedder = load_embedder(self.manifest.model_id)
        return self._embedder

    # -- derived structures -------------------------------------------------------------

    def refresh(self) -> None:
        """Bring FAISS and BM25 in step with the catalog (after another process wrote)."""
        with self._lock:
            revision = self.catalog.revision()
            if revision == self._revision:
                return
            self.store = self._load_vectors(revision)
            self._revision = revision
            # A lexical index a little behind is acceptable (the writer flushes it at the end
            # of its batch; hits on deleted chunks are dropped); a missing one is rebuilt.
            saved = LexicalIndex.saved_revision(self.folder / "lexical")
            if saved != self._lexical_revision:
                lexical = LexicalIndex.load(self.folder / "lexical") if saved is not None else None
                if lexical is None:
                    lexical, saved = self._build_lexical(), revision
                    lexical.save(self.folder / "lexical", revision)
                self.lexical = lexical
                self._lexical_revision = saved if saved is not None else revision

    def profiles(self) -> Profiles:
        """Per-document profiles for find-similar (search/profiles.py), rebuilt after writes."""
        with self._lock:
            if self._profiles is None or self._profiles[0] != self._revision:
                ids, vectors = self.catalog.leading_vectors(LEADING_CHUNKS, self.manifest.dim)
                self._profiles = (self._revision, Profiles.build(ids, vectors))
            return self._profiles[1]

    # -- engine-level reads (search/engine.py) -------------------------------------------

    def dense_search(self, vector: np.ndarray, filters: Filters, k: int) -> list[tuple[int, float]]:
        allowed = self._allowed_chunks(filters)
        with self._lock:
            return self.store.search(vector, k, allowed)

    def lexical_search(self, text: str, filters: Filters, k: int) -> list[tuple[int, float]]:
        allowed = self._allowed_chunks(filters)
        with self._lock:
            return self.lexical.search(text, k, allowed)

    def chunk_vectors(self, chunk_ids: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.store.vectors(np.asarray(chunk_ids, dtype=np.int64))

    def profile_of(self, vectors: np.ndarray, doc_type: str = "") -> np.ndarray:
        return self.profiles().profile(vectors)

    def profile_vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        return self.profiles().vectors(doc_ids)

    def profile_search(self, profile: np.ndarray, filters: Filters, k: int) -> list[tuple[str, float]]:
        return self.profiles().search(profile, k, self.catalog.filtered_doc_ids(filters))

    def _allowed_chunks(self, filters: Filters) -> np.ndarray | None:
        """Chunk ids passing the filters (None: all), cached for the current revision."""
        key = (self._revision, filters)
        cached = self._allowed_cache.get(key)
        if cached is None:
            cached = (self.catalog.filtered_chunk_ids(filters),)
            if len(self._allowed_cache) >= 16:
                self._allowed_cache.clear()
            self._allowed_cache[key] = cached
        return cached[0]

    def _load_vectors(self, revision: int) -> VectorStore:
        path, stamp = self.folder / "vectors.faiss", self.folder / "vectors.rev"
        fresh = path.exists() and stamp.exists() and stamp.read_text().strip() == str(revision)
        if self.manifest.store == "faiss" and fresh:
            return FaissStore.load(path, self.manifest.dim)
        store = STORES[self.manifest.store](self.manifest.dim)
        ids, vectors = self.catalog.all_vectors(self.manifest.dim)
        store.add(ids, vectors)
        self._save_vectors(store, revision)
        return store

    def _save_vectors(self, store: VectorStore, revision: int) -> None:
        store.save(self.folder / "vectors.faiss")
        tmp = self.folder / f"vectors.rev.tmp{os.getpid()}-{threading.get_ident()}"
        tmp.write_text(str(revision))
        tmp.replace(self.folder / "vectors.rev")

    def _build_lexical(self) -> LexicalIndex:
        rows = list(self.catalog.chunk_rows())
        return LexicalIndex.build([r[0] for r in rows], [r[2] for r in rows])

    # -- writes -------------------------------------------------------------------------

    def put(self, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]]) -> None:
        """Insert or replace documents atomically; the lexical index follows on flush()."""
        if not items:
            return
        with self._lock:
            removed: list[int] = []
            added_ids: list[int] = []
            added_vecs: list[np.ndarray] = []
            with self.catalog.transaction() as db:
                for doc, chunks, vectors in items:
                    removed += self.catalog.delete(db, doc.id)
                    added_ids += self.catalog.put(db, doc, chunks, vectors)
                    added_vecs.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.manifest.dim))
                self.catalog.refresh_current_versions(
                    db, [str(d.extra.get("work_id", "")) for d, _, _ in items]
                )
            self.store.delete(np.asarray(removed, dtype=np.int64))
            self.store.add(np.asarray(added_ids, dtype=np.int64), np.vstack(added_vecs))
            self._after_write()

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents from every structure; returns how many existed."""
        with self._lock:
            removed: list[int] = []
            found = 0
            with self.catalog.transaction() as db:
                for doc_id in doc_ids:
                    if self.catalog.content_hash(doc_id) is not None:
                        found += 1
                    removed += self.catalog.delete(db, doc_id)
            self.store.delete(np.asarray(removed, dtype=np.int64))
            self._after_write()
            return found

    def _after_write(self) -> None:
        self._revision = self.catalog.revision()
        self._save_vectors(self.store, self._revision)

    def flush(self) -> None:
        """Rebuild and save the lexical index if writes made it stale."""
        with self._lock:
            if self._lexical_revision != self._revision:
                self.lexical = self._build_lexical()
                self.lexical.save(self.folder / "lexical", self._revision)
                self._lexical_revision = self._revision

    def close(self) -> None:
        self.catalog.close()


def _satisfies_contract(index: Index) -> IndexEngine:
    return index  # mypy checks that the embedded engine implements the contract
