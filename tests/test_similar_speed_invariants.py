"""What the find-similar speed-ups (issue #11) must not change, each against the plain way of
computing the same thing: filter bitmaps and their exact counts when exclusions overlap the
superseded versions, profile search and its tie order, per-spelling word counts, per-segment
document frequencies, and BM25 scores bit for bit with the length norms kept per avgdl."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from search.bm25 import K1, B, Segment
from search.catalog import Catalog
from search.embedders import normalise
from search.filtering import ChunkFilter
from search.lexical import TOKEN_PATTERN, LexicalIndex, dutch_stemmer
from search.more_like_this import candidate_words
from search.profiles import MIN_TYPE_DOCUMENTS, Profiles
from search.types import Chunk, Document, Filters, Section

PLACES = ["GM0363", "GM0629", "GM0518"]


def _document(i: int, code: str, version: int = 0) -> Document:
    extra = (
        {"work_id": f"CVDR{i}", "version": version, "valid_from": f"202{version}-01-01"} if version else {}
    )
    return Document(
        id=f"d{i}-v{version}" if version else f"d{i}",
        title=f"Verordening {i}",
        sections=(Section(label="Artikel 1", text=f"tekst {i}"),),
        municipality_code=code,
        doc_type="verordening" if i % 2 else "beleidsregel",
        extra=extra,
    )


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """Documents of three municipalities, some in two versions (the older superseded), one
    deleted (a gap in the chunk ids)."""
    cat = Catalog(tmp_path / "catalog.sqlite")
    with cat.transaction() as db:
        for i in range(12):
            code = PLACES[i % 3]
            versions = [1, 2] if i % 4 == 0 else [0]
            for v in versions:
                doc = _document(i, code, v)
                chunks = [Chunk(doc.id, o, f"passage {o}", "Artikel 1", 0, 5) for o in range(1 + i % 3)]
                cat.put(db, doc, chunks, None)
            if len(versions) > 1:
                cat.refresh_current_versions(db, [f"CVDR{i}"])
        cat.delete(db, "d5")
    return cat


def _passing(cat: Catalog, f: Filters) -> set[int]:
    """The chunks a filter admits, the slow way: every chunk against every clause."""
    rows = cat.rows(
        "SELECT c.id, d.id, d.municipality_code, d.is_current, d.doc_type FROM chunks c JOIN documents d ON d.id = c.doc_id"
    )
    return {
        cid
        for cid, doc, code, current, kind in rows
        if (current or not f.current_only)
        and code not in f.exclude_municipalities
        and doc not in f.exclude_doc_ids
        and (not f.municipalities or code in f.municipalities)
        and (not f.doc_types or kind in f.doc_types)
    }


@pytest.mark.parametrize(
    "filters",
    [
        Filters(
            exclude_municipalities=("GM0363",), exclude_doc_ids=("d4-v2",)
        ),  # GM0363 holds superseded d0-v1
        Filters(
            exclude_municipalities=("GM0363",), exclude_doc_ids=("d0-v1", "d3", "d0-v2")
        ),  # each out twice or more
        Filters(exclude_doc_ids=("d1",)),
        Filters(current_only=False, exclude_municipalities=("GM0629",)),
        Filters(municipalities=("GM0629", "GM0518"), exclude_doc_ids=("d4-v1", "d2")),
        Filters(doc_types=("verordening",), current_only=False, exclude_municipalities=("GM0518",)),
    ],
)
def test_filter_bitmaps_and_counts_are_exact(catalog: Catalog, filters: Filters) -> None:
    chunk_filter = ChunkFilter(catalog)
    for _ in range(2):  # the second time from the revision's cached count and bitmap
        allowed = chunk_filter.allowed(filters, catalog.revision())
        assert allowed is not None
        expected = _passing(catalog, filters)
        existing = {r[0] for r in catalog.rows("SELECT id FROM chunks")}
        assert allowed.count == len(expected)
        assert set(allowed.ids().tolist()) & existing == expected
        chunk_filter._cache.clear()


def test_the_count_follows_a_new_revision(catalog: Catalog) -> None:
    chunk_filter = ChunkFilter(catalog)
    filters = Filters(exclude_municipalities=("GM0363",))
    before = chunk_filter.allowed(filters, catalog.revision())
    with catalog.transaction() as db:
        doc = _document(20, "GM0629")
        catalog.put(db, doc, [Chunk(doc.id, o, "nieuw", "", 0, 5) for o in range(3)], None)
    after = chunk_filter.allowed(filters, catalog.revision())
    assert before is not None and after is not None
    assert after.count == before.count + 3 == len(_passing(catalog, filters))
    assert len(after.mask) > len(before.mask)


def test_no_bitmap_when_nothing_is_removed(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.sqlite")
    with cat.transaction() as db:
        cat.put(db, _document(1, "GM0363"), [Chunk("d1", 0, "tekst", "", 0, 5)], None)
    assert ChunkFilter(cat).allowed(Filters(), cat.revision()) is None  # no superseded versions


def test_profile_search_matches_scoring_every_allowed_profile() -> None:
    rng = np.random.default_rng(7)
    profiles = Profiles(16)
    for i in range(3 * MIN_TYPE_DOCUMENTS):
        kind = ["bestemmingsplan", "verordening", ""][i % 3]
        vectors = normalise(np.eye(16)[i % 3] + rng.normal(scale=0.4, size=(4, 16)))
        profiles.put(f"doc{i:03d}", kind, vectors)
        if i % 5 == 0:  # an identical twin: equal scores, ordered by document id
            profiles.put(f"twin{i:03d}", kind, vectors)
    profiles.remove("doc010")
    query = profiles.profile(normalise(rng.normal(size=(3, 16))), "verordening")
    removed = {"doc001", "doc002", "twin005"}
    admitted = {d for d in profiles.row if not d.endswith("7")}
    for allowed_docs in (None, admitted):
        hits = profiles.search(query, 25, allowed_docs, removed)
        candidates = [
            d for d in profiles.row if d not in removed and (allowed_docs is None or d in allowed_docs)
        ]
        every = dict(zip(candidates, (profiles.vectors(candidates) @ query).tolist(), strict=True))
        assert len(hits) == 25 and all(d in every for d, _ in hits)
        assert hits == sorted(hits, key=lambda p: (-p[1], p[0]))
        for d, score in hits:
            assert score == pytest.approx(every[d], abs=1e-5)
        cut = hits[-1][1]
        assert all(score <= cut + 1e-5 for d, score in every.items() if d not in dict(hits))


def _candidate_words_one_by_one(text: str) -> Counter[str]:
    """candidate_words as first written: every occurrence looked at separately."""
    seen = re.findall(TOKEN_PATTERN, text)
    capitalised = Counter(w.lower() for w in seen if w[0].isupper())
    counts = Counter(w.lower() for w in seen if not any(ch.isdigit() for ch in w))
    return Counter({w: c for w, c in counts.items() if capitalised[w] * 2 <= c})


def test_candidate_words_count_each_spelling_once_with_the_same_result() -> None:
    text = (
        "Gemeente gemeente GEMEENTE Wassenaar wassenaar Wassenaar 2024 A12 artikel12 straat Straat straat "
        "Ëlst ëlst ëlst Ürk De de het parkeren Parkeren parkeren Parkeren ² ½ bestemmingsplan"
    )
    for sample in (text, text * 3 + " Noordwijk", ""):
        got, expected = candidate_words(sample), _candidate_words_one_by_one(sample)
        assert got == expected and list(got) == list(expected)


def _segmented() -> LexicalIndex:
    """Two segments and pending chunks, with deletions in each."""
    rng = np.random.default_rng(5)
    words = ["gemeente", "parkeren", "vergunning", "bomen", "kappen", "afval", "heffing", "riool", "zon"]
    index = LexicalIndex()
    next_id = 1
    for part in range(3):
        texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 12)))) for _ in range(40)]
        index.add(list(range(next_id, next_id + 40)), texts)
        next_id += 40
        if part < 2:
            index.seal()
    index.remove(np.asarray([3, 45, 46, 90, 117], dtype=np.int64))
    return index


def test_document_frequencies_per_term_over_all_segments() -> None:
    index = _segmented()
    segments = index._all_segments()
    assert len(segments) == 3
    words = ["Gemeente", "parkeren", "geparkeerd", "de", "onbekend", "bomen", "BOMEN", "zon"]
    live, found = index.term_frequencies(words)
    assert live == sum(s.live() for s in segments)
    expected = {}
    for word in dict.fromkeys(w.lower() for w in words):
        if word in {"de"}:
            continue  # a stop word
        term = dutch_stemmer().stemWord(word)
        df = 0
        for s in segments:
            t = s.vocab.get(term)
            df += 0 if t is None else int(s.indptr[t + 1] - s.indptr[t])
        if df:
            expected[word] = (term, df)
    assert found == expected and list(found) == list(expected)


def test_bm25_scores_bit_for_bit_with_cached_length_norms() -> None:
    index = _segmented()
    weights = {"gemeent": 0.4, "parker": 1.7, "bom": 2.2, "zon": 0.9, "niets": 3.0}
    for segment in index._all_segments():
        for avgdl in (6.5, 7.25, 6.5):  # a new avgdl (a write elsewhere) replaces the kept norms
            hits, scores = segment.scores(weights, avgdl)
            expected_hits, expected_scores = _scores_per_posting(segment, weights, avgdl)
            assert np.array_equal(hits, expected_hits) and np.array_equal(scores, expected_scores)
            assert scores.dtype == np.float32 and len(hits)


def _scores_per_posting(
    segment: Segment, weights: dict[str, float], avgdl: float
) -> tuple[np.ndarray, np.ndarray]:
    """Segment.scores as first written: the length norm computed for every posting."""
    found = [(segment.vocab[t], w) for t, w in weights.items() if t in segment.vocab]
    spans = [(int(segment.indptr[t]), int(segment.indptr[t + 1])) for t, _ in found]
    d = np.concatenate([segment.docs[lo:hi] for lo, hi in spans])
    tf = np.concatenate([segment.tfs[lo:hi] for lo, hi in spans])
    w = np.repeat(np.asarray([w for _, w in found], dtype=np.float32), [hi - lo for lo, hi in spans])
    part = w * tf / (tf + K1 * (1 - B + B * segment.lengths[d] / np.float32(avgdl)))
    total = np.bincount(d, weights=part, minlength=len(segment.chunk_ids)).astype(np.float32)
    hits = np.flatnonzero(total)
    hits = hits[~segment.deleted[hits]]
    return hits, total[hits]
