"""BM25 in PostgreSQL reads only the passages that can reach the top k (search/pg/ranking.py).

The floor from the seeds must never drop a passage of the exact top k: checked against the
embedded engine's BM25 (a different implementation, every passage scored) on a corpus where most
passages hold only a common word, at depths where the floor prunes and where it does not. With
a candidate budget too small for the query the answer is approximate, but every score in it is
still the passage's exact BM25.
"""

from __future__ import annotations

from collections.abc import Iterator
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


def test_a_small_budget_scores_fewer_passages_but_each_exactly(both: tuple[IndexEngine, PgEngine]) -> None:
    _, pg = both
    with pg.db.read() as conn:
        exact = dict(ranking.lexical(conn, pg.schema, QUERY, Filters(), 80, budget=None))
        budgeted = ranking.lexical(conn, pg.schema, QUERY, Filters(), 80, budget=5)
    assert len(exact) == 80 and 0 < len(budgeted) < 80
    assert all(exact[c] == pytest.approx(s) for c, s in budgeted)
    assert [c for c, _ in budgeted][:2] == sorted(exact, key=lambda c: (-exact[c], c))[:2]


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
