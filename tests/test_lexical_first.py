"""Lexical-first ingest (#13): documents are searchable by words before their passages have vectors;
the embed job gives them vectors in leased units, after which search ranks them exactly as an index
ingested whole would. Both engines; a real worker process killed mid-unit; the CLI, JSON and page."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.cli.main import main
from api.coverage import semantic_coverage
from api.http import create_app
from api.settings import Settings
from ingest.backfill import apply_unit, backfill, embed_units, generation_of
from ingest.db_cache import embedding_cache
from ingest.embed_units import SqliteUnitTable
from ingest.embedding import EmbeddingCache, passage_text
from ingest.pipeline import IngestOptions, ingest_documents
from ingest.unit_tables import unit_table
from search.embedders import Embedder
from search.engine import IndexEngine
from search.engines import OpenedIndex, Place, open_live
from search.retrieval import query_document, search, similar
from search.types import Filters
from tests.conftest import FAST_MODEL, shared_path
from tests.test_engine_contract import CORPUS, ENGINES, open_engine

QUESTIONS = ("rioolheffing vrijstelling voor kerken", "bijzondere bijstand uitvaart", "afval ophalen")


@pytest.fixture(params=ENGINES)
def pair(
    request: pytest.FixtureRequest, tmp_path: Path, fast_embedder: Embedder
) -> Iterator[tuple[OpenedIndex, OpenedIndex]]:
    """(lexical-first index, index ingested whole) of the same engine and documents."""
    place = request.getfixturevalue("pg_place") if request.param == "postgres" else None
    lexical = open_engine(request.param, tmp_path / "lexical", place, fast_embedder)
    beside = place and replace(place, space=f"{place.space}/whole")  # dropped with the test's space
    whole = open_engine(request.param, tmp_path / "whole", beside, fast_embedder)
    ingest_documents(lexical, CORPUS, IngestOptions(lexical_first=True))
    ingest_documents(whole, CORPUS, IngestOptions())
    for index in (lexical, whole):
        index.flush()
    yield lexical, whole  # type: ignore[misc]
    for index in (lexical, whole):
        index.close()


def ranked(index: IndexEngine, question: str, mode: str) -> list[tuple[str, float]]:
    return [(r.document.id, round(r.score, 4)) for r in search(index, question, k=10, mode=mode)]


def test_found_by_words_before_vectors_then_ranked_hybrid_after(
    pair: tuple[OpenedIndex, OpenedIndex], tmp_path: Path
) -> None:
    lexical, whole = pair
    chunks = lexical.catalog.count_chunks()
    assert lexical.count_pending() == chunks == whole.catalog.count_chunks() == 9
    assert whole.count_pending() == 0 and semantic_coverage(whole) == 1.0
    assert semantic_coverage(lexical) == 0.0
    query = lexical.embedder.embed_query("rioolheffing")
    assert lexical.dense_search(query, Filters(), 10) == []  # no vector yet: dense search does not see them
    assert lexical.profile_search(whole.profile_vectors(["a1"])[0], Filters(), 10) == []
    for question in QUESTIONS:  # hybrid ranks them by words alone, as the lexical ranking does
        hybrid = [d for d, _ in ranked(lexical, question, "hybrid")]
        assert hybrid and hybrid == [d for d, _ in ranked(lexical, question, "lexical")]
    assert {"a1", "w2"} <= {d for d, _ in ranked(lexical, "rioolheffing", "hybrid")}
    # Find-similar from a document not embedded yet embeds its passages for the query.
    np.testing.assert_allclose(
        query_document(lexical, "a1").vectors, query_document(whole, "a1").vectors, atol=1e-4
    )

    # The embed job, one unit of 3 passages at a time: a worker embeds a unit, the writer applies it.
    cache, table = EmbeddingCache(tmp_path / "cache.sqlite"), SqliteUnitTable(tmp_path / "units.sqlite")
    generation = generation_of(lexical)
    assert table.plan(generation, lexical.pending_chunks(), 3) == 3
    assert embed_units(lexical, cache, table, worker="w1", limit=1) == 1
    [first] = table.ready(generation)
    assert apply_unit(lexical, cache, table, first) == 3
    embedded = {c for c in range(first.first, first.last + 1)}
    assert {c for c, _ in lexical.dense_search(query, Filters(), 10)} == embedded
    assert semantic_coverage(lexical) == pytest.approx(3 / 9)
    assert {"a1", "w2"} <= {
        d for d, _ in ranked(lexical, "rioolheffing", "hybrid")
    }  # the rest still by words
    # A pending passage's lexical rank stands in for its missing dense rank: the best answer (w1, not
    # embedded yet) is not pushed below the few passages that happen to have vectors (a1, a2).
    assert {d for d, _ in ranked(lexical, "riool parkeervergunning", "dense")} == {"a1", "a2"}
    assert ranked(lexical, "bijzondere bijstand uitvaart", "hybrid")[0][0] == "w1"

    report = backfill(lexical, cache, table, unit_passages=3)
    assert (report.applied, report.pending_at_start, lexical.count_pending()) == (6, 6, 0)
    assert semantic_coverage(lexical) == 1.0 and table.counts(generation)["applied"] == 3
    for question in QUESTIONS:  # now exactly what an index ingested whole answers
        for mode in ("hybrid", "dense", "lexical"):
            got, expected = ranked(lexical, question, mode), ranked(whole, question, mode)
            assert [d for d, _ in got] == [d for d, _ in expected]
            assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=2e-4)
    ids = [d.id for d in CORPUS]
    np.testing.assert_allclose(lexical.profile_vectors(ids), whole.profile_vectors(ids), atol=1e-4)
    alike = [r.document.id for r in similar(lexical, query_document(lexical, "h2"), k=5)]
    assert alike == [r.document.id for r in similar(whole, query_document(whole, "h2"), k=5)]


def test_pending_passages_are_the_texts_an_ingest_embeds(pair: tuple[OpenedIndex, OpenedIndex]) -> None:
    lexical, _ = pair
    texts = {c.embedded_text(title) for _, title, c in lexical.pending_passages(0, 10**9)}
    assert texts == {passage_text(d, c) for d in CORPUS for c in _chunks(d)}


def _chunks(doc: object) -> list:
    from ingest.chunking import chunk

    return chunk(doc)  # type: ignore[arg-type]


CLAIM_AND_HANG = """
import sys, time
from pathlib import Path
from ingest.backfill import generation_of
from ingest.unit_tables import unit_table
from search.engines import Place, open_live
place = Place(Path(sys.argv[1]), sys.argv[3], space=sys.argv[4])
index = open_live(place)
unit = unit_table(place).claim(generation_of(index), "doomed", float(sys.argv[2]))
print(unit.id, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_killed_workers_unit_is_taken_again(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path, fast_embedder: Embedder
) -> None:
    place = request.getfixturevalue("pg_place") if engine == "postgres" else Place(tmp_path / "data")
    index = open_live(place, fast_embedder, create=True)
    assert index is not None
    ingest_documents(index, CORPUS, IngestOptions(lexical_first=True))
    index.flush()
    table, generation = unit_table(place), generation_of(index)
    table.plan(generation, index.pending_chunks(), 4)
    # On PostgreSQL the worker shares only the database (units in it), as a process on another host.
    own = tmp_path / "elsewhere" if place.database_url else place.data_dir
    command = [sys.executable, "-c", CLAIM_AND_HANG, str(own), "1.5", place.database_url, place.space]
    worker = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1]
    )
    assert worker.stdout is not None
    taken = int(worker.stdout.readline())
    worker.kill()  # mid-unit: it never embeds nor returns its unit
    worker.wait()
    assert table.attempts(generation)[taken] == (1, "doomed")
    cache = embedding_cache(place, place.data_dir)
    report = backfill(index, cache, table, unit_passages=4, lease_s=1.5, idle_s=0.2)
    attempts, worker_name = table.attempts(generation)[taken]
    assert (attempts, worker_name != "doomed") == (2, True)  # retaken once the lease ran out
    assert (report.applied, index.count_pending(), table.counts(generation)["retaken"]) == (9, 0, 1)
    query = index.embedder.embed_query("afval")
    assert len(index.dense_search(query, Filters(current_only=False), 100)) == 9
    index.close()
    cache.close()
    table.close()


