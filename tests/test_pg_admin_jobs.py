"""Admin jobs on PostgreSQL are the same records for every API node (issue #12 point 3): a harvest job
started through node A is listed through node B, with live progress and its per-document errors, and
a job whose node was killed (kill -9 of a real `schutting serve`) is shown interrupted on the others
once its heartbeat lease has run out. Real apps, a real database, a local SRU stand-in."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.cli.main import main
from api.http import create_app
from api.settings import Settings
from tests.pg_support import start_node
from tests.test_harvest import ALL_THREE, QUERY, Handler, Service, serving

TOKEN = "pg-jobs-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LEASE_S = 2.0  # node A's heartbeat lease: a killed node's job is interrupted this long after its last beat


@dataclass
class HeldService(Service):
    """The SRU stand-in, holding the requests ``held`` selects until ``gate`` opens."""

    gate: threading.Event = field(default_factory=threading.Event)
    held: Callable[[str], bool] = lambda path: True


class HeldHandler(Handler):
    def do_GET(self) -> None:
        service: HeldService = self.server.service
        if service.held(self.path):
            service.gate.wait(timeout=120)
        super().do_GET()


@pytest.fixture
def service() -> Iterator[HeldService]:
    with serving(HeldHandler, lambda base: HeldService(base=base)) as service:
        yield service
        service.gate.set()  # let held requests end before the server does


def harvest_body(service: Service) -> dict[str, Any]:
    """The three recorded regulations, in pages of two (startRecord 1 and 3)."""
    return {"municipalities": list(QUERY.municipalities), "endpoint": service.endpoint, "rate": 1000,
            "page_size": 2, "all_versions": True}  # fmt: skip


def node(data_dir: Path, url: str) -> TestClient:
    """An API node in this process: the real app with a data dir of its own and the one database."""
    settings = Settings(
        data_dir=data_dir, database_url=url, model="use-multilingual", admin_token=TOKEN, ocr=False
    )
    return TestClient(create_app(settings))


def job_on(client: TestClient, job_id: int) -> dict[str, Any]:
    answer = client.get(f"/admin/jobs/{job_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


def wait_until(
    client: TestClient, job_id: int, ready: Callable[[dict[str, Any]], bool], timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = job_on(client, job_id)
        if ready(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}")


def cli_job(data_dir: Path, url: str, job_id: int, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`schutting jobs ID --json` from a data dir that never saw the job (a third host)."""
    assert main(["--data-dir", str(data_dir), "--database-url", url, "jobs", str(job_id), "--json"]) == 0
    shown: dict[str, Any] = json.loads(capsys.readouterr().out)
    return shown


def test_job_started_through_one_node_is_followed_live_through_another(
    fresh_database: str, service: HeldService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service.missing = {"CVDR112779_1.xml"}  # the first record fails (HTTP 404), the second is added
    service.held = lambda path: "startRecord=3" in path  # the second page waits: the job stays mid-way
    node_a, node_b = node(tmp_path / "a", fresh_database), node(tmp_path / "b", fresh_database)

    answer = node_a.post("/admin/harvest", json=harvest_body(service), headers=AUTH)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    live = wait_until(node_b, job_id, lambda job: job["processed"] == 2)
    assert (live["kind"], live["state"], live["total"], live["added"], live["failed"]) == (
        "harvest",
        "running",
        3,
        1,
        1,
    )
    assert live["pid"] == os.getpid() and live["rate"] is not None
    [error] = live["errors"]
    assert error["source"] == "CVDR112779_1" and "HTTP 404" in error["reason"] and error["melding"]
    listed = node_b.get("/admin/jobs", headers=AUTH).json()["jobs"]
    assert [(job["id"], job["state"]) for job in listed] == [(job_id, "running")]
    assert cli_job(tmp_path / "c", fresh_database, job_id, capsys)["errors"] == [
        {"source": "CVDR112779_1", "reason": error["reason"]}
    ]
    busy = node_a.post("/admin/reindex", json={}, headers=AUTH)  # node A's one writer is still the job
    assert (busy.status_code, f"harvest job {job_id}" in busy.json()["detail"]) == (409, True)

    service.gate.set()
    done = wait_until(node_b, job_id, lambda job: job["state"] in ("done", "failed"))
    counts = {name: done[name] for name in ("state", "error", "added", "failed", "processed", "current")}
    assert counts == {"state": "done", "error": "", "added": 2, "failed": 1, "processed": 3, "current": ""}
    assert [e["source"] for e in done["errors"]] == ["CVDR112779_1"]
    assert (done["result"]["added"], done["result"]["complete"]) == (ALL_THREE[1:], True)
    assert job_on(node_a, job_id) == done  # one record, whichever node is asked
    assert not any((tmp_path / name / "jobs.sqlite").exists() for name in ("a", "b", "c"))


def start_server(data_dir: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    """`schutting serve` in a process of its own, renewing its jobs' heartbeats with a short lease."""
    assert not data_dir.exists()
    return start_node(data_dir, {"SCHUTTING_DATABASE_URL": url, "SCHUTTING_MODEL": "use-multilingual",
                                 "SCHUTTING_ADMIN_TOKEN": TOKEN, "SCHUTTING_OCR": "false",
                                 "SCHUTTING_JOB_LEASE_S": str(LEASE_S)})  # fmt: skip


def test_job_of_a_killed_node_is_interrupted_after_its_lease_and_rerun_elsewhere(
    fresh_database: str, service: HeldService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc, node_a = start_server(tmp_path / "a", fresh_database)
    try:
        answer = httpx.post(f"{node_a}/admin/harvest", json=harvest_body(service), headers=AUTH, timeout=60)
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        node_b = node(tmp_path / "b", fresh_database)
        running = wait_until(
            node_b, job_id, lambda job: job["state"] == "running"
        )  # held at its first request
        time.sleep(3 * LEASE_S)  # no progress for longer than the lease: the node's timer keeps it alive
        assert job_on(node_b, job_id)["state"] == "running"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert running["pid"] == proc.pid

    killed_at = time.monotonic()
    failed = wait_until(node_b, job_id, lambda job: job["state"] != "running", timeout=30)
    assert time.monotonic() - killed_at < LEASE_S + 10
    assert failed["state"] == "failed" and failed["current"] == "" and failed["finished_at"]
    assert failed["error"] == (
        f"interrupted: the process running it (pid {proc.pid} on {socket.gethostname()}) stopped; run it again"
    )
    assert cli_job(tmp_path / "c", fresh_database, job_id, capsys)["state"] == "failed"

    service.gate.set()
    rerun = node_b.post(f"/admin/jobs/{job_id}/rerun", headers=AUTH)  # any node may run it again
    assert rerun.status_code == 202, rerun.text
    again = wait_until(node_b, rerun.json()["id"], lambda job: job["state"] in ("done", "failed"))
    assert (again["state"], again["rerun_of"], again["processed"], again["failed"]) == ("done", job_id, 3, 0)
    assert again["pid"] == os.getpid()
    assert job_on(node_b, job_id)["state"] == "failed"  # the interrupted record stays as it was
