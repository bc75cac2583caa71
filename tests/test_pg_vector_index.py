"""The PostgreSQL engine's index-scan path (HNSW with iterative scans, on vector and on halfvec):
the same hits as the exact scan on a small corpus, and k filled under a selective filter. The
exact scan answers small allowed sets in the product; here it is switched off to reach the index."""

from __future__ import annotations

import pytest

from ingest.pipeline import IngestOptions, ingest_documents
from search.embedders import Embedder
from search.engines import Place
from search.pg import generations, ranking
from search.pg.engine import PgEngine
from search.types import Filters
from tests.test_engine_contract import CORPUS


@pytest.mark.parametrize("kind", ["hnsw", "hnsw-halfvec"])
def test_index_scan_agrees_with_exact_scan(
    kind: str, pg_place: Place, fast_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pg_place.database()
    try:
        exact = PgEngine(
            db,
            generations.create(db, pg_place.space, fast_embedder.model_id, fast_embedder.dim, "exact"),
            fast_embedder,
        )
        indexed = PgEngine(
            db,
            generations.create(db, pg_place.space, fast_embedder.model_id, fast_embedder.dim, kind),
            fast_embedder,
        )
        for engine in (exact, indexed):
            ingest_documents(engine, CORPUS, IngestOptions())
        vector = fast_embedder.embed_query("kosten van een begrafenis")
        monkeypatch.setattr(ranking, "EXACT_LIMIT", 0)  # every search takes the index path

        def texts(engine: PgEngine, filters: Filters, k: int) -> list[str]:
            hits = engine.dense_search(vector, filters, k)
            return [engine.catalog.chunks_by_id([c])[c][1].text for c, _ in hits]

        assert texts(indexed, Filters(), 5) == texts(exact, Filters(), 5)
        only = Filters(municipalities=("GM0363",))  # 3 of 9 passages, far from the query
        assert (
            sorted(texts(indexed, only, 5)) == sorted(texts(exact, only, 5))
            and len(texts(indexed, only, 5)) == 3
        )
    finally:
        db.close()
