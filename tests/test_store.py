"""One contract suite for every vector store in STORES."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.embedders import normalise
from search.store import STORES, FaissStore


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return STORES[request.param](4)


def vectors() -> np.ndarray:
    return normalise(np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32))


def test_search_ranks_by_inner_product(store) -> None:  # type: ignore[no-untyped-def]
    store.add(np.array([10, 11, 12, 13]), vectors())
    hits = store.search(np.array([1, 0, 0, 0], dtype=np.float32), 3)
    assert [h[0] for h in hits] == [10, 11, 12]
    assert hits[0][1] == pytest.approx(1.0)
    assert store.count() == 4


def test_allowed_ids_filter_before_ranking(store) -> None:  # type: ignore[no-untyped-def]
    store.add(np.array([10, 11, 12, 13]), vectors())
    hits = store.search(np.array([1, 0, 0, 0], dtype=np.float32), 2, allowed=np.array([12, 13]))
    assert sorted(h[0] for h in hits) == [12, 13]  # k filled from the allowed set only
    assert (
        store.search(np.array([1, 0, 0, 0], dtype=np.float32), 2, allowed=np.array([], dtype=np.int64)) == []
    )


def test_delete_and_vectors(store) -> None:  # type: ignore[no-untyped-def]
    store.add(np.array([10, 11, 12, 13]), vectors())
    store.delete(np.array([10]))
    assert store.count() == 3
    assert 10 not in [h[0] for h in store.search(np.array([1, 0, 0, 0], dtype=np.float32), 4)]
    np.testing.assert_allclose(store.vectors(np.array([12])), vectors()[2:3], atol=1e-6)


def test_empty_store_answers_nothing(store) -> None:  # type: ignore[no-untyped-def]
    assert store.search(np.array([1, 0, 0, 0], dtype=np.float32), 5) == []


def test_faiss_save_and_load_roundtrip(tmp_path: Path) -> None:
    store = FaissStore(4)
    store.add(np.array([1, 2]), vectors()[:2])
    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss", 4)
    assert loaded.count() == 2
    assert loaded.search(vectors()[1], 1)[0][0] == 2
    with pytest.raises(ValueError):
        FaissStore.load(tmp_path / "v.faiss", 8)