def test_cli_json_and_page_show_the_semantic_index_filling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    files = [str(p) for p in sorted(shared_path("cvdr").glob("CVDR*.xml"))]
    base = ["--data-dir", str(data)]
    assert main([*base, "ingest", *files, "--model", FAST_MODEL, "--lexical-first"]) == 0
    out = capsys.readouterr().out
    assert "passages wait for their vectors" in out and "schutting embed" in out
    settings = Settings(data_dir=data, model=FAST_MODEL)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/search", params={"q": "subsidie"}).json()
        assert answer["semantic_coverage"] == 0.0 and answer["results"]
        page = client.get("/", params={"q": "subsidie"}).text
        assert (
            "Semantische index: 0% gereed; nog niet verwerkte documenten worden op trefwoorden gevonden"
            in page
        )
        assert "Geen goede treffers" not in page  # no vectors yet: no evidence that the results are weak

        assert main([*base, "embed", "--unit", "8", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["embedded"] == result["passages"] > 8 and result["semantic_coverage"] == 1.0
        assert main([*base, "jobs", str(result["job"]), "--json"]) == 0
        job = json.loads(capsys.readouterr().out)
        assert (job["kind"], job["state"], job["total"], job["processed"]) == (
            "embed", "done", result["passages"], result["passages"],
        )  # fmt: skip
        assert job["rate"] > 0 and job["result"]["units"]["applied"] == -(-result["passages"] // 8)
        assert main([*base, "jobs"]) == 0
        assert f"{result['passages']}/{result['passages']}" in capsys.readouterr().out

        answer = client.get("/search", params={"q": "subsidie"}).json()
        assert answer["semantic_coverage"] == 1.0
        assert "Semantische index" not in client.get("/", params={"q": "subsidie"}).text


def test_a_lexical_first_ingest_in_beheer_is_followed_by_an_embed_job(tmp_path: Path) -> None:
    from tests.admin_support import AUTH, TOKEN, wait_for_job

    folder = tmp_path / "stukken"
    folder.mkdir()
    for source in sorted(shared_path("cvdr").glob("CVDR*.xml"))[:3]:
        (folder / source.name).write_bytes(source.read_bytes())
    settings = Settings(data_dir=tmp_path / "data", model=FAST_MODEL, admin_token=TOKEN,
                        ingest_roots=str(tmp_path))  # fmt: skip
    with TestClient(create_app(settings)) as client:
        body = {"path": str(folder), "lexical_first": True}
        started = client.post("/admin/ingest", headers=AUTH, json=body).json()
        ingest = wait_for_job(client, started["id"])
        assert (ingest["state"], ingest["params"]["lexical_first"], ingest["added"]) == ("done", True, 3)
        embed = wait_for_job(client, started["id"] + 1)
        assert (embed["kind"], embed["state"], embed["processed"]) == ("embed", "done", ingest["chunks"]), (
            embed
        )
        assert embed["total"] == ingest["chunks"] and embed["result"]["semantic_coverage"] == 1.0
        assert client.get("/health").json()["semantic_coverage"] == 1.0
