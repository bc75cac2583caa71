"""Job records, the one-writer lock, and incremental ingest (skip, replace, sync) as jobs and from the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from api.jobs import JobStore, run_in_foreground
from api.settings import Settings
from ingest.pipeline import IngestReport
from search.errors import Busy
from search.generations import open_live
from search.locking import WriterLock, lock_holder
from search.retrieval import MODES, search

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "pdf"
QUERY = "besluitenlijst burgemeester en wethouders"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared PDF corpus not present")


def meeting(day: str) -> Path:
    return CORPUS / f"besluitenlijst_bw_vergadering_{day}.pdf"


def doc_id(name: str) -> str:
    return f"GM0629-{name.removesuffix('.pdf').replace('_', '-')}"


def cli(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SCHUTTING_DATA_DIR": str(tmp_path / "data"),
        "SCHUTTING_MODEL": "use-multilingual",
        "SCHUTTING_OCR": "false",
    }
    command = [sys.executable, "-m", "api.cli", *args]
    return subprocess.run(command, cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=120)


def test_writer_lock_admits_one_writer_across_threads_and_processes(tmp_path):
    data_dir = tmp_path / "data"
    errors: list[str] = []

    with WriterLock(data_dir, "reindex job 12"):
        assert lock_holder(data_dir).startswith(f"reindex job 12, pid {os.getpid()}, since ")

        def other_thread() -> None:
            try:
                WriterLock(data_dir, "ingest").acquire()
            except Busy as exc:
                errors.append(str(exc))

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        other_process = cli(tmp_path, "delete", "iets")

    assert len(errors) == 1 and "reindex job 12" in errors[0]
    assert other_process.returncode == 5  # Busy
    assert "reindex job 12" in other_process.stderr
    assert lock_holder(data_dir) == ""
    with WriterLock(data_dir, "after"):  # free again
        pass


def test_job_records_lifecycle_and_recovery_of_dead_jobs(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create("ingest", {"paths": ["/srv/stukken"]})
    assert (job.state, job.pid, job.total, job.started_at) == ("queued", None, None, None)

    store.start(job.id)
    store.set_total(job.id, 4)
    report = IngestReport(added=["a"], skipped=["b"], failed=[("/srv/stukken/c.pdf", "encrypted")], chunks=3)
    store.progress(job.id, report, "/srv/stukken/d.pdf", report.failed)
    running = store.get(job.id)
    assert (running.state, running.pid, running.current, running.processed) == (
        "running",
        os.getpid(),
        "/srv/stukken/d.pdf",
        3,
    )
    assert running.as_dict()["eta_seconds"] is not None
    store.finish(job.id, report)
    done = store.get(job.id).as_dict()
    assert {k: done[k] for k in ("state", "done", "failed", "skipped", "chunks", "current", "eta_seconds")} == {
        "state": "done", "done": 1, "failed": 1, "skipped": 1, "chunks": 3, "current": "", "eta_seconds": None,
    }  # fmt: skip
    assert store.errors(job.id) == [("/srv/stukken/c.pdf", "encrypted")]

    ended = subprocess.Popen(["true"])
    ended.wait()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        orphan, ours, elsewhere = (store.create("reindex", {}) for _ in range(3))
        for record, pid in ((orphan, ended.pid), (elsewhere, alive.pid)):
            store.start(record.id)
            with store._db() as db:
                db.execute("UPDATE jobs SET pid = ? WHERE id = ?", (pid, record.id))
        store.start(ours.id)  # this process, but not among the runner's active jobs: a previous run
        assert sorted(store.recover()) == [orphan.id, ours.id]
    finally:
        alive.kill()
        alive.wait()
    assert store.get(orphan.id).state == "failed"
    assert store.get(orphan.id).error.startswith(
        f"interrupted: the process running it (pid {ended.pid}) stopped"
    )
    assert store.get(elsewhere.id).state == "running"
    assert store.mark_interrupted() == [elsewhere.id]  # what a writer holding the lock does


def test_ingest_skips_unchanged_replaces_changed_and_sync_removes_vanished(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", model="use-multilingual", ocr=False)
    folder, elsewhere = tmp_path / "stukken", tmp_path / "elders"
    folder.mkdir()
    elsewhere.mkdir()
    for day in ("11_oktober_2023", "9_augustus_2022", "7_januari_2025"):
        shutil.copy(meeting(day), folder)
    shutil.copy(meeting("7_juni_2022"), elsewhere)
    params = {"paths": [str(folder), str(elsewhere)], "municipality": "Wassenaar", "ocr": False}

    first = run_in_foreground(settings, "ingest", params)[0]
    again = run_in_foreground(settings, "ingest", params)[0]
    changed = folder / "besluitenlijst_bw_vergadering_9_augustus_2022.pdf"
    shutil.copy(meeting("18_april_2023"), changed)  # same file name, new content
    third = run_in_foreground(settings, "ingest", params)[0]

    counts = [(j.total, j.done, j.skipped, j.failed) for j in (first, again, third)]
    assert counts == [(4, 4, 0, 0), (4, 0, 4, 0), (4, 1, 3, 0)]
    index = open_live(settings.data_dir)
    assert index is not None
    assert "18 april 2023" in index.catalog.load_document(doc_id(changed.name)).title  # type: ignore[union-attr]
    index.close()

    # The CLI, from another folder with a relative path: the vanished file leaves every index,
    # the document from the other folder stays.
    vanished = folder / "besluitenlijst_bw_vergadering_11_oktober_2023.pdf"
    vanished.unlink()
    synced = cli(
        tmp_path, "ingest", "stukken", "--sync", "--municipality", "Wassenaar", "--json", cwd=tmp_path
    )
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["removed"] == [doc_id(vanished.name)]

    index = open_live(settings.data_dir)
    assert index is not None
    assert index.catalog.document_ids() == sorted(
        doc_id(p.name) for p in [*folder.iterdir(), *elsewhere.iterdir()]
    )
    assert index.store.count() == index.catalog.count_chunks() == len(index.lexical.chunk_ids)
    for mode in MODES:
        found = [r.document.id for r in search(index, "11 oktober 2023 " + QUERY, k=50, mode=mode)]
        assert found and doc_id(vanished.name) not in found, mode
    index.close()

    listing = cli(tmp_path, "jobs")
    assert listing.returncode == 0, listing.stderr
    rows = listing.stdout.splitlines()[1:]
    assert [row.split()[:3] for row in rows] == [[str(i), "ingest", "done"] for i in (4, 3, 2, 1)]


def test_cli_delete_takes_the_document_out_of_every_mode(tmp_path):
    folder = tmp_path / "stukken"
    folder.mkdir()
    for day in ("11_oktober_2023", "9_augustus_2022"):
        shutil.copy(meeting(day), folder)
    settings = Settings(data_dir=tmp_path / "data", model="use-multilingual", ocr=False)
    run_in_foreground(settings, "ingest", {"paths": [str(folder)], "municipality": "Wassenaar", "ocr": False})
    gone = doc_id("besluitenlijst_bw_vergadering_9_augustus_2022.pdf")

    deleted = cli(tmp_path, "delete", gone)
    missing = cli(tmp_path, "delete", gone, "onbekend-document")

    assert (deleted.returncode, deleted.stdout.strip()) == (0, "deleted 1 document(s)")
    assert missing.returncode == 3
    assert "not in the index: " in missing.stderr
    index = open_live(settings.data_dir)
    assert index is not None
    for mode in MODES:
        assert [r.document.id for r in search(index, QUERY + " 9 augustus 2022", k=10, mode=mode)] == [
            doc_id("besluitenlijst_bw_vergadering_11_oktober_2023.pdf")
        ], mode
    index.close()
