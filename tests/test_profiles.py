"""Find-similar profiles: updated one document at a time, centred on the mean of their type."""

from __future__ import annotations

import numpy as np

from search.embedders import normalise
from search.profiles import MIN_TYPE_DOCUMENTS, Profiles


def _docs(rng: np.random.Generator, n: int, offset: np.ndarray) -> list[np.ndarray]:
    return [normalise(offset + rng.normal(scale=0.3, size=(3, 8))) for _ in range(n)]


def test_incremental_updates_equal_a_fresh_build() -> None:
    rng = np.random.default_rng(3)
    plans = _docs(rng, MIN_TYPE_DOCUMENTS, np.eye(8)[0])
    rules = _docs(rng, MIN_TYPE_DOCUMENTS, np.eye(8)[1])
    grown = Profiles(8)
    for i, v in enumerate(plans):
        grown.put(f"p{i}", "bestemmingsplan", v)
    for i, v in enumerate(rules):
        grown.put(f"r{i}", "verordening", v)
    grown.put("p0", "bestemmingsplan", plans[1])  # replaced
    grown.remove("r3")
    fresh = Profiles(8)
    for i, v in enumerate(plans):
        fresh.put(f"p{i}", "bestemmingsplan", plans[1] if i == 0 else v)
    for i, v in enumerate(rules):
        if i != 3:
            fresh.put(f"r{i}", "verordening", v)
    query = fresh.profile(plans[2], "bestemmingsplan")
    np.testing.assert_allclose(grown.profile(plans[2], "bestemmingsplan"), query, atol=1e-5)
    a, b = grown.search(query, 10, None, set()), fresh.search(query, 10, None, set())
    assert [d for d, _ in a] == [d for d, _ in b]
    assert "r3" not in dict(grown.search(query, 100, None, set()))


def test_each_type_is_centred_on_its_own_mean() -> None:
    rng = np.random.default_rng(4)
    profiles = Profiles(8)
    for i, v in enumerate(_docs(rng, MIN_TYPE_DOCUMENTS, np.eye(8)[0])):
        profiles.put(f"p{i}", "bestemmingsplan", v)
    for i, v in enumerate(_docs(rng, MIN_TYPE_DOCUMENTS, np.eye(8)[1])):
        profiles.put(f"r{i}", "verordening", v)
    centred = profiles.vectors([f"p{i}" for i in range(MIN_TYPE_DOCUMENTS)])
    assert abs(centred.mean(axis=0)[0]) < 0.2  # the shared direction of plans is gone
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, atol=1e-5)
    hits = profiles.search(profiles.vectors(["p1"])[0], 3, None, {"p1"})
    assert len(hits) == 3 and "p1" not in dict(hits)


def test_superseded_documents_stay_out_while_the_profiles_change() -> None:
    rng = np.random.default_rng(5)
    profiles = Profiles(8)
    vectors = _docs(rng, MIN_TYPE_DOCUMENTS, np.eye(8)[0])
    for i, v in enumerate(vectors):
        profiles.put(f"p{i}", "bestemmingsplan", v)
    query = profiles.vectors(["p0"])[0]
    superseded = frozenset({"p1", "p2"})
    every = dict(profiles.search(query, 100, None, set()))
    assert {"p1", "p2"} <= every.keys()
    first = dict(profiles.search(query, 100, None, {"p0"}, superseded))
    assert first.keys() == every.keys() - {"p0", "p1", "p2"}
    profiles.put("p2", "bestemmingsplan", vectors[3])  # a new row for p2: the kept rows are stale
    profiles.put("p9x", "bestemmingsplan", vectors[4])
    after = dict(profiles.search(query, 100, None, set(), superseded))
    assert "p2" not in after and "p1" not in after and "p9x" in after and "p0" in after
    assert dict(profiles.search(query, 100, None, set(), frozenset())).keys() >= {"p1", "p2"}
