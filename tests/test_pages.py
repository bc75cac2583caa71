"""The server-rendered pages through the real app on a real index: Dutch, linkable, escaped, no traces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http import create_app
from api.settings import Settings
from tests.conftest import shared_path

QUESTION = "Hoe vraag ik een gehandicaptenparkeerplaats aan?"
TOKEN = "pagina-test-token"


@pytest.fixture(scope="module")
def client(regulations_data: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=regulations_data, model="use-multilingual", admin_token=TOKEN,
                        max_upload_bytes=2_000_000)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        yield c


def cards(html: str) -> list[str]:
    return html.split('<li class="card">')[1:]


def municipalities(html: str) -> list[str]:
    return re.findall(r'tag-gemeente"><span class="visually-hidden">Gemeente: </span>([^<]+)<', html)


def assert_no_trace(html: str) -> None:
    for english in ("Traceback", "unknown municipality", "no document with id", "Internal Server Error"):
        assert english not in html


def test_start_page_explains_what_to_do(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in r.text
    assert "Zo werkt het" in r.text and "16 documenten van 8 gemeenten" in r.text
    assert '<label class="label-large" for="q">Uw vraag</label>' in r.text
    assert '<option value="Rotterdam" label="6 documenten">' in r.text  # type-ahead over the index
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_search_page_shows_the_expected_document_first(client: TestClient) -> None:
    r = client.get("/", params={"q": QUESTION})
    assert r.status_code == 200
    first = cards(r.text)[0]
    assert "Beleidsregels verkeersveiligheid en parkeren" in first and municipalities(first) == ["Kampen"]
    assert re.search(r'href="/document/CVDR100394_2\?passage=\d+-\d+#passage"', first)
    assert "<mark>gehandicaptenparkeerplaats</mark>" in first
    assert "Hoofdstuk 5. Gehandicaptenparkeerplaatsen" in first  # the passage's place
    assert 'href="/vergelijkbaar?document=CVDR100394_2"' in first
    assert "11 oktober 2016" in first and "Beleidsregel" in first


def test_filters_live_in_the_url(client: TestClient) -> None:
    r = client.get("/", params={"q": "bijstand", "gemeente": "Amsterdam", "type": "verordening"})
    assert r.status_code == 200 and set(municipalities(r.text)) == {"Amsterdam"}
    assert 'value="Amsterdam"' in r.text and '<option value="verordening" selected>' in r.text
    assert 'href="/?q=bijstand&amp;type=verordening">Gemeente: Amsterdam' in r.text  # remove one filter
    r = client.get(
        "/", params={"q": "bijstand", "provincie": "Noord-Holland", "van": "2020", "tot": "2024-12"}
    )
    assert set(municipalities(r.text)) == {"Amsterdam"}
    assert "Periode vanaf: 2020" in r.text
    r = client.get("/", params={"q": "bijstand", "aantal": "3"})
    assert len(cards(r.text)) == 3 and 'href="/?q=bijstand&amp;aantal=13"' in r.text


def test_no_results_say_what_to_try(client: TestClient) -> None:
    r = client.get("/", params={"q": "rioolheffing", "gemeente": "Almere", "type": "beleidsregel"})
    assert r.status_code == 200 and not cards(r.text)
    assert "Geen documenten gevonden voor ‘rioolheffing’" in r.text
    assert 'href="/?q=rioolheffing">zoek zonder filters</a>' in r.text


def test_bad_filters_are_explained_in_dutch_next_to_the_field(client: TestClient) -> None:
    r = client.get("/", params={"q": "bijstand", "gemeente": "Atlantis", "van": "gisteren"})
    assert r.status_code == 400
    assert "De gemeente ‘Atlantis’ kennen we niet" in r.text and "‘gisteren’ is geen datum" in r.text
    assert 'aria-describedby="gemeente-uitleg gemeente-fout" aria-invalid="true"' in r.text
    assert '<a href="#gemeente">' in r.text and not cards(r.text)
    assert_no_trace(r.text)
    r = client.get("/", params={"q": "bijstand", "van": "2024", "tot": "2020"})
    assert r.status_code == 400 and "vóór de begindatum" in r.text
    r = client.get("/", params={"q": "bijstand", "provincie": "Atlantis"})
    assert r.status_code == 400 and "De provincie ‘Atlantis’ kennen we niet" in r.text


def test_user_input_is_escaped(client: TestClient) -> None:
    evil = '<script>alert("x")</script>'
    r = client.get("/", params={"q": evil, "gemeente": evil})
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in r.text
    r = client.get("/", params={"q": f"bijstand {evil}"})
    assert r.status_code == 200 and "<script>alert" not in r.text
    assert all(tag in ("<mark>", "</mark>") for card in cards(r.text)
               for tag in re.findall(r"</?mark[^>]*>", card))  # fmt: skip


def test_document_page_marks_the_passage_and_lists_similar_documents(client: TestClient) -> None:
    hit = client.get("/search", params={"q": "Bibob advies Landelijk Bureau", "k": 1}).json()["results"][0]
    passage = hit["passages"][0]
    r = client.get(f"/document/{hit['id']}", params={"passage": f"{passage['start']}-{passage['end']}"})
    assert r.status_code == 200 and hit["id"] == "CVDR680781_1"
    marked = re.search(r'<mark class="passage-mark" id="passage" tabindex="-1">(.*?)</mark>', r.text, re.S)
    assert marked and " ".join(marked[1].split())[:60] == " ".join(passage["text"].split())[:60]
    assert 'href="https://lokaleregelgeving.overheid.nl/CVDR680781/1"' in r.text
    assert "<dt>Gemeente</dt><dd>Someren" in r.text and "<dt>Provincie</dt><dd>Noord-Brabant</dd>" in r.text
    aside = r.text.split('class="document-aside"')[1]
    assert aside.count("<li>") >= 3 and "Someren ·" not in aside
    assert 'href="/naast-elkaar?links=CVDR680781_1&amp;rechts=' in aside
    assert client.get("/document/CVDR680781_1", params={"passage": "nonsense"}).status_code == 200


def test_missing_document_is_a_dutch_404(client: TestClient) -> None:
    r = client.get("/document/CVDR1_1")
    assert r.status_code == 404 and "Dit document staat niet in de index." in r.text
    assert_no_trace(r.text)


def test_similar_to_an_indexed_document_leaves_out_its_own_municipality(client: TestClient) -> None:
    r = client.get("/vergelijkbaar", params={"document": "CVDR719087_3"})
    assert r.status_code == 200 and "Documenten van Rotterdam zelf laten we weg" in r.text
    found = municipalities(r.text)
    assert found and "Rotterdam" not in found
    assert 'href="/naast-elkaar?links=CVDR719087_3&amp;rechts=' in r.text
    assert client.get("/vergelijkbaar", params={"document": "CVDR1_1"}).status_code == 404


def test_upload_a_real_pdf_for_similar_policy(client: TestClient) -> None:
    pdf = shared_path("pdf", "besluitenlijst_bw_vergadering_18_april_2023.pdf")
    with pdf.open("rb") as f:
        r = client.post("/vergelijkbaar", files={"bestand": (pdf.name, f, "application/pdf")},
                        data={"gemeente": "Rotterdam"})  # fmt: skip
    assert r.status_code == 200
    assert f"lijken op uw bestand <strong>{pdf.name}</strong>, zonder documenten van Rotterdam" in r.text
    assert cards(r.text) and "Rotterdam" not in municipalities(r.text)


@pytest.mark.parametrize(
    ("files", "gemeente", "status", "message"),
    [
        ({"bestand": ("kapot.pdf", b"<html>geen pdf</html>", "application/pdf")}, "", 400, "geen PDF"),
        ({"bestand": ("notitie.txt", b"hallo", "text/plain")}, "", 400, "geen PDF"),
        ({"bestand": ("leeg.pdf", b"", "application/pdf")}, "", 400, "Het bestand is leeg"),
        ({"bestand": ("a.pdf", b"%PDF-1.4", "application/pdf")}, "Atlantis", 400, "De gemeente ‘Atlantis’ kennen"),
        ({}, "", 400, "Kies eerst een PDF-bestand"),
    ],
)  # fmt: skip
def test_unusable_uploads_get_a_dutch_message(
    client: TestClient, files: dict[str, Any], gemeente: str, status: int, message: str
) -> None:
    r = client.post(
        "/vergelijkbaar", files=files or {"x": ("", b"", "text/plain")}, data={"gemeente": gemeente}
    )
    assert r.status_code == status and message in r.text
    assert_no_trace(r.text)


def test_too_large_upload(client: TestClient) -> None:
    big = shared_path("pdf", "begroting_2026.pdf")  # 2.1 MB > the 2 MB limit of this app
    with big.open("rb") as f:
        r = client.post("/vergelijkbaar", files={"bestand": (big.name, f, "application/pdf")})
    assert (
        r.status_code == 413 and "Het bestand is te groot: een bestand mag hoogstens 1,9 MB zijn." in r.text
    )


def test_side_by_side_aligns_articles(client: TestClient) -> None:
    r = client.get("/naast-elkaar", params={"links": "verordening_rioolheffing_almere_2025",
                                           "rechts": "verordening_rioolheffing_venlo_2025"})  # fmt: skip
    assert r.status_code == 200
    rows = r.text.split("<tr class=")[1:]
    assert len(rows) == 6
    vrijstellingen = next(row for row in rows if "Vrijstellingen" in row)
    assert vrijstellingen.count("Artikel 9") == 1 and vrijstellingen.count("Artikel 7") == 1
    assert '"row-gelijk"' in r.text and '<mark class="diff">' in r.text
    assert "<strong>1</strong> gelijk" in r.text
    assert 'href="/naast-elkaar?links=verordening_rioolheffing_venlo_2025&amp;rechts=verordening' in r.text


def test_side_by_side_suggests_and_reports_missing_documents(client: TestClient) -> None:
    r = client.get("/naast-elkaar", params={"links": "verordening_rioolheffing_almere_2025"})
    assert r.status_code == 200 and "Vergelijkbare documenten om naast elkaar te zetten" in r.text
    assert "rechts=verordening_rioolheffing_venlo_2025" in r.text
    r = client.get(
        "/naast-elkaar", params={"links": "verordening_rioolheffing_almere_2025", "rechts": "CVDR1_1"}
    )
    assert r.status_code == 404 and "Kies hieronder opnieuw het rechter document." in r.text
    assert client.get("/naast-elkaar").status_code == 200


def test_beheer_page_never_shows_the_token(client: TestClient, regulations_data: Path) -> None:
    r = client.get("/beheer")
    assert r.status_code == 200 and "Beheerderstoken" in r.text and TOKEN not in r.text
    assert "Voor beheer is JavaScript nodig" in r.text
    closed = TestClient(create_app(Settings(data_dir=regulations_data, model="use-multilingual")))
    assert "Beheer staat uit" in closed.get("/beheer").text


def test_every_asset_is_served_by_the_app(client: TestClient) -> None:
    html = client.get("/").text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {a.split("?")[0] for a in assets} == {"/static/style.css", "/static/favicon.svg", "/static/app.js"}
    for asset in assets:
        assert client.get(asset).status_code == 200
    for page in ("/", "/vergelijkbaar", "/naast-elkaar", "/beheer", "/document/CVDR680781_1"):
        text = client.get(page).text
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text)
    css = client.get("/static/style.css").text
    assert "url(" not in css and "@import" not in css


def test_empty_index_explains_that_documents_are_missing(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "leeg", model="use-multilingual"))) as c:
        for page in ("/", "/?q=bijstand", "/vergelijkbaar", "/naast-elkaar"):
            r = c.get(page)
            assert r.status_code == 200 and "Er zijn nog geen documenten geladen" in r.text
