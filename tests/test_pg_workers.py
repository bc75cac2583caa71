"""Workers share a queued ingest through PostgreSQL; a worker killed with kill -9 mid-unit costs
that unit only: after its lease expires another worker takes it again (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from ingest.worker import enqueue_ingest, work
from search.engines import Place, open_live
from search.pg import queue
from search.retrieval import search
from tests.pg_support import REPO

SUBJECTS = ["hondenbelasting", "rioolheffing", "precariobelasting", "parkeervergunning", "afvalstoffenheffing", "toeristenbelasting"]  # fmt: skip


def folder_of_documents(root: Path, count: int = 6) -> Path:
    folder = root / "stukken"
    folder.mkdir(parents=True)
    for i in range(count):
        subject = SUBJECTS[i % len(SUBJECTS)]
        (folder / f"{subject}-{i}.txt").write_text(
            f"Verordening {subject} {i}\n\nArtikel 1. De gemeente heft {subject} volgens het tarief van bijlage {i}.\n"
        )
    return folder


@pytest.fixture
def place(fresh_database: str, tmp_path: Path) -> Place:
    return Place(tmp_path / "data", fresh_database)


def units_of(url: str, job: int) -> list[tuple[str, int, str | None]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, attempts, worker FROM job_units WHERE job_id = %s ORDER BY ordinal", (job,)
        )
        return [(str(s), int(a), w) for s, a, w in rows.fetchall()]


def test_a_queued_ingest_is_split_into_units_and_progress_is_their_sum(place: Place, tmp_path: Path) -> None:
    job = enqueue_ingest(place, [folder_of_documents(tmp_path)], "use-multilingual", unit_files=2)
    assert [s for s, _, _ in units_of(place.database_url, job)] == ["queued"] * 3
    assert work(place, once=True) == 3
    db = place.database()
    try:
        state = queue.progress(db, job)
    finally:
        db.close()
    assert (state["state"], state["units"], state["added"], state["failed"]) == ("done", {"done": 3}, 6, [])
    index = open_live(place)
    assert index is not None
    try:
        assert index.catalog.count_documents() == 6
        assert search(index, "belasting op honden", k=1)[0].document.title == "hondenbelasting-0"
    finally:
        index.close()


def test_a_killed_workers_unit_is_taken_again_after_its_lease(place: Place, tmp_path: Path) -> None:
    place = replace(place, space="killed")  # an index of its own; workers take units of any space
    job = enqueue_ingest(place, [folder_of_documents(tmp_path, 4)], "use-multilingual", unit_files=4)
    env = {
        **os.environ,
        "SCHUTTING_DATABASE_URL": place.database_url,
        "SCHUTTING_DATA_DIR": str(tmp_path / "w1"),
    }
    worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--lease", "3"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while units_of(place.database_url, job)[0][0] != "running":  # it has claimed the unit and is working
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    state, attempts, taken_by = units_of(place.database_url, job)[0]
    assert (state, attempts, taken_by) == ("running", 1, f"{os.uname().nodename}:{worker.pid}")
    assert work(place, once=True) == 0  # the lease has not expired yet: nobody may take the unit
    time.sleep(3.5)
    assert work(place, once=True) == 1
    state, attempts, taken_by = units_of(place.database_url, job)[0]
    assert (state, attempts) == ("done", 2) and taken_by != f"{os.uname().nodename}:{worker.pid}"
    index = open_live(place)
    assert index is not None
    try:
        assert index.catalog.count_documents() == 4
    finally:
        index.close()


def test_the_embedding_cache_in_the_database_is_shared_by_every_node(place: Place, fast_embedder) -> None:  # type: ignore[no-untyped-def]
    from ingest.db_cache import embedding_cache
    from ingest.embedding import embed_passages

    texts = ["De hondenbelasting bedraagt 120 euro per hond.", "Rioolheffing per aansluiting."]
    first = embedding_cache(place, place.data_dir)
    vectors = embed_passages(fast_embedder, texts, first)
    first.close()

    class Refusing:  # another node: the vectors must come from the database, not from a model
        model_id, dim = fast_embedder.model_id, fast_embedder.dim

        def embed_passages(self, texts: list[str]) -> None:
            raise AssertionError(f"embedded again: {texts}")

    second = embedding_cache(place, place.data_dir / "elsewhere")
    try:
        assert (embed_passages(Refusing(), texts, second) == vectors).all()  # type: ignore[arg-type]
    finally:
        second.close()
