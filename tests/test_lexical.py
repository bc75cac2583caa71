"""BM25 in segments: the same scores as one index built at once, deletions, save and load."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest

from search import lexical
from search.lexical import MAX_SEGMENTS, LexicalIndex, analyse

TEXTS = [
    "De hondenbelasting wordt geheven van de houder van een hond.",
    "Bijzondere bijstand voor uitvaartkosten als de nabestaanden die niet kunnen betalen.",
    "Een parkeervergunning voor bewoners van het centrum.",
    "Regels over de bijzondere bijstand en de individuele inkomenstoeslag.",
    "Honden moeten in het park aangelijnd zijn.",
    "Vergunning voor een uitrit of een parkeerplaats op eigen terrein.",
] * 5
IDS = list(range(1, len(TEXTS) + 1))


def test_scores_equal_bm25s_on_three_sentences() -> None:
    texts = TEXTS[:3]
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index([analyse(t) for t in texts], show_progress=False)
    expected = reference.get_scores(analyse("hondenbelasting bijstand"))
    got = dict(LexicalIndex.build([1, 2, 3], texts).search("hondenbelasting bijstand", 3))
    assert [got.get(i, 0.0) for i in (1, 2, 3)] == pytest.approx(expected.tolist(), rel=1e-5)


def test_segments_score_as_one_index(tmp_path: Path) -> None:
    whole = LexicalIndex.build(IDS, TEXTS)
    parts = LexicalIndex()
    for start in range(0, len(IDS), 4):
        parts.add(IDS[start : start + 4], TEXTS[start : start + 4])
        parts.save(tmp_path / "lexicon", start)  # one segment per batch, merged past MAX_SEGMENTS
    assert len(parts.segments) <= MAX_SEGMENTS
    for query in ("bijzondere bijstand", "hond", "parkeervergunning bewoners"):
        assert _rounded(parts.search(query, 10)) == _rounded(whole.search(query, 10))


def test_deleted_and_replaced_chunks(tmp_path: Path) -> None:
    index = LexicalIndex.build(IDS, TEXTS)
    index.save(tmp_path / "lexicon", 1)
    index.remove(np.array([2, 8]))
    index.add([3], ["Nieuwe regels voor de uitvaartkosten."])
    found = {c for c, _ in index.search("uitvaartkosten", 50)}
    assert 2 not in found and 8 not in found and 3 in found
    index.save(tmp_path / "lexicon", 2)
    loaded = LexicalIndex.load(tmp_path / "lexicon")
    assert loaded is not None and loaded[1] == 2
    assert _rounded(loaded[0].search("uitvaartkosten", 50)) == _rounded(index.search("uitvaartkosten", 50))
    assert sorted(loaded[0].chunk_ids.tolist()) == sorted(set(IDS) - {2, 8})


def test_allowed_mask_filters_before_the_top_k() -> None:
    index = LexicalIndex.build(IDS, TEXTS)
    mask = np.zeros(len(IDS) + 1, dtype=bool)
    mask[[4, 10]] = True
    assert {c for c, _ in index.search("bijzondere bijstand", 1 + 1, mask)} == {4, 10}


def _rounded(hits: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return [(c, round(s, 4)) for c, s in hits]


def test_a_flush_never_merges_a_first_loads_big_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexical, "SEAL_AT", 4)  # segments of 4+ chunks are "big" here
    monkeypatch.setattr(lexical, "SMALL_SEGMENT", 2)
    monkeypatch.setattr(lexical, "MAX_SEGMENTS", 3)
    monkeypatch.setattr(lexical, "TIER", 3)  # three segments of 2-3 chunks are merged into one
    ids = list(range(1, 141))  # 140 chunks: the old rule merged up to 5% of the index, a big one included
    texts = [TEXTS[i % len(TEXTS)] for i in range(len(ids))]
    parts = LexicalIndex()
    cut = 120
    for start in range(0, cut, 4):  # a first load: big segments, more of them than MAX_SEGMENTS
        parts.add(ids[start : start + 4], texts[start : start + 4])
        parts.seal()
    parts.save(tmp_path / "lexicon", 0)
    big = list(parts.segments)
    assert len(big) > lexical.MAX_SEGMENTS
    for i in range(cut, len(ids)):  # then one chunk per flush
        parts.add(ids[i : i + 1], texts[i : i + 1])
        parts.save(tmp_path / "lexicon", i)
        assert parts.segments[: len(big)] == big  # the same segment objects, never rewritten
        assert sum(len(s) < lexical.SMALL_SEGMENT for s in parts.segments) <= 1
        assert sum(lexical.SMALL_SEGMENT <= len(s) < lexical.SEAL_AT for s in parts.segments) <= lexical.TIER
    assert any(len(s) >= lexical.SEAL_AT for s in parts.segments[len(big) :])  # a tier of middle ones merged
    whole = LexicalIndex.build(ids, texts)
    for query in ("bijzondere bijstand", "hond", "parkeervergunning bewoners"):
        assert _rounded(parts.search(query, 10)) == _rounded(whole.search(query, 10))
