"""The real FastAPI app over its ASGI interface, on a real index of real regulations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http import create_app
from api.settings import Settings
from search.index import Index
from tests.conftest import shared_path


@pytest.fixture
def client(regulations: Index) -> Iterator[TestClient]:
    data_dir = regulations.folder.parent.parent
    settings = Settings(data_dir=data_dir, model="use-multilingual", max_upload_bytes=2_000_000)
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["documents"] == 16
    assert "/search" in client.get("/openapi.json").json()["paths"]


def test_search_with_filters(client: TestClient) -> None:
    r = client.get("/search", params={"q": "bijzondere bijstand uitvaartkosten", "k": 3})
    assert r.status_code == 200
    assert r.json()["results"][0]["id"] == "CVDR719087_3"
    r = client.get(
        "/search", params=[("q", "bijstand"), ("municipality", "Amsterdam"), ("municipality", "GM0384")]
    )
    assert {x["municipality"] for x in r.json()["results"]} == {"Amsterdam", "Diemen"}
    r = client.get("/search", params={"q": "bijstand", "type": "beleidsregel", "mode": "lexical"})
    assert r.json()["mode"] == "lexical" and {x["type"] for x in r.json()["results"]} == {"beleidsregel"}


@pytest.mark.parametrize(
    "params",
    [{"q": ""}, {"q": "x", "from": "vandaag"}, {"q": "x", "k": 0}, {"q": "x", "mode": "magic"},
     {"q": "x", "municipality": "Atlantis"}],
)  # fmt: skip
def test_bad_input_is_a_400_with_a_clear_message(client: TestClient, params: dict[str, object]) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["detail"] and body["melding"]


def test_documents_and_similar(client: TestClient) -> None:
    doc = client.get("/documents/CVDR680781_1").json()
    assert doc["municipality"] == "Someren" and doc["metadata"]["legal_basis"]
    assert doc["sections"][0]["label"] == "Aanhef"
    assert client.get("/documents/CVDR1_1").status_code == 404
    similar = client.get("/documents/CVDR719087_3/similar", params={"k": 3}).json()["results"]
    assert len(similar) == 3 and all(r["municipality"] != "Rotterdam" for r in similar)
    assert client.get("/documents/CVDR1_1/similar").status_code == 404
    listing = client.get("/documents", params={"limit": 5}).json()
    assert listing["total"] == 16 and len(listing["documents"]) == 5


def test_similar_upload(client: TestClient, tmp_path: Path) -> None:
    pdf = shared_path("pdf", "besluitenlijst_bw_vergadering_18_april_2023.pdf")
    with pdf.open("rb") as f:
        r = client.post("/similar", files={"file": (pdf.name, f, "application/pdf")}, data={"k": "3"})
    assert r.status_code == 200 and len(r.json()["results"]) == 3
    r = client.post("/similar", files={"file": ("note.txt", b"hallo", "text/plain")})
    assert r.status_code == 400
    r = client.post("/similar", files={"file": ("fake.pdf", b"<html>not a pdf</html>", "application/pdf")})
    assert r.status_code == 400 and "PDF" in r.json()["detail"]
    big = shared_path("pdf", "begroting_2026.pdf")  # 2.1 MB > the 2 MB limit of this app
    with big.open("rb") as f:
        r = client.post("/similar", files={"file": (big.name, f, "application/pdf")})
    assert r.status_code == 413


def test_empty_data_dir_answers_503(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "none"))) as c:
        assert c.get("/health").json()["status"] == "empty"
        r = c.get("/search", params={"q": "bijstand"})
        assert r.status_code == 503 and "geen documenten" in r.json()["melding"]


def test_post_documents_needs_the_admin_token_and_indexes_at_once(regulations: Index) -> None:
    data_dir = regulations.folder.parent.parent
    settings = Settings(data_dir=data_dir, model="use-multilingual", admin_token="geheim")
    pdf = shared_path("pdf", "besluitenlijst_bw_vergadering_9_juli_2024.pdf")
    form = {"municipality": "Wassenaar", "type": "besluitenlijst", "date": "2024-07-09"}
    with TestClient(create_app(settings)) as c:
        with pdf.open("rb") as f:
            assert (
                c.post("/documents", files={"file": (pdf.name, f, "application/pdf")}, data=form).status_code
                == 401
            )
        headers = {"Authorization": "Bearer geheim"}
        with pdf.open("rb") as f:
            r = c.post(
                "/documents", files={"file": (pdf.name, f, "application/pdf")}, data=form, headers=headers
            )
        assert r.status_code == 201, r.text
        doc_id = r.json()["id"]
        doc = c.get(f"/documents/{doc_id}").json()
        assert (doc["municipality"], doc["type"], doc["date"]) == (
            "Wassenaar",
            "besluitenlijst",
            "2024-07-09",
        )
        hits = c.get("/search", params={"q": "besluitenlijst", "municipality": "Wassenaar"}).json()["results"]
        assert [h["id"] for h in hits] == [doc_id]
        broken = b"%PDF-1.7\n" + b"garbage" * 100
        r = c.post(
            "/documents", files={"file": ("kapot.pdf", broken, "application/pdf")}, data=form, headers=headers
        )
        assert r.status_code == 422 and "kapot.pdf" in r.json()["detail"]
        assert c.get("/health").json()["documents"] == 17
