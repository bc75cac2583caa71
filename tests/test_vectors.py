"""The approximate (IVF) path agrees with the exact one; filters never shrink the top-k."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from search import vectors as vector_module
from search.embedders import Embedder, normalise
from search.filtering import Allowed
from search.index import Index
from search.retrieval import search
from search.types import Chunk, Document, Filters, Section
from search.vectors import VectorIndex
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def passages(fast_embedder: Embedder) -> np.ndarray:
    """3,000 vectors with the spread of real ones: 300 real passages, each perturbed 10 times."""
    lines = (shared_path("../eval/vac-questions") / "corpus.jsonl").read_text().splitlines()[:300]
    real = fast_embedder.embed_passages([json.loads(line)["text"] for line in lines])
    rng = np.random.default_rng(7)
    noisy = np.repeat(real, 10, axis=0) + rng.normal(scale=0.02, size=(3000, real.shape[1]))
    return normalise(noisy.astype(np.float32))


def _both(passages: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> tuple[VectorIndex, VectorIndex]:
    ids = np.arange(1, len(passages) + 1, dtype=np.int64)
    exact = VectorIndex.build(passages.shape[1], len(ids), passages, iter([(ids, passages)]))
    monkeypatch.setattr(vector_module, "EXACT_LIMIT", 100)
    approximate = VectorIndex.build(passages.shape[1], len(ids), passages, iter([(ids, passages)]))
    assert approximate.approximate and not exact.approximate
    return exact, approximate


def test_ivf_agrees_with_exact_search(passages: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    exact, approximate = _both(passages, monkeypatch)
    queries = passages[::97] + 0.01
    recall = []
    for q in normalise(queries):
        truth = {i for i, _ in exact.search(q, 10)}
        found = {i for i, _ in approximate.search(q, 10)}
        recall.append(len(truth & found) / 10)
    assert np.mean(recall) >= 0.9
    approximate.nprobe = approximate.index.nlist  # type: ignore[attr-defined]
    full = np.mean([len({i for i, _ in exact.search(q, 10)} & {i for i, _ in approximate.search(q, 10)}) / 10
                    for q in normalise(queries)])  # fmt: skip
    assert full >= 0.97  # only 8-bit rounding differs


def test_a_selective_bitmap_still_fills_k(passages: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    exact, approximate = _both(passages, monkeypatch)
    mask = np.zeros(len(passages) + 1, dtype=bool)
    chosen = np.random.default_rng(1).choice(np.arange(1, len(passages) + 1), 15, replace=False)
    mask[chosen] = True
    allowed = Allowed(mask, 15)
    for store in (exact, approximate):
        hits = store.search(passages[0], 10, allowed)
        assert len(hits) == 10 and {i for i, _ in hits} <= set(chosen.tolist())
        assert len(store.search(passages[0], 50, allowed)) == 15


def test_remove_and_add_again(passages: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    _, approximate = _both(passages, monkeypatch)
    approximate.remove(np.array([1, 2, 99999]))
    assert approximate.count() == len(passages) - 2
    assert 1 not in {i for i, _ in approximate.search(passages[0], 5)}
    approximate.add(np.array([1]), passages[:1])
    assert approximate.search(passages[0], 1)[0][0] == 1


def test_filtered_question_returns_k_documents_on_the_ivf_path(
    tmp_path: Path, fast_embedder: Embedder, passages: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_module, "EXACT_LIMIT", 100)
    index = Index.create(tmp_path / "generation", fast_embedder)
    items = []
    for i, vector in enumerate(passages[:600]):
        code = "GM0014" if i % 50 == 0 else "GM0363"  # 12 documents of Groningen among 600
        text = f"Beleidsregel bijzondere bijstand nummer {i}"
        doc = Document(id=f"d{i}", title=text, sections=(Section("", text),), municipality_code=code)
        items.append((doc, [Chunk(doc.id, 0, text, "", 0, len(text))], vector[None, :]))
    index.put(items)
    index.flush()
    assert index.store.approximate
    for mode in ("dense", "lexical", "hybrid"):
        results = search(index, "bijzondere bijstand", Filters(municipalities=("GM0014",)), k=10, mode=mode)
        assert len(results) == 10 and {r.document.municipality_code for r in results} == {"GM0014"}
        assert len(search(index, "bijstand", Filters(municipalities=("GM0014",)), k=20, mode=mode)) == 12
    index.close()
