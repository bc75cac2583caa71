"""One contract suite for every index engine: the embedded one (SQLite + FAISS + BM25 files) and
PostgreSQL + pgvector. Each test runs against both through ``search.engine.IndexEngine``, the way
the product uses an index; a few compare the two engines' answers directly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import IngestOptions, ingest_documents
from search import engines
from search.embedders import Embedder
from search.engine import IndexEngine
from search.engines import Place
from search.more_like_this import distinctive_words
from search.retrieval import query_document, search, similar
from search.types import Document, Filters, Section

ENGINES = ["embedded", "postgres"]


def doc(doc_id: str, title: str, text: str, code: str, **kw: object) -> Document:
    places = {"GM0363": ("Amsterdam", "Noord-Holland"), "GM0629": ("Wassenaar", "Zuid-Holland"),
              "GM0518": ("'s-Gravenhage", "Zuid-Holland")}  # fmt: skip
    name, province = places[code]
    sections = tuple(Section(label=f"Artikel {i + 1}", text=part) for i, part in enumerate(text.split(" | ")))
    fields: dict = {"municipality": name, "municipality_code": code, "province": province,
                    "doc_type": "verordening", "date": "2024-01-01", "content_hash": f"h-{doc_id}-{len(text)}"}  # fmt: skip
    fields.update(kw)
    return Document(id=doc_id, title=title, sections=sections, **fields)  # type: ignore[arg-type]


CORPUS = [
    doc("a1", "Verordening rioolheffing", "De rioolheffing wordt geheven van eigenaren. | Vrijstelling van rioolheffing voor kerken.", "GM0363"),
    doc("a2", "Parkeerverordening", "Bewoners krijgen een parkeervergunning voor het centrum.", "GM0363", doc_type="beleidsregel", date="2022-05-01"),
    doc("w1", "Beleidsregel bijzondere bijstand", "Bijzondere bijstand voor uitvaartkosten wordt verstrekt als de nabestaanden de begrafenis niet kunnen betalen.", "GM0629", doc_type="beleidsregel",
        extra={"legal_basis": [{"bwb": "BWBR0015703", "artikel": "35"}]}),
    doc("w2", "Verordening rioolheffing Wassenaar", "Rioolheffing: het tarief per aansluiting op de riolering.", "GM0629", date="2023-03-01"),
    doc("h1", "Afvalstoffenverordening", "Huishoudelijk afval wordt wekelijks ingezameld. | Grofvuil op afspraak.", "GM0518", date="2021-01-01",
        extra={"work_id": "CVDR1", "version": 1, "valid_from": "2021-01-01", "valid_to": "2023-01-01"}),
    doc("h2", "Afvalstoffenverordening", "Huishoudelijk afval wordt tweewekelijks ingezameld. | Grofvuil op afspraak.", "GM0518", date="2023-01-01",
        extra={"work_id": "CVDR1", "version": 2, "valid_from": "2023-01-01"}),
]  # fmt: skip


def open_engine(kind: str, tmp_path: Path, place: Place | None, embedder: Embedder) -> IndexEngine:
    target = place if kind == "postgres" and place is not None else Place(tmp_path / "data")
    index = engines.open_live(target, embedder, create=True)
    assert index is not None
    return index


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path, fast_embedder: Embedder) -> Iterator[IndexEngine]:
    """An empty index of each engine."""
    place = request.getfixturevalue("pg_place") if request.param == "postgres" else None
    index = open_engine(request.param, tmp_path, place, fast_embedder)
    yield index
    index.close()


@pytest.fixture
def loaded(engine: IndexEngine) -> IndexEngine:
    report = ingest_documents(engine, CORPUS, IngestOptions())
    engine.flush()
    assert report.added == [d.id for d in CORPUS] and not report.failed
    return engine


def ids(results: list) -> list[str]:
    return [r.document.id for r in results]


def test_documents_and_chunks_round_trip(loaded: IndexEngine) -> None:
    cat = loaded.catalog
    assert cat.count_documents() == 6
    assert cat.count_chunks() == 9
    assert cat.document_ids() == sorted(d.id for d in CORPUS)
    assert cat.load_document("a1") == CORPUS[0]
    info = cat.document("w1")
    assert info is not None and (info.municipality, info.province, info.chunk_count) == (
        "Wassenaar",
        "Zuid-Holland",
        1,
    )
    assert info.extra["legal_basis"] == [{"bwb": "BWBR0015703", "artikel": "35"}]
    assert sorted(cat.documents(["a1", "zz", "h2"])) == ["a1", "h2"]
    assert cat.content_hash("a2") == CORPUS[1].content_hash and cat.content_hash("zz") is None
    chunks = cat.chunks_of("a1")
    assert [c.label for _, c in chunks] == ["Artikel 1", "Artikel 2"]
    by_id = cat.chunks_by_id([cid for cid, _ in chunks])
    assert {d for d, _ in by_id.values()} == {"a1"} and by_id[chunks[1][0]][1].text.startswith("Vrijstelling")
    assert cat.chunk_documents([cid for cid, _ in chunks] + [10**9]) == {cid: "a1" for cid, _ in chunks}
    assert cat.chunk_documents([]) == {}
    vectors = loaded.chunk_vectors(np.asarray([cid for cid, _ in chunks]))
    assert vectors.shape == (2, loaded.embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert [d.id for d in cat.list_documents(limit=3)] == ["h1", "h2", "a2"]  # by municipality, title


def test_facets_and_municipalities(loaded: IndexEngine) -> None:
    cat = loaded.catalog
    assert cat.facet_values("province") == [("Noord-Holland", 2), ("Zuid-Holland", 4)]
    assert cat.facet_values("doc_type") == [("beleidsregel", 2), ("verordening", 4)]
    assert cat.municipalities() == [
        ("GM0518", "'s-Gravenhage", 2),
        ("GM0363", "Amsterdam", 2),
        ("GM0629", "Wassenaar", 2),
    ]


def test_meta_and_revision(loaded: IndexEngine) -> None:
    before = loaded.catalog.revision()
    loaded.catalog.set_meta("cursor", "42")
    assert loaded.catalog.get_meta("cursor") == "42" and loaded.catalog.get_meta("nope") is None
    loaded.delete(["a2"])
    assert loaded.catalog.revision() > before


def test_lexical_search_stems_dutch_and_ranks_by_bm25(loaded: IndexEngine) -> None:
    hits = loaded.lexical_search("rioolheffingen", Filters(), 10)
    docs = [loaded.catalog.chunks_by_id([c])[c][0] for c, _ in hits]
    assert set(docs) == {"a1", "w2"}  # "rioolheffingen" finds "rioolheffing" through the stem
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert loaded.lexical_search("onbekendwoord", Filters(), 10) == []
    assert loaded.lexical_search("de het een", Filters(), 10) == []  # stop words only


def test_lexical_terms_give_each_word_its_term_and_document_frequency(loaded: IndexEngine) -> None:
    chunks, found = loaded.lexical_terms(
        ["rioolheffing", "rioolheffingen", "grofvuil", "de", "onbekendwoord"]
    )
    assert chunks == loaded.catalog.count_chunks()
    assert set(found) == {"rioolheffing", "rioolheffingen", "grofvuil"}  # no stop word, no unseen word
    assert found["rioolheffing"][0] == found["rioolheffingen"][0]  # one stem
    # rioolheffing: a1's two articles and w2's one (each passage holds its title); grofvuil: h1 and h2
    assert found["rioolheffing"][1] == 3 and found["grofvuil"][1] == 2
    text = "Rioolheffing 2024 in Wassenaar en Wassenaar: rioolheffing, het tarief, grofvuil en riolering."
    # by tf x idf: rioolheffing (tf 2, df 3) before tarief and riolering (tf 1, df 1), then grofvuil
    # (tf 1, df 2); no number, no name (Wassenaar is written with a capital), no unseen word
    words = distinctive_words(loaded, text, 4, min_df=1, max_share=1.0)
    assert words == ["rioolheffing", "riolering", "tarief", "grofvuil"]


def test_dense_search_fills_k_under_a_selective_filter(loaded: IndexEngine) -> None:
    vector = loaded.embedder.embed_query("kosten van een begrafenis")
    assert loaded.catalog.chunks_by_id([loaded.dense_search(vector, Filters(), 1)[0][0]])
    only = Filters(municipalities=("GM0363",))
    hits = loaded.dense_search(vector, only, 5)
    assert len(hits) == 3  # every chunk of Amsterdam, however far from the query
    assert {loaded.catalog.chunks_by_id([c])[c][0] for c, _ in hits} == {"a1", "a2"}
    assert loaded.dense_search(vector, Filters(municipalities=("GM9999",)), 5) == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(provinces=("Zuid-Holland",)), {"w1", "w2", "h2"}),
        (Filters(doc_types=("beleidsregel",)), {"a2", "w1"}),
        (Filters(date_from="2023-01", date_to="2024-12-31"), {"a1", "w1", "w2", "h2"}),
        (Filters(exclude_municipalities=("GM0363",), exclude_doc_ids=("w2",)), {"w1", "h2"}),
        (Filters(legal_basis="bwbr0015703:35"), {"w1"}),
        (Filters(legal_basis="BWBR0015703:8"), set()),
        (Filters(valid_on="2022-06-01", municipalities=("GM0518",)), {"h1"}),
        (Filters(current_only=False, municipalities=("GM0518",)), {"h1", "h2"}),
        (Filters(), {"a1", "a2", "w1", "w2", "h2"}),  # only the version in force
    ],
)
def test_filters_apply_before_ranking(loaded: IndexEngine, filters: Filters, expected: set[str]) -> None:
    vector = loaded.embedder.embed_query("regels")
    dense = {loaded.catalog.chunks_by_id([c])[c][0] for c, _ in loaded.dense_search(vector, filters, 100)}
    assert dense == expected
    lexical = loaded.lexical_search("rioolheffing bijstand afval parkeervergunning", filters, 100)
    assert {loaded.catalog.chunks_by_id([c])[c][0] for c, _ in lexical} == expected


def test_replace_and_delete_leave_no_trace(loaded: IndexEngine) -> None:
    changed = replace(
        CORPUS[3],
        title="Verordening hondenbelasting",
        sections=(Section(label="Artikel 1", text="Hondenbelasting per hond."),),
        content_hash="new",
    )
    report = ingest_documents(loaded, [changed, CORPUS[0]], IngestOptions())
    loaded.flush()
    assert report.replaced == ["w2"] and report.skipped == ["a1"]
    assert {
        loaded.catalog.chunks_by_id([c])[c][0]
        for c, _ in loaded.lexical_search("rioolheffing", Filters(), 10)
    } == {"a1"}
    assert loaded.lexical_search("hondenbelasting", Filters(), 10)
    assert loaded.delete(["a1", "zz"]) == 1
    loaded.flush()
    assert loaded.lexical_search("rioolheffing", Filters(), 10) == []
    assert loaded.catalog.count_chunks() == 7 and loaded.catalog.document("a1") is None
    assert all(
        loaded.catalog.chunks_by_id([c])
        for c, _ in loaded.dense_search(loaded.embedder.embed_query("riool"), Filters(), 10)
    )


def test_search_and_similar_end_to_end(loaded: IndexEngine) -> None:
    top = search(loaded, "bijstand voor de kosten van een uitvaart", k=3)
    assert top[0].document.id == "w1" and top[0].hits and "<mark>" in top[0].hits[0].snippet
    assert ids(search(loaded, "rioolheffing", k=10, mode="lexical")) in (["a1", "w2"], ["w2", "a1"])
    alike = similar(loaded, query_document(loaded, "a1"), k=3)
    assert "a1" not in ids(alike) and "a2" not in ids(alike)  # own municipality excluded
    assert ids(alike)[0] == "w2"


def test_nearest_chunks_are_each_documents_best_by_inner_product(loaded: IndexEngine) -> None:
    probe = loaded.embedder.embed_query("vrijstelling van rioolheffing")
    docs = ["a1", "h1", "w2", "nope"]
    nearest = loaded.nearest_chunks(docs, probe, 1)
    assert sorted(nearest) == ["a1", "h1", "w2"]  # an unknown document is left out
    for doc_id in ["a1", "h1", "w2"]:
        chunk_ids = np.asarray([cid for cid, _ in loaded.catalog.chunks_of(doc_id)])
        scores = loaded.chunk_vectors(chunk_ids) @ probe
        (best_id, best_score), = nearest[doc_id]  # fmt: skip
        assert best_id == int(chunk_ids[int(np.argmax(scores))])
        assert best_score == pytest.approx(float(scores.max()), abs=1e-4)
    assert loaded.catalog.chunks_by_id([nearest["a1"][0][0]])[nearest["a1"][0][0]][1].label == "Artikel 2"
    both_chunks = loaded.nearest_chunks(["a1"], probe, 5)["a1"]
    assert len(both_chunks) == 2 and both_chunks[0][1] >= both_chunks[1][1]
    assert loaded.nearest_chunks([], probe, 2) == {}


def test_profiles_are_centred_and_filtered(loaded: IndexEngine) -> None:
    vectors = loaded.profile_vectors(["a1", "w2"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    hits = loaded.profile_search(vectors[0], Filters(exclude_doc_ids=("a1",)), 10)
    assert hits[0][0] == "w2" and "a1" not in [d for d, _ in hits]
    assert hits[0][1] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-4)


@pytest.fixture
def both(
    tmp_path: Path, pg_place: Place, fast_embedder: Embedder
) -> Iterator[tuple[IndexEngine, IndexEngine]]:
    pair = (
        open_engine("embedded", tmp_path, None, fast_embedder),
        open_engine("postgres", tmp_path, pg_place, fast_embedder),
    )
    for index in pair:
        ingest_documents(index, CORPUS, IngestOptions())
        index.flush()
    yield pair
    for index in pair:
        index.close()


def test_engines_agree_on_scores(both: tuple[IndexEngine, IndexEngine]) -> None:
    embedded, pg = both
    vector = embedded.embedder.embed_query("afval ophalen")

    def by_text(index: IndexEngine, hits: list[tuple[int, float]]) -> list[tuple[str, float]]:
        return [(index.catalog.chunks_by_id([c])[c][1].text, round(s, 4)) for c, s in hits]

    assert by_text(pg, pg.dense_search(vector, Filters(), 10)) == by_text(
        embedded, embedded.dense_search(vector, Filters(), 10)
    )
    query = "rioolheffing vrijstelling voor kerken en het tarief"
    pg_lexical = by_text(pg, pg.lexical_search(query, Filters(), 10))
    embedded_lexical = by_text(embedded, embedded.lexical_search(query, Filters(), 10))
    # Same BM25 (Lucene idf, k1 1.2, b 0.75) over the same Snowball stems; lengths differ a little
    # (PostgreSQL's parser keeps one-character tokens such as an article number).
    assert [t for t, _ in pg_lexical] == [t for t, _ in embedded_lexical]
    assert [s for _, s in pg_lexical] == pytest.approx([s for _, s in embedded_lexical], rel=0.02)
    for mode in ("hybrid", "dense", "lexical"):
        assert ids(search(pg, query, k=5, mode=mode)) == ids(search(embedded, query, k=5, mode=mode))
    assert ids(similar(pg, query_document(pg, "h2"), k=5)) == ids(
        similar(embedded, query_document(embedded, "h2"), k=5)
    )


def test_engines_centre_profiles_on_the_mean_of_their_type(both: tuple[IndexEngine, IndexEngine]) -> None:
    """Profiles of a common type are centred on that type's mean, on both engines alike (the
    PostgreSQL engine used the mean of all documents: similar-plans dense 0.709 against 0.727)."""
    from search.profiles import MIN_TYPE_DOCUMENTS
    from search.types import Chunk

    rng = np.random.default_rng(8)
    dim = both[0].embedder.dim
    kinds = {"bestemmingsplan": rng.normal(size=dim), "notulen": rng.normal(size=dim)}
    items = []
    for kind, centre in kinds.items():
        for i in range(MIN_TYPE_DOCUMENTS + 2):
            d = doc(f"{kind[:3]}{i}", f"{kind} {i}", f"tekst {kind} nummer {i}", "GM0629", doc_type=kind)
            vectors = centre + rng.normal(scale=0.8, size=(2, dim))
            vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
            chunks = [Chunk(d.id, j, f"tekst {kind} {i} deel {j}", "", 0, 10) for j in range(2)]
            items.append((d, chunks, vectors))
    for index in both:
        index.put(items)
        index.flush()
    embedded, pg = both
    probe = ["bes3", "not5", "a1"]
    np.testing.assert_allclose(pg.profile_vectors(probe), embedded.profile_vectors(probe), atol=2e-3)
    query = embedded.profile_of(items[3][2], "bestemmingsplan")
    np.testing.assert_allclose(pg.profile_of(items[3][2], "bestemmingsplan"), query, atol=2e-3)
    assert abs(
        float(embedded.profile_vectors(["bes1"])[0] @ kinds["bestemmingsplan"])
    ) < 0.5 * np.linalg.norm(kinds["bestemmingsplan"])  # the type's own direction is (mostly) gone
    top = [d for d, _ in embedded.profile_search(query, Filters(), 10)]
    assert [d for d, _ in pg.profile_search(query, Filters(), 10)] == top
