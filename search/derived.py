"""The structures derived from the catalog, and how they follow it.

Each structure (vectors, lexical segments; profiles in memory) holds the catalog up to a
position of its change log (``chunk_log``, written by trigger inside every write
transaction). ``catch_up`` replays what came after: removed chunks are removed, added chunks
are read back from the catalog and added. Replaying is idempotent (a chunk is removed before
it is added), so a structure saved at any point before or after a crash is made whole on open.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from search import vectors
from search.catalog import Catalog
from search.lexical import LexicalIndex
from search.profiles import LEADING_CHUNKS, Profiles
from search.vectors import TRAIN_PER_LIST, VectorIndex, list_count

LEXICAL_FOLDER = "lexicon"
BATCH = 50_000
PASSAGE_TEXT = "d.title || char(10) || c.label || char(10) || c.text"  # what BM25 indexes
EMBEDDED = "length(vector) > 0"  # a pending chunk (lexical-first ingest) has an empty vector


@dataclass(frozen=True)
class Changes:
    seq: int  # the last log entry included
    removed: np.ndarray  # chunk ids whose earlier instance is gone (or replaced)
    added: np.ndarray  # chunk ids present now that were written after the start
    documents: frozenset[str]
    embedded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # vector set later


def last_seq(catalog: Catalog) -> int:
    """The last log position ever assigned (AUTOINCREMENT keeps it after the log is pruned)."""
    row = catalog.rows("SELECT seq FROM sqlite_sequence WHERE name = 'chunk_log'")
    return int(row[0][0]) if row else 0


def first_seq(catalog: Catalog) -> int:
    """The first log position still held."""
    row = catalog.rows("SELECT MIN(seq) FROM chunk_log")[0][0]
    return int(row) if row is not None else last_seq(catalog) + 1


def changes_since(catalog: Catalog, seq: int) -> Changes:
    rows = catalog.rows(
        "SELECT seq, chunk_id, doc_id, added FROM chunk_log WHERE seq > ? ORDER BY seq", (seq,)
    )
    final: dict[int, int] = {}
    embedded: set[int] = set()
    for _, chunk_id, _, added in rows:
        if added == 2:
            embedded.add(chunk_id)  # its text is unchanged: only the vector structures follow
        else:
            final[chunk_id] = added
    touched = np.asarray(list(final), dtype=np.int64)
    added = np.asarray([c for c, a in final.items() if a], dtype=np.int64)
    late = np.asarray(sorted(c for c in embedded if c not in final), dtype=np.int64)
    return Changes(rows[-1][0] if rows else seq, touched, added, frozenset(r[2] for r in rows), late)


def replayable(catalog: Catalog, seq: int | None) -> bool:
    """Whether the log still holds everything after `seq` (it is pruned behind checkpoints)."""
    return seq is not None and seq + 1 >= first_seq(catalog)


def passage_texts(catalog: Catalog, chunk_ids: np.ndarray) -> list[str]:
    found: dict[int, str] = {}
    ids = [int(c) for c in chunk_ids]
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        sql = f"SELECT c.id, {PASSAGE_TEXT} FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({','.join('?' * len(part))})"
        found.update(catalog.rows(sql, part))
    return [found.get(c, "") for c in ids]


def embedded_vectors(catalog: Catalog, chunk_ids: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of those chunks that exist and have a vector (pending ones have none yet)."""
    found: dict[int, bytes] = {}
    ids = [int(c) for c in chunk_ids]
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        found.update(
            catalog.rows(f"SELECT id, vector FROM chunks WHERE id IN ({marks}) AND {EMBEDDED}", part)
        )
    kept = [c for c in dict.fromkeys(ids) if c in found]
    matrix = np.frombuffer(b"".join(found[c] for c in kept), dtype=np.float32).reshape(len(kept), dim)
    return np.asarray(kept, dtype=np.int64), matrix.copy()


