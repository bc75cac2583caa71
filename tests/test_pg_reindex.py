"""Zero-downtime reindex on PostgreSQL: the new generation is built beside the live one and swapped
in one transaction; searches running all along never fail; writes meanwhile are refused (Busy)."""

from __future__ import annotations

import threading
import time

import pytest

from ingest.db_reindex import reindex_database
from ingest.pipeline import IngestOptions, IngestReport, ingest_documents
from search.embedders import Embedder
from search.engines import LiveEngine, OpenedIndex, Place, open_live
from search.errors import Busy, IndexMismatch
from search.pg import generations
from search.pg.generations import GENERATION_FORMAT
from search.retrieval import search
from tests.test_engine_contract import CORPUS


def filled(place: Place, embedder: Embedder) -> OpenedIndex:
    """The live generation of `place`, holding the contract suite's corpus."""
    index = open_live(place, embedder, create=True)
    assert index is not None
    ingest_documents(index, CORPUS, IngestOptions())
    return index


def test_reindex_swaps_generations_while_searches_keep_answering(
    pg_place: Place, fast_embedder: Embedder
) -> None:
    index = filled(pg_place, fast_embedder)
    index.catalog.set_meta("harvest-cursor", "2024-05-01")
    before = index.folder.name
    live = LiveEngine(pg_place)
    answers: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def keep_searching() -> None:
        while not done.is_set():
            try:
                engine = live.require()
                answers.append(search(engine, "bijstand voor een uitvaart", k=1)[0].document.id)
            except BaseException as exc:  # any failure is what this test is about
                failures.append(exc)

    refused: list[bool] = []

    def write_meanwhile(report: IngestReport, source: str) -> None:
        if not refused:
            with pytest.raises(Busy):
                index.delete(["a1"])
            refused.append(True)
            # hold the reindex until searches have demonstrably run during it (a slow CI machine
            # may otherwise finish the whole reindex between two searches)
            seen = len(answers) + len(failures)
            deadline = time.monotonic() + 60
            while len(answers) + len(failures) < seen + 3 and time.monotonic() < deadline:
                time.sleep(0.01)

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        report = reindex_database(pg_place, progress=write_meanwhile, grace_s=3600)
    finally:
        done.set()
        searcher.join()
    assert failures == [] and refused == [True]
    assert report.done == len(CORPUS) and set(answers) == {"w1"} and len(answers) > 1
    after = live.require()
    assert after.folder.name != before and after.catalog.count_documents() == len(CORPUS)
    assert after.catalog.get_meta("harvest-cursor") == "2024-05-01"
    assert search(after, "bijstand voor een uitvaart", k=1)[0].document.id == "w1"
    with pytest.raises(Busy):  # a writer still holding the old generation must not write into it
        index.delete(["a1"])
    after.delete(["a1"])
    assert after.catalog.document("a1") is None
    db = pg_place.database()
    try:
        assert generations.drop_retired(db, pg_place.space, grace_s=0) == [before]
    finally:
        db.close()
    index.close()
    live.close()


def test_a_generation_of_an_older_format_is_refused_and_rebuilt_by_reindex(
    pg_place: Place, fast_embedder: Embedder
) -> None:
    index = filled(pg_place, fast_embedder)
    older = index.folder.name
    index.close()
    db = pg_place.database()
    try:
        with db.write() as conn:  # as a generation written by the previous release is registered
            conn.execute(
                "UPDATE generations SET format_version = %s WHERE name = %s", (GENERATION_FORMAT - 1, older)
            )
        with pytest.raises(IndexMismatch, match="reindex"):
            open_live(pg_place, fast_embedder)
        report = reindex_database(pg_place, grace_s=3600)
        live = generations.live(db, pg_place.space)
        assert live is not None and live.name != older and live.format_version == GENERATION_FORMAT
    finally:
        db.close()
    assert report.done == len(CORPUS)
    rebuilt = open_live(pg_place, fast_embedder)
    assert rebuilt is not None
    try:
        assert search(rebuilt, "bijstand voor een uitvaart", k=1)[0].document.id == "w1"
    finally:
        rebuilt.close()
