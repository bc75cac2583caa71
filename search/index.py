"""One index generation: catalog (SQLite) + vectors (FAISS) + lexical segments (BM25) + profiles.

Writes go to the catalog in one transaction first (the source of truth, with its change log);
the derived structures replay the log after every write and on open (search/derived.py) and
are checkpointed to disk by ``flush`` without rewriting what did not change.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search import derived, pending
from search.catalog import Catalog
from search.embedders import Embedder
from search.engine import IndexEngine
from search.errors import IndexMismatch
from search.filtering import ChunkFilter
from search.profiles import Profiles
from search.types import Chunk, Document, Filters

VECTOR_CHECKPOINT_SHARE = 0.1  # rewrite the vector file when this share of it changed
VECTOR_CHECKPOINT_MIN = 10_000
LOG_KEPT = 100_000  # change-log entries kept behind the checkpoints, for readers that lag

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
        self.filters = ChunkFilter(self.catalog)
        self._profiles: Profiles | None = None
        self._bulk = False
        self._pending: tuple[int, int] | None = None  # (catalog revision, chunks without a vector)
        self._open_structures()

    def _open_structures(self) -> None:
        """Load the checkpoints (or build from the catalog) and replay the log after them."""
        dim = self.manifest.dim
        self._revision = self.catalog.revision()
        self.store, vectors_seq = derived.open_vectors(self.catalog, self.folder, dim)
        self.lexical, lexical_seq = derived.open_lexical(self.catalog, self.folder)
        self._saved = {
            "vectors": derived.VectorIndex.saved_seq(self.folder),
            "lexical": derived.LexicalIndex.saved_seq(self.folder / derived.LEXICAL_FOLDER),
        }
        vectors = derived.changes_since(self.catalog, vectors_seq)
        lexical = vectors if lexical_seq == vectors_seq else derived.changes_since(self.catalog, lexical_seq)
        if max(len(vectors.added), len(lexical.added)) > derived.BATCH:
            self._rebuild()  # far behind (a crash during a bulk load): cheaper from the catalog
            return
        self._apply_vectors(vectors)
        self._apply_lexical(lexical)
        self._seq = max(vectors.seq, lexical.seq)
        self._profiles = None

    def _rebuild(self) -> None:
        """Every derived structure from the catalog, then the log written meanwhile."""
        seq = derived.last_seq(self.catalog)
        self._revision = self.catalog.revision()
        self.store = derived.build_vectors(self.catalog, self.manifest.dim)
        self.lexical = derived.build_lexical(self.catalog)
        changes = derived.changes_since(self.catalog, seq)
        self._apply_vectors(changes)
        self._apply_lexical(changes)
        self._seq, self._profiles = changes.seq, None
        self._saved = {"vectors": None, "lexical": None}

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A first load or a reindex: writes go to the catalog only, and the derived structures
        are built once from it at the end (and flushed), instead of following every batch."""
        with self._lock:
            self._bulk = True
            try:
                yield
            finally:
                self._bulk = False
                self._rebuild()
                self.flush()

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
        """Held while the derived structures change or are searched."""
        return self._lock

    @property
    def concurrent_reads(self) -> bool:
        return False  # both searches hold this process's lock and share its cores

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from search.embedders import load_embedder

            self._embedder = load_embedder(self.manifest.model_id)
        return self._embedder

    # -- following the catalog -------------------------------------------------------------

    def refresh(self) -> None:
        """Replay the catalog's change log since the last refresh (writes of any process)."""
        with self._lock:
            revision = self.catalog.revision()
            if revision == self._revision:
                return
            if not derived.replayable(self.catalog, self._seq):
                self._open_structures()  # the log was pruned past us: start from the checkpoints
                return
            self._revision = revision
            changes = derived.changes_since(self.catalog, self._seq)
            if len(changes.added) > derived.BATCH:
                self._rebuild()
                return
            self._apply_vectors(changes)
            self._apply_lexical(changes)
            if self._profiles is not None:
                derived.update_profiles(self._profiles, self.catalog, changes.documents, self.manifest.dim)
            self._seq = changes.seq

    def _apply_vectors(self, changes: derived.Changes) -> None:
        """Removed and re-embedded chunks out, then every added or embedded chunk with a vector in
        (pending chunks of a lexical-first ingest come in when ``set_vectors`` gives them one)."""
        self.store.remove(np.concatenate([changes.removed, changes.embedded]))
        fresh = np.concatenate([changes.added, changes.embedded])
        self.store.add(*derived.embedded_vectors(self.catalog, fresh, self.manifest.dim))

    def _apply_lexical(self, changes: derived.Changes) -> None:
        self.lexical.remove(changes.removed)
        self.lexical.add(changes.added.tolist(), derived.passage_texts(self.catalog, changes.added))

    def profiles(self) -> Profiles:
        """Per-document profiles for find-similar (search/profiles.py), built on first use."""
        with self._lock:
            self.refresh()
            if self._profiles is None:
                self._profiles = derived.build_profiles(self.catalog, self.manifest.dim)
            return self._profiles

    # -- engine-level reads (search/engine.py) -------------------------------------------

    def dense_search(self, vector: np.ndarray, filters: Filters, k: int) -> list[tuple[int, float]]:
        with self._lock:
            return self.store.search(vector, k, self.filters.allowed(filters, self._revision))

    def lexical_search(self, text: str, filters: Filters, k: int) -> list[tuple[int, float]]:
        with self._lock:
            allowed = self.filters.allowed(filters, self._revision)
            return self.lexical.search(text, k, allowed.mask if allowed is not None else None)

    def lexical_terms(self, words: Sequence[str]) -> tuple[int, dict[str, tuple[str, int]]]:
        with self._lock:
            return self.lexical.term_frequencies(words)

    def chunk_vectors(self, chunk_ids: np.ndarray) -> np.ndarray:
        return self.catalog.vectors_of([int(c) for c in chunk_ids], self.manifest.dim)

    def nearest_chunks(
        self, doc_ids: Sequence[str], vector: np.ndarray, per_doc: int
    ) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for doc_id in doc_ids:
            ids = np.asarray([cid for cid, _ in self.catalog.chunks_of(doc_id)], dtype=np.int64)
            if not len(ids):
                continue
            scores = self.chunk_vectors(ids) @ np.asarray(vector, dtype=np.float32)
            order = np.lexsort((ids, -scores))[:per_doc]
            out[doc_id] = [(int(ids[i]), float(scores[i])) for i in order]
        return out

    def profile_of(self, vectors: np.ndarray, doc_type: str = "") -> np.ndarray:
        return self.profiles().profile(vectors, doc_type)

    def profile_vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        return self.profiles().vectors(doc_ids)

    def profile_search(self, profile: np.ndarray, filters: Filters, k: int) -> list[tuple[str, float]]:
        profiles = self.profiles()
        with self._lock:
            admitted, removed, superseded = self.filters.excluded_documents(filters, self._revision)
            return profiles.search(profile, k, admitted, removed, superseded)

    # -- writes ---------------------------------------------------------------------------

    def put(self, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray | None]]) -> None:
        """Insert or replace documents atomically; derived structures follow at once. Chunks
        written without vectors are pending: found by words until ``set_vectors``."""
        if not items:
            return
        with self._lock:
            with self.catalog.transaction() as db:
                for doc, chunks, vectors in items:
                    self.catalog.delete(db, doc.id)
                    rows = (
                        None
                        if vectors is None
                        else np.asarray(vectors, np.float32).reshape(-1, self.manifest.dim)
                    )
                    self.catalog.put(db, doc, chunks, rows)
                self.catalog.refresh_current_versions(
                    db, [str(d.extra.get("work_id", "")) for d, _, _ in items]
                )
            if not self._bulk:
                self.refresh()

    def set_vectors(self, chunk_ids: Sequence[int], vectors: np.ndarray) -> int:
        """Vectors for pending chunks (gone or already embedded ones are left alone); returns how
        many were set. Dense search and find-similar see them at once."""
        with self._lock:
            with self.catalog.transaction() as db:
                count = pending.set_vectors(db, chunk_ids, vectors)
            if not self._bulk:
                self.refresh()
            return count

    def pending_chunks(self) -> list[int]:
        return pending.chunk_ids(self.catalog)

    def pending_passages(self, first: int, last: int) -> list[tuple[int, str, Chunk]]:
        return pending.passages(self.catalog, first, last)

    def count_pending(self) -> int:
        """Counted once per catalog revision (hybrid search asks on every question)."""
        revision = self.catalog.revision()
        if self._pending is None or self._pending[0] != revision:
            self._pending = (revision, pending.count(self.catalog))
        return self._pending[1]

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents from every structure; returns how many existed."""
        with self._lock:
            found = 0
            with self.catalog.transaction() as db:
                for doc_id in doc_ids:
                    if self.catalog.content_hash(doc_id) is not None:
                        found += 1
                    self.catalog.delete(db, doc_id)
            if not self._bulk:
                self.refresh()
            return found

    def flush(self) -> None:
        """Checkpoint: a new lexical segment for what was added, the vector file when much
        changed (or IVF was retrained), then drop the log entries both checkpoints hold."""
        with self._lock:
            if self._bulk:
                return
            self.refresh()
            if self.store.needs_rebuild():
                seq = derived.last_seq(self.catalog)
                self.store, self._saved["vectors"] = (
                    derived.build_vectors(self.catalog, self.manifest.dim),
                    None,
                )
                self._apply_vectors(derived.changes_since(self.catalog, seq))
            behind = self._seq - (self._saved["vectors"] if self._saved["vectors"] is not None else -(10**18))
            if behind > max(VECTOR_CHECKPOINT_MIN, VECTOR_CHECKPOINT_SHARE * self.store.count()) or (
                self._saved["vectors"] is None
            ):
                self.store.save(self.folder, self._seq)
                self._saved["vectors"] = self._seq
            if self._saved["lexical"] != self._seq:
                self.lexical.save(self.folder / derived.LEXICAL_FOLDER, self._seq)
                self._saved["lexical"] = self._seq
            held = min(self._saved["vectors"] or 0, self._saved["lexical"] or 0)
            self.catalog.prune_log(held - LOG_KEPT)  # readers a little behind still replay
            _remove_format1_files(self.folder)

    def close(self) -> None:
        self.catalog.close()


def _remove_format1_files(folder: Path) -> None:
    """The whole-file FAISS and BM25 copies of earlier versions, replaced by checkpoints."""
    for name in ("vectors.faiss", "vectors.rev"):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / "lexical", ignore_errors=True)


def _satisfies_contract(index: Index) -> IndexEngine:
    return index  # mypy checks that the embedded engine implements the contract
