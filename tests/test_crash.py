"""kill -9 of a real writer process at every point of a write leaves nothing behind.

The writer (a child process) puts documents, deletes an earlier one and flushes; it is killed
before its catalog commit, between the commit and the flush, while the vector checkpoint is
written, while a lexical segment is written, and from outside at an arbitrary moment. After
each kill the index is reopened: every document the catalog holds is found by lexical, dense
and hybrid search, and no deleted document is.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search.embedders import Embedder
from search.index import Index
from search.retrieval import search
from search.types import Filters

WRITER = r"""
import os, signal, sys
from pathlib import Path
import numpy as np
from search import bm25, index as engine, vectors
from search.catalog import Catalog
from search.index import Index
from search.types import Chunk, Document, Section

folder, start, count, point = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def then_die(original):
    def wrapped(*args, **kwargs):
        original(*args, **kwargs)
        die()
    return wrapped

if point == "before-commit":
    Catalog.refresh_current_versions = die  # inside the write transaction
if point == "during-vector-checkpoint":
    engine.VECTOR_CHECKPOINT_MIN = 0  # checkpoint the vectors at this flush
    vectors.faiss.write_index = then_die(vectors.faiss.write_index)  # file written, pointer not
if point == "during-lexical-checkpoint":
    bm25.Segment.save = then_die(bm25.Segment.save)  # segment written, manifest not

engine.LOG_KEPT = 0  # prune the whole log at flush: readers then start from the checkpoints
index = Index.open(folder)
rng = np.random.default_rng(start)
if start:
    index.delete([f"doc{start - 1}"])
for i in range(start, start + count):
    text = f"Regels over woord{i}x in de gemeente, artikel {i}."
    doc = Document(id=f"doc{i}", title=f"Verordening {i}", sections=(Section("Artikel 1", text),),
                   municipality="Amsterdam", municipality_code="GM0363", content_hash=str(i))
    vector = rng.normal(size=(1, index.manifest.dim)).astype(np.float32)
    index.put([(doc, [Chunk(doc.id, 0, text, "Artikel 1", 0, len(text))], vector / np.linalg.norm(vector))])
    print(i, flush=True)
if point == "between-commit-and-flush":
    die()
index.flush()
print("flushed", flush=True)
"""

POINTS = (
    "clean",
    "before-commit",
    "between-commit-and-flush",
    "during-vector-checkpoint",
    "during-lexical-checkpoint",
    "clean",
)


def _writer(folder: Path, start: int, count: int, point: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), str(start), str(count), point],
        stdout=subprocess.PIPE,
        text=True,
    )


def _assert_everything_found(folder: Path, embedder: Embedder) -> set[str]:
    index = Index.open(folder, embedder)
    try:
        docs = set(index.catalog.document_ids())
        assert index.store.count() == index.catalog.count_chunks() == len(index.lexical.chunk_ids)
        for doc_id in sorted(docs):
            chunk_id = index.catalog.chunks_of(doc_id)[0][0]
            word = f"woord{doc_id[3:]}x"
            assert index.lexical_search(word, Filters(), 5)[0][0] == chunk_id, f"lexical misses {doc_id}"
            own = index.chunk_vectors(np.array([chunk_id]))[0]
            assert index.dense_search(own, Filters(), 1)[0][0] == chunk_id, f"dense misses {doc_id}"
            assert search(index, word, k=3)[0].document.id == doc_id, f"hybrid misses {doc_id}"
        return docs
    finally:
        index.close()


def test_kill_9_at_every_write_point_loses_nothing(tmp_path: Path, fast_embedder: Embedder) -> None:
    folder = tmp_path / "generation"
    Index.create(folder, fast_embedder).close()
    committed: set[str] = set()
    for run, point in enumerate(POINTS):
        start = 10 * run
        writer = _writer(folder, start, 4, point)
        out, _ = writer.communicate(timeout=300)
        expected_code = 0 if point == "clean" else -signal.SIGKILL
        assert writer.returncode == expected_code, (point, out)
        if start:
            committed.discard(f"doc{start - 1}")
        committed |= {f"doc{line}" for line in out.split() if line.isdigit()}
        assert _assert_everything_found(folder, fast_embedder) == committed, point
    assert "doc0" in committed and "doc10" not in committed  # the killed commit left nothing


def test_kill_9_from_outside_mid_stream(tmp_path: Path, fast_embedder: Embedder) -> None:
    folder = tmp_path / "generation"
    Index.create(folder, fast_embedder).close()
    writer = _writer(folder, 0, 500, "clean")
    assert writer.stdout is not None
    seen = [writer.stdout.readline() for _ in range(25)]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    docs = _assert_everything_found(folder, fast_embedder)
    assert {f"doc{line.strip()}" for line in seen} <= docs


@pytest.mark.parametrize("reopen", [False, True])
def test_a_reader_follows_a_writer_process(tmp_path: Path, fast_embedder: Embedder, reopen: bool) -> None:
    folder = tmp_path / "generation"
    reader = Index.create(folder, fast_embedder)
    writer = _writer(folder, 0, 3, "between-commit-and-flush" if reopen else "clean")
    writer.communicate(timeout=300)
    reader.refresh()
    assert {c for c, _ in reader.lexical_search("woord2x", Filters(), 5)} == {
        reader.catalog.chunks_of("doc2")[0][0]
    }
    reader.close()
