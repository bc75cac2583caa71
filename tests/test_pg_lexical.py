"""BM25 in PostgreSQL reads only the passages that can reach the top k (search/pg/ranking.py).

The floor from the seeds must never drop a passage of the exact top k: checked against the
embedded engine's BM25 (a different implementation, every passage scored) on a corpus where most
passages hold only a common word, at depths where the floor prunes and where it does not. With
a candidate budget too small for the query the answer is approximate, but every score in it is
still the passage's exact BM25, and it is never short of k while k passages match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.pipeline import IngestOptions, ingest_documents
from search import engines
from search.embedders import Embedder
from search.engine import IndexEngine
from search.engines import Place
from search.pg import ranking
from search.pg.engine import PgEngine
from search.types import Document, Filters, Section

QUERY = "grofvuil container afspraak afval"


def corpus() -> list[Document]:
    """80 passages: every one says "afval", 20 "afspraak", 16 "container", 8 "grofvuil";
    lengths vary so BM25's length normalisation matters."""
    docs = []
    for i in range(80):
        words = (
            ["Het afval wordt opgehaald"]
            + ["op afspraak"] * (i % 4 == 0)
            + ["in de container"] * (i % 5 == 0)
        )
        words += ["grofvuil"] * (i % 10 == 0) + ["in de wijk en in het dorp"] * (i % 3) + ["afval"] * (i % 5)
        code, town, province = (
            ("GM0363", "Amsterdam", "Noord-Holland") if i % 2 else ("GM0629", "Wassenaar", "Zuid-Holland")
        )
        docs.append(Document(id=f"d{i:02d}", title=f"Afvalregeling {i}", sections=(Section("", " ".join(words) + "."),),
                             municipality=town, municipality_code=code, province=province, content_hash=f"h{i}"))  # fmt: skip
    return docs


@pytest.fixture
def both(tmp_path: Path, pg_place: Place, fast_embedder: Embedder) -> Iterator[tuple[IndexEngine, PgEngine]]:
    embedded = engines.open_live(Place(tmp_path / "data"), fast_embedder, create=True)
    pg = engines.open_live(pg_place, fast_embedder, create=True)
    assert embedded is not None and isinstance(pg, PgEngine)
    for index in (embedded, pg):
        ingest_documents(index, corpus(), IngestOptions())
        index.flush()
    yield embedded, pg
    embedded.close()
    pg.close()


def doc_ids(index: IndexEngine, hits: list[tuple[int, float]]) -> list[str]:
    return [index.catalog.chunks_by_id([c])[c][0] for c, _ in hits]


@pytest.mark.parametrize("k", [1, 3, 6, 20, 80])  # seeds from 4, 3, 2 terms; none; none
@pytest.mark.parametrize("province", ["", "Zuid-Holland"])
def test_pruned_bm25_finds_the_exact_top_k(both: tuple[IndexEngine, PgEngine], k: int, province: str) -> None:
    embedded, pg = both
    filters = Filters(provinces=(province,) if province else ())
    with pg.db.read() as conn:  # k past the corpus: no seed reaches it, every match is scored
        every = ranking.lexical(conn, pg.schema, QUERY, filters, 1000, budget=None)
    found = pg.lexical_search(QUERY, filters, k)
    assert len(every) == (40 if province else 80) and len(found) == min(k, len(every))
    assert found == every[:k]
    # and the same order as the embedded engine's BM25, which scores every passage its own way
    exact = embedded.lexical_search(QUERY, filters, k)
    assert doc_ids(pg, found)[:3] == doc_ids(embedded, exact)[:3]


def superseded() -> list[Document]:
    """corpus() where the first 30 documents also have an earlier version (not in force) that
    holds every query word twice: without the "in force" filter those would be the top 30."""
    docs = []
    for doc in corpus():
        i = int(doc.id[1:])
        work = {"work_id": f"w{i}"}
        docs.append(replace(doc, extra={**work, "version": 2}) if i < 30 else doc)
        if i < 30:
            old = Section("", f"{QUERY} {QUERY}.")
            docs.append(replace(doc, id=f"old{i:02d}", sections=(old,), content_hash=f"old{i}", extra={**work, "version": 1}))  # fmt: skip
    return docs


