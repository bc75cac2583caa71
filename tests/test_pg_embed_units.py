"""Embed units on several hosts (#13 point 3): on the PostgreSQL engine the units live in the
database, so a ``schutting embed --worker-only`` process with only the database URL and an empty
data dir of its own embeds units, and the writer applies them from the shared embedding cache.
The unit table's contract runs on both implementations (SQLite file, PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.backfill import backfill, generation_of, worker_name
from ingest.db_cache import embedding_cache
from ingest.embed_units import UnitTable
from ingest.pipeline import IngestOptions, ingest_documents
from ingest.unit_tables import unit_table
from search.embedders import Embedder
from search.engines import Place, open_live
from search.types import Filters
from tests.pg_support import REPO
from tests.test_engine_contract import CORPUS, ENGINES
from tests.test_lexical_first import QUESTIONS, ranked


@pytest.fixture(params=ENGINES)
def units(
    request: pytest.FixtureRequest, tmp_path: Path, fast_embedder: Embedder
) -> Iterator[tuple[UnitTable, str]]:
    """(the unit table of an engine, the name of a live generation there)."""
    place = request.getfixturevalue("pg_place") if request.param == "postgres" else Place(tmp_path / "data")
    index = open_live(place, fast_embedder, create=True)
    assert index is not None
    table = unit_table(place)
    yield table, generation_of(index)
    table.close()
    index.close()


def test_units_are_planned_claimed_leased_and_applied(units: tuple[UnitTable, str]) -> None:
    table, generation = units
    assert table.plan(generation, list(range(10, 20)), 4) == 3
    assert table.plan(generation, list(range(10, 20)), 4) == 0  # units still open: not cut again
    first, second = table.claim(generation, "w1", 60), table.claim(generation, "w2", 0.5)
    assert first is not None and second is not None
    assert (first.id, first.first, first.last, first.passages, first.attempts) == (0, 10, 13, 4, 1)
    assert (second.id, second.first, second.last, second.passages) == (1, 14, 17, 4)
    assert not table.renew(first, "w2", 60) and table.renew(first, "w1", 60)
    assert table.embedded(first, "w1") and not table.embedded(first, "w1")
    assert table.ready(generation) == [first]
    time.sleep(0.7)  # w2's lease runs out: its unit comes before the queued one
    third = table.claim(generation, "w3", 60)
    assert third is not None and (third.id, third.attempts) == (1, 2)
    assert not table.renew(second, "w2", 60) and not table.embedded(second, "w2")
    table.applied(first)
    assert table.counts(generation) == {"applied": 1, "running": 1, "queued": 1, "retaken": 1}
    assert table.attempts(generation) == {0: (1, "w1"), 1: (2, "w3"), 2: (0, "")}


class Refusing:
    """The writer's model, which must not be asked: the vectors come from the worker, through the database."""

    def __init__(self, embedder: Embedder) -> None:
        self.model_id, self.dim = embedder.model_id, embedder.dim

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        raise AssertionError(f"the writer embedded {len(texts)} passages itself")


def test_a_worker_on_another_host_embeds_units_that_the_writer_applies(
    fresh_database: str, tmp_path: Path, fast_embedder: Embedder
) -> None:
    place = Place(tmp_path / "writer", fresh_database)  # the main space: what `schutting` opens by default
    index = open_live(place, fast_embedder, create=True)
    whole = open_live(place.sub("whole"), fast_embedder, create=True)
    assert index is not None and whole is not None
    ingest_documents(index, CORPUS, IngestOptions(lexical_first=True))
    ingest_documents(whole, CORPUS, IngestOptions())
    query = fast_embedder.embed_query("rioolheffing")
    assert index.count_pending() == 9 and index.dense_search(query, Filters(), 10) == []
    for question in QUESTIONS:  # found by words before any vector
        hybrid = [d for d, _ in ranked(index, question, "hybrid")]
        assert hybrid and hybrid == [d for d, _ in ranked(index, question, "lexical")]

    table, generation = unit_table(place), generation_of(index)
    assert table.plan(generation, index.pending_chunks(), 3) == 3
    host = tmp_path / "other-host"  # its own empty data dir: only the database URL is shared
    env = {k: v for k, v in os.environ.items() if k not in ("SCHUTTING_DATA_DIR", "SCHUTTING_DATABASE_URL")}
    command = ["--data-dir", str(host), "--database-url", fresh_database, "embed", "--worker-only", "--json"]
    done = subprocess.run([sys.executable, "-m", "api.cli", *command, "--threads", "1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"units": 3}
    assert not list(host.rglob("*.sqlite"))  # neither units nor vectors went through a local file
    assert table.counts(generation) == {"embedded": 3, "retaken": 0}
    workers = {w for _, w in table.attempts(generation).values()}
    assert len(workers) == 1 and worker_name() not in workers  # all three taken by the other process

    writer = open_live(place, Refusing(fast_embedder))  # type: ignore[arg-type]
    assert writer is not None
    cache = embedding_cache(place, place.data_dir)
    report = backfill(writer, cache, table, unit_passages=3, work=False, idle_s=0.1)
    assert (report.applied, index.count_pending(), table.counts(generation)["applied"]) == (9, 0, 3)
    for question in QUESTIONS:  # now ranked hybrid, exactly as the index ingested whole
        for mode in ("hybrid", "dense"):
            got, expected = ranked(index, question, mode), ranked(whole, question, mode)
            assert [d for d, _ in got] == [d for d, _ in expected]
            assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=2e-4)
    for opened in (writer, index, whole):
        opened.close()
    cache.close()
    table.close()
