"""CVDR harvest as an admin job: POST /admin/harvest through the real app, and `schutting harvest cvdr`
as a job holding the write lock; against the local SRU stand-in of tests/test_harvest.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cli.main import main
from api.http import create_app
from api.jobs import JobProgress, JobStore
from api.jobs.kinds import HarvestProgress
from api.settings import Settings
from ingest.harvest_report import HarvestReport
from search.locking import WriterLock
from tests.test_harvest import ALL_THREE, QUERY, Handler, Service, serving
from tests.test_harvest_national import NATION

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class GatedService(Service):
    """The stand-in, answering only while its gate is open: closed, a harvest job stays running."""

    gate: threading.Event = field(default_factory=threading.Event)


class GatedHandler(Handler):
    def do_GET(self) -> None:
        self.server.service.gate.wait(timeout=60)
        super().do_GET()


@pytest.fixture
def service() -> Iterator[GatedService]:
    with serving(GatedHandler, lambda base: GatedService(base=base)) as service:
        service.gate.set()
        yield service
        service.gate.set()  # a test that closed it: let held requests end before the server does


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", model="use-multilingual", admin_token=TOKEN, ocr=False)


def body(service: Service, **extra: Any) -> dict[str, Any]:
    """A harvest of the three recorded municipalities, fast (the stand-in answers pages of 2)."""
    return {
        "municipalities": list(QUERY.municipalities),
        "endpoint": service.endpoint,
        "rate": 1000,
        "page_size": 2,
        "all_versions": True,
        **extra,
    }


def wait_for_job(client: TestClient, job_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def found(client: TestClient, **params: str) -> list[str]:
    answer = client.get("/search", params={"q": "Bibob integriteit", "k": "10", **params})
    assert answer.status_code == 200, answer.text
    return [result["id"] for result in answer.json()["results"]]


def test_harvest_job_indexes_for_search_with_counts_and_failures(
    service: GatedService, settings: Settings
) -> None:
    client = TestClient(create_app(settings))
    assert client.post("/admin/harvest", json=body(service)).status_code == 401
    wrong_token = {"Authorization": "Bearer nee"}
    assert client.post("/admin/harvest", json=body(service), headers=wrong_token).status_code == 403
    wrong_bodies: list[tuple[dict[str, Any], str]] = [
        ({"municipalities": ["Atlantis"]}, "unknown municipality"),
        ({"since": "2024"}, "since must be a date"),
        ({"type": "nota"}, "type must be one of"),
        ({"page_size": 0}, "page_size"),
        ({"endpoint": "ftp://example.org"}, "http(s) URL"),
        ({"unknown": 1}, "unknown"),
    ]
    for wrong, phrase in wrong_bodies:
        answer = client.post("/admin/harvest", json=body(service, **wrong), headers=AUTH)
        assert (answer.status_code, phrase in answer.json()["detail"]) == (400, True), answer.text
    assert client.get("/admin/jobs", headers=AUTH).json()["jobs"] == []
    assert service.searches == []

    service.missing = {"CVDR112779_1.xml"}
    service.gate.clear()
    answer = client.post("/admin/harvest", json=body(service), headers=AUTH)
    assert answer.status_code == 202
    job_id = answer.json()["id"]
    assert answer.json() == {
        "id": job_id,
        "kind": "harvest",
        "state": "queued",
        "url": f"/admin/jobs/{job_id}",
    }
    for url in ("/admin/harvest", "/admin/reindex"):
        busy = client.post(url, json=body(service) if url.endswith("harvest") else {}, headers=AUTH)
        assert (busy.status_code, busy.json()["error"]) == (409, "Busy")
        assert f"harvest job {job_id}" in busy.json()["detail"]
    service.gate.set()

    job = wait_for_job(client, job_id)
    assert (job["state"], job["kind"], job["error"], job["total"]) == ("done", "harvest", "", 3)
    counts = {name: job[name] for name in ("added", "updated", "skipped", "failed", "done", "processed")}
    assert counts == {"added": 2, "updated": 0, "skipped": 0, "failed": 1, "done": 2, "processed": 3}
    [error] = job["errors"]
    assert error["source"] == "CVDR112779_1" and "HTTP 404" in error["reason"]
    result = job["result"]
    assert (result["added"], result["complete"], result["cursor"]) == (ALL_THREE[1:], True, "2011-09-15")
    assert job["params"]["municipalities"] == list(QUERY.municipalities)

    assert found(client, legal_basis="BWBR0013798") == ["CVDR680781_1"]  # Wet Bibob
    assert found(client, legal_basis="BWBR0024779:2.1") == ["CVDR680781_1"]
    assert found(client, legal_basis="BWBR0004825") == ["CVDR100394_2"]  # RVV 1990
    assert found(client, legal_basis="BWBR0015703") == []
    assert set(found(client)) == set(ALL_THREE[1:])


def test_harvest_job_that_stops_early_fails_and_its_rerun_resumes(
    service: GatedService, settings: Settings
) -> None:
    client = TestClient(create_app(settings))
    service.unavailable = 1
    first = client.post("/admin/harvest", json=body(service, retries=0), headers=AUTH).json()
    job = wait_for_job(client, first["id"])
    assert job["state"] == "failed"
    assert job["error"].startswith("harvest incomplete: ") and "HTTP 503" in job["error"]
    assert (job["result"]["complete"], job["result"]["added"]) == (False, [])

    rerun = client.post(f"/admin/jobs/{first['id']}/rerun", headers=AUTH)
    assert rerun.status_code == 202
    again = wait_for_job(client, rerun.json()["id"])
    assert (again["state"], again["kind"], again["rerun_of"], again["added"]) == (
        "done",
        "harvest",
        first["id"],
        3,
    )
    assert again["result"]["added"] == ALL_THREE


def test_cli_harvest_is_a_job_that_holds_the_write_lock(
    service: GatedService,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCHUTTING_MODEL", "use-multilingual")
    towns = [arg for town in QUERY.municipalities for arg in ("--municipality", town)]
    command = ["--data-dir", str(settings.data_dir), "harvest", "cvdr", *towns, "--endpoint", service.endpoint,
               "--rate", "1000", "--page-size", "2", "--all-versions", "--json"]  # fmt: skip
    with WriterLock(settings.data_dir, "reindex job 41"):
        assert main(command) == 5  # Busy
        assert "reindex job 41" in json.loads(capsys.readouterr().out)["error"]
    assert service.searches == []

    assert main(command) == 0
    assert json.loads(capsys.readouterr().out)["added"] == ALL_THREE
    [job] = JobStore.for_settings(settings).recent()
    assert (job.kind, job.state, job.total, job.added, job.failed) == ("harvest", "done", 3, 3, 0)
    assert job.result["cursor"] == "2019-08-30"


def test_national_harvest_job_reports_per_municipality(service: GatedService, settings: Settings) -> None:
    service.pages, service.national = dict(NATION), True
    client = TestClient(create_app(settings))
    national = {"endpoint": service.endpoint, "rate": 1000, "page_size": 2}  # no filter: every municipality
    answer = client.post("/admin/harvest", json=national, headers=AUTH)
    assert answer.status_code == 202, answer.text
    job = wait_for_job(client, answer.json()["id"])
    assert (job["state"], job["added"], job["skipped"], job["params"]["all_versions"]) == (
        "done",
        2,
        1,
        False,
    )
    result = job["result"]
    assert (result["national"], result["municipalities_done"], result["municipalities_total"]) == (
        "first pass",
        480,
        480,
    )
    assert result["municipalities"]["Kampen"] == {"code": "GM0166", "added": 1, "updated": 0, "unchanged": 0,
                                                  "not_in_force": 0, "failed": 0, "done": True}  # fmt: skip
    assert result["municipalities"]["Spijkenisse"]["not_in_force"] == 1
    assert set(found(client)) == {"CVDR100394_2", "CVDR680781_1"}  # not the version that ended


def test_harvest_progress_is_in_the_job_result_while_it_runs(settings: Settings) -> None:
    store = JobStore.for_settings(settings)
    job = store.create("harvest", {})
    progress = HarvestProgress(JobProgress(store, job.id))
    report = HarvestReport(national="first pass", municipalities_total=480, municipalities_done=1, total=1)
    report.added.append("CVDR680781_1")
    report.municipality("Someren", "GM0847").update(added=1, done=True)
    progress(report, "CVDR680781_1")
    live = store.get(job.id)
    assert (live.added, live.result["municipalities_done"]) == (1, 1)
    assert live.result["municipalities"]["Someren"]["added"] == 1
