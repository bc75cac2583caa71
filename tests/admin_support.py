"""Helpers shared by the admin, reindex and bad-document tests: a real index of real besluitenlijsten,
and waiting for a job through the real HTTP API."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.jobs import run_in_foreground
from api.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "pdf"
TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def build_besluiten_index(root: Path, meetings: tuple[str, ...], settings: Settings) -> Path:
    """Ingest the named Wassenaar besluitenlijsten through a real ingest job; returns the data dir."""
    folder = root / "stukken"
    folder.mkdir()
    for day in meetings:
        shutil.copy(CORPUS / f"besluitenlijst_bw_vergadering_{day}.pdf", folder)
    params = {"paths": [str(folder)], "municipality": "Wassenaar", "ocr": False}
    _, report = run_in_foreground(settings, "ingest", params)
    assert (len(report.added), report.failed) == (len(meetings), [])
    return settings.data_dir


def wait_for_job(client: TestClient, job_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")