@pytest.mark.parametrize("k", [1, 6, 20])
def test_passages_of_superseded_versions_never_reach_the_top_k(
    tmp_path: Path, pg_place: Place, fast_embedder: Embedder, k: int
) -> None:
    """Passages carry their document's "in force" flag: kept in step when a newer version
    arrives and when it is deleted again; the same answers as the embedded engine's."""
    embedded = engines.open_live(Place(tmp_path / "data"), fast_embedder, create=True)
    pg = engines.open_live(pg_place, fast_embedder, create=True)
    assert embedded is not None and isinstance(pg, PgEngine)
    try:
        for index in (embedded, pg):
            ingest_documents(index, superseded(), IngestOptions())
            index.flush()
        found = pg.lexical_search(QUERY, Filters(), k)
        with pg.db.read() as conn:
            every = ranking.lexical(conn, pg.schema, QUERY, Filters(), 1000, budget=None)
        assert len(found) == k and found == every[:k] and len(every) == 80
        assert not any(d.startswith("old") for d in doc_ids(pg, every))
        assert doc_ids(pg, found)[:3] == doc_ids(embedded, embedded.lexical_search(QUERY, Filters(), k))[:3]
        earlier = doc_ids(pg, pg.lexical_search(QUERY, Filters(current_only=False), 30))
        assert sorted(earlier) == [f"old{i:02d}" for i in range(30)]
        pg.delete(["d07"])  # the newer version gone: the earlier one is in force again
        assert doc_ids(pg, pg.lexical_search(QUERY, Filters(), 1)) == ["old07"]
        dense = doc_ids(pg, pg.dense_search(pg.embedder.embed_query(QUERY), Filters(), 100))
        assert len(dense) == 80 and [d for d in dense if d.startswith("old")] == ["old07"]
    finally:
        embedded.close()
        pg.close()


def assert_same_ranking(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    """The same scores in the same order, up to float rounding (summed in another order), and
    the same passages but where tied at the cut."""
    assert [s for _, s in a] == pytest.approx([s for _, s in b])
    last = a[-1][1] if a else 0.0
    scores_b = dict(b)
    for c, s in a:
        assert scores_b.get(c, last) == pytest.approx(s)


def test_a_small_budget_still_fills_k_and_scores_each_passage_exactly(
    both: tuple[IndexEngine, PgEngine],
) -> None:
    _, pg = both
    with pg.db.read() as conn:
        exact = dict(ranking.lexical(conn, pg.schema, QUERY, Filters(), 80, budget=None))
        budgeted = ranking.lexical(conn, pg.schema, QUERY, Filters(), 80, budget=5)
    # the raised floor alone finds fewer than k; the rarest terms' passages fill the ranking
    assert len(exact) == 80 and len(budgeted) == 80
    assert all(exact[c] == pytest.approx(s) for c, s in budgeted)
    assert [c for c, _ in budgeted][:2] == sorted(exact, key=lambda c: (-exact[c], c))[:2]


def test_many_words_over_budget_still_fill_the_ranking(both: tuple[IndexEngine, PgEngine]) -> None:
    """A document as the query (find-similar's distinctive words): more terms than any passage
    holds together, so a raised floor alone found nothing; the rarest terms' passages fill it."""
    _, pg = both
    words = "grofvuil container afspraak opgehaald wijk dorp afvalregeling 10 20 30 40 50"
    with pg.db.read() as conn:
        terms = conn.execute(
            "SELECT count(*) FROM unnest(tsvector_to_array(to_tsvector('dutch', %s)))", (words,)
        )
        assert terms.fetchone()[0] > ranking.MANY_TERMS
        exact = dict(ranking.lexical(conn, pg.schema, words, Filters(), 30, budget=None))
        budgeted = ranking.lexical(conn, pg.schema, words, Filters(), 30, budget=3)
    assert len(exact) >= 30 and len(budgeted) == 30
    assert all(exact[c] == pytest.approx(s) for c, s in budgeted)
    best = sorted(exact, key=lambda c: (-exact[c], c))
    assert [c for c, _ in budgeted][:3] == best[:3]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0.01, 8.0), min_size=1, max_size=9).map(lambda xs: sorted(xs, reverse=True)),
    st.floats(0.0, 1.0),
)
def test_covering_sets_hold_every_term_set_that_reaches_the_floor(idf: list[float], share: float) -> None:
    theta = share * sum(idf)
    sets = [set(c) for c in ranking._covering_sets(idf, theta)]
    for mask in range(1, 2 ** len(idf)):
        held = {i for i in range(len(idf)) if mask >> i & 1}
        if sum(idf[i] for i in held) >= theta:
            assert any(c <= held for c in sets), (held, sets)
