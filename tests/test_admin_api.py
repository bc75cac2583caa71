"""Admin endpoints through the real app: token checks, limits (413), jobs, 409, deleting documents."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfWriter

from api.http import create_app
from api.jobs import JobStore
from api.settings import Settings
from search.generations import open_live
from search.retrieval import MODES, search
from tests.admin_support import AUTH, CORPUS, TOKEN, build_besluiten_index, wait_for_job

MEETINGS = ("11_oktober_2023", "9_augustus_2022", "7_januari_2025")
EXTRA = "besluitenlijst_bw_vergadering_7_juni_2022.pdf"
MAX_BYTES = 400_000
MAX_PAGES = 5

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared PDF corpus not present")


def settings_for(data_dir: Path, token: str = TOKEN) -> Settings:
    return Settings(
        data_dir=data_dir, model="use-multilingual", admin_token=token, ocr=False,
        max_upload_bytes=MAX_BYTES, max_pages=MAX_PAGES,
        ingest_roots=os.pathsep.join([str(data_dir.parent), str(CORPUS)]),
    )  # fmt: skip


def doc_id(day: str) -> str:
    return f"GM0629-besluitenlijst-bw-vergadering-{day.replace('_', '-')}"


@pytest.fixture(scope="module")
def base_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("admin")
    return build_besluiten_index(root, MEETINGS, settings_for(root / "data"))


@pytest.fixture
def data_dir(base_index: Path, tmp_path: Path) -> Path:
    shutil.copytree(base_index, tmp_path / "data", ignore=shutil.ignore_patterns("jobs.sqlite*"))
    return tmp_path / "data"


def jobs_recorded(data_dir: Path) -> int:
    client = TestClient(create_app(settings_for(data_dir)))
    return len(client.get("/admin/jobs", headers=AUTH).json()["jobs"])


def test_without_the_right_token_nothing_happens(data_dir, tmp_path):
    folder = tmp_path / "nieuw"
    folder.mkdir()
    shutil.copy(CORPUS / EXTRA, folder)
    client = TestClient(create_app(settings_for(data_dir)))
    before = jobs_recorded(data_dir)
    attempts = [
        ("post", "/admin/ingest", {"json": {"path": str(folder)}}),
        ("post", "/admin/reindex", {}),
        ("delete", f"/admin/documents/{doc_id(MEETINGS[0])}", {}),
        ("get", "/admin/jobs", {}),
    ]
    for method, url, extra in attempts:
        for headers, status, melding in [
            ({}, 401, "U bent niet aangemeld als beheerder."),
            ({"Authorization": f"Basic {TOKEN}"}, 401, "U bent niet aangemeld als beheerder."),
            ({"Authorization": "Bearer niet-het-token"}, 403, "Het beheerderstoken klopt niet."),
        ]:
            answer = getattr(client, method)(url, headers=headers, **extra)
            assert (answer.status_code, answer.json()["melding"]) == (status, melding), (method, url, headers)
            assert answer.headers.get("www-authenticate") == ("Bearer" if status == 401 else None)
    assert client.get("/admin/jobs", headers={"Authorization": "Bearer"}).status_code == 401

    assert jobs_recorded(data_dir) == before
    index = open_live(data_dir)
    assert index is not None
    assert index.catalog.document_ids() == sorted(doc_id(d) for d in MEETINGS)
    index.close()
    assert client.get("/search", params={"q": "besluitenlijst"}).status_code == 200  # search stays open


def test_admin_is_closed_without_a_configured_token(data_dir):
    before = JobStore.for_settings(settings_for(data_dir)).recent()
    client = TestClient(create_app(settings_for(data_dir, token="")))
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer iets"}):
        answer = client.post("/admin/reindex", headers=headers)
        assert answer.status_code == 403
        assert answer.json()["error"] == "AdminClosed"
    assert JobStore.for_settings(settings_for(data_dir)).recent() == before


def test_uploads_over_the_size_or_page_limit_get_413_before_parsing(data_dir):
    client = TestClient(create_app(settings_for(data_dir)))
    big = (CORPUS / "Jaarstukken_2021.pdf").read_bytes()  # 0.9 MB, over MAX_BYTES
    writer = PdfWriter()
    for _ in range(MAX_PAGES + 1):
        writer.add_blank_page(595, 842)
    many_pages = io.BytesIO()
    writer.write(many_pages)

    for name, data, phrase, melding in [
        ("groot.pdf", big, f"exceeds the limit of {MAX_BYTES:,} bytes", "Het bestand is te groot"),
        (
            "dik.pdf",
            many_pages.getvalue(),
            f"{MAX_PAGES + 1} pages, over the limit of {MAX_PAGES}",
            "pagina's",
        ),
    ]:
        files = [("files", ("goed.pdf", (CORPUS / EXTRA).read_bytes())), ("files", (name, data))]
        answer = client.post("/admin/ingest", headers=AUTH, files=files)
        assert answer.status_code == 413, answer.text
        assert phrase in answer.json()["detail"]
        assert melding in answer.json()["melding"]  # the Dutch text names the limit too

    assert client.get("/admin/jobs", headers=AUTH).json()["jobs"] == []
    assert list((data_dir / "uploads").iterdir()) == []  # nothing kept


def test_upload_runs_as_a_job_with_progress_and_errors(data_dir):
    client = TestClient(create_app(settings_for(data_dir)))
    files = [
        ("files", (EXTRA, (CORPUS / EXTRA).read_bytes(), "application/pdf")),
        ("files", ("foutmelding.pdf", b"<html><body>Server Error</body></html>", "application/pdf")),
    ]
    answer = client.post("/admin/ingest", headers=AUTH, files=files, data={"municipality": "Wassenaar"})

    assert answer.status_code == 202
    assert set(answer.json()) >= {"id", "state", "kind"}
    job = wait_for_job(client, answer.json()["id"])
    assert (job["state"], job["kind"], job["total"], job["done"], job["failed"]) == (
        "done",
        "ingest",
        2,
        1,
        1,
    )
    assert job["started_at"] and job["finished_at"] and job["rate"] > 0
    [error] = job["errors"]
    assert error["source"].endswith("foutmelding.pdf")
    assert error["reason"].startswith("not a PDF: the file is an HTML page")
    listed = client.get("/admin/jobs", headers=AUTH).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert client.get("/admin/jobs/999", headers=AUTH).status_code == 404

    rerun = client.post(f"/admin/jobs/{job['id']}/rerun", headers=AUTH)
    again = wait_for_job(client, rerun.json()["id"])
    assert (again["state"], again["done"], again["skipped"], again["rerun_of"]) == ("done", 0, 1, job["id"])


def test_one_writer_at_a_time_second_reindex_gets_409(data_dir):
    client = TestClient(create_app(settings_for(data_dir)))
    first = client.post("/admin/reindex", headers=AUTH)
    assert first.status_code == 202

    for method, url, extra in [
        ("post", "/admin/reindex", {}),
        ("post", "/admin/ingest", {"json": {"path": str(CORPUS / EXTRA)}}),
        ("delete", f"/admin/documents/{doc_id(MEETINGS[0])}", {}),
    ]:
        answer = getattr(client, method)(url, headers=AUTH, **extra)
        assert answer.status_code == 409, (url, answer.text)
        assert answer.json()["error"] == "Busy"
        assert f"reindex job {first.json()['id']}" in answer.json()["detail"]

    assert wait_for_job(client, first.json()["id"])["state"] == "done"
    assert client.post("/admin/reindex", headers=AUTH, json={"model": "geen-model"}).status_code == 400
    again = client.post("/admin/reindex", headers=AUTH, json={"model": "use-multilingual"})
    assert again.status_code == 202
    assert wait_for_job(client, again.json()["id"])["state"] == "done"


def test_deleted_document_is_gone_from_every_search_mode(data_dir):
    client = TestClient(create_app(settings_for(data_dir)))
    gone = doc_id(MEETINGS[0])
    query = "Besluitenlijst Openbaar B&W-vergadering Wassenaar 11 oktober 2023"
    assert client.get("/search", params={"q": query, "mode": "lexical"}).json()["results"][0]["id"] == gone

    answer = client.delete(f"/admin/documents/{gone}", headers=AUTH)

    assert (answer.status_code, answer.json()) == (200, {"deleted": gone})
    index = open_live(data_dir)
    assert index is not None
    assert index.catalog.document(gone) is None
    assert index.catalog.count_documents() == len(MEETINGS) - 1
    assert index.store.count() == index.catalog.count_chunks()
    assert len(index.lexical.chunk_ids) == index.catalog.count_chunks()
    for mode in MODES:
        found = [r.document.id for r in search(index, query, k=50, mode=mode)]
        assert gone not in found and found, mode
        served = [
            r["id"]
            for r in client.get("/search", params={"q": query, "mode": mode, "k": 50}).json()["results"]
        ]
        assert gone not in served and served, mode
    index.close()
    assert client.delete(f"/admin/documents/{gone}", headers=AUTH).status_code == 404