def _vector_batches(catalog: Catalog, dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every embedded chunk's vector (pending chunks have none yet), in id order."""
    after = 0
    while True:
        rows = catalog.rows(
            f"SELECT id, vector FROM chunks WHERE id > ? AND {EMBEDDED} ORDER BY id LIMIT ?", (after, BATCH)
        )
        if not rows:
            return
        after = rows[-1][0]
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        yield np.asarray([r[0] for r in rows], dtype=np.int64), vectors


def build_vectors(catalog: Catalog, dim: int, seed: int = 0) -> VectorIndex:
    """The whole vector index from the catalog (training IVF on a random sample when large)."""
    count = int(catalog.rows(f"SELECT COUNT(*) FROM chunks WHERE {EMBEDDED}")[0][0])
    sample = np.zeros((0, dim), dtype=np.float32)
    if count > vectors.EXACT_LIMIT:
        ids = np.asarray(
            [r[0] for r in catalog.rows(f"SELECT id FROM chunks WHERE {EMBEDDED}")], dtype=np.int64
        )
        chosen = np.random.default_rng(seed).choice(
            ids, min(len(ids), TRAIN_PER_LIST * list_count(count)), replace=False
        )
        sample = catalog.vectors_of(np.sort(chosen).tolist(), dim)
    return VectorIndex.build(dim, count, sample, _vector_batches(catalog, dim))


def build_lexical(catalog: Catalog) -> LexicalIndex:
    lexical = LexicalIndex()
    after = 0
    while True:
        rows = catalog.rows(
            f"SELECT c.id, {PASSAGE_TEXT} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.id > ? ORDER BY c.id LIMIT ?",
            (after, BATCH),
        )
        if not rows:
            return lexical
        after = rows[-1][0]
        lexical.add([r[0] for r in rows], [r[1] for r in rows])  # sealed every SEAL_AT chunks


def build_profiles(catalog: Catalog, dim: int) -> Profiles:
    profiles = Profiles(dim)
    types = dict(catalog.rows("SELECT id, doc_type FROM documents"))
    rows = catalog.rows(
        "SELECT doc_id, vector FROM chunks WHERE ordinal < ? ORDER BY doc_id, ordinal", (LEADING_CHUNKS,)
    )
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][0] != rows[start][0]:
            blob = b"".join(r[1] for r in rows[start:i])
            if len(blob) != 4 * dim * (i - start):  # a leading chunk still pending: no profile yet
                start = i
                continue
            profiles.put(
                rows[start][0],
                types.get(rows[start][0], ""),
                np.frombuffer(blob, dtype=np.float32).reshape(i - start, dim),
            )
            start = i
    return profiles


def update_profiles(profiles: Profiles, catalog: Catalog, documents: frozenset[str], dim: int) -> None:
    for doc_id in documents:
        row = catalog.rows("SELECT doc_type FROM documents WHERE id = ?", (doc_id,))
        if not row:
            profiles.remove(doc_id)
            continue
        leading = catalog.rows(
            f"SELECT id, {EMBEDDED} FROM chunks WHERE doc_id = ? AND ordinal < ? ORDER BY ordinal",
            (doc_id, LEADING_CHUNKS),
        )
        if not all(embedded for _, embedded in leading):
            profiles.remove(doc_id)  # find-similar sees a document once its leading chunks are embedded
            continue
        profiles.put(doc_id, row[0][0], catalog.vectors_of([r[0] for r in leading], dim))


def open_vectors(catalog: Catalog, folder: Path, dim: int) -> tuple[VectorIndex, int]:
    """The saved vector index if the log reaches back to it, else one built from the catalog."""
    loaded = VectorIndex.load(folder, dim)
    if loaded is not None and replayable(catalog, loaded[1]):
        return loaded
    seq = last_seq(catalog)  # read before building: replaying what follows is idempotent
    return build_vectors(catalog, dim), seq


def open_lexical(catalog: Catalog, folder: Path) -> tuple[LexicalIndex, int]:
    loaded = LexicalIndex.load(folder / LEXICAL_FOLDER)
    if loaded is not None and replayable(catalog, loaded[1]):
        return loaded
    seq = last_seq(catalog)
    return build_lexical(catalog), seq
