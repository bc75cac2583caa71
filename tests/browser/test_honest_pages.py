"""Honest answers in the browser (#14): weak results said out loud, coverage, provenance, the new
filters and naast elkaar by title, in headless Chromium against a real server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

pytest.importorskip("playwright.sync_api", reason="pip install playwright")
from playwright.sync_api import Page, expect

Shoot = Callable[[Page, str], None]
pytestmark = pytest.mark.browser

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
ALMERE = "verordening_rioolheffing_almere_2025"
VENLO = "verordening_rioolheffing_venlo_2025"
UPLOAD = "besluitenlijst_bw_vergadering_10_januari_2023.pdf"
UPLOADED_ID = "GM0629-besluitenlijst-bw-vergadering-10-januari-2023"


def test_nonsense_gets_geen_goede_treffers_with_the_nearest_below(page: Page, shoot: Shoot) -> None:
    page.goto("/?q=xqzv+blorp+flumm", timeout=60_000)  # the first question loads the model
    notice = page.get_by_role("status").filter(has_text="Geen goede treffers voor uw vraag")
    expect(notice).to_be_visible()
    expect(page.locator(".card").first.locator(".tag-weak")).to_have_text("Zwakke treffer")
    expect(page.locator(".card .tag-strong")).to_have_count(0)
    expect(page.locator(".searched")).to_contain_text(
        re.compile(r"Gezocht in \d+ documenten van \d+ gemeenten")
    )
    shoot(page, "zoeken-geen-goede-treffers")
    page.goto("/?q=Hoe+vraag+ik+een+gehandicaptenparkeerplaats+aan%3F")
    expect(page.locator(".card").first.locator(".tag-strong")).to_have_text("Goede treffer")
    expect(page.get_by_text("Geen goede treffers")).to_have_count(0)


def test_coverage_page_lists_all_gemeenten(page: Page, shoot: Shoot) -> None:
    page.goto("/")
    page.get_by_role("link", name="Dekking").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Wat staat er in de zoekindex?")
    expect(page.locator(".coverage-table tbody tr")).to_have_count(342)
    kampen = page.locator(".coverage-table tbody tr").filter(has=page.get_by_role("rowheader", name="Kampen"))
    expect(kampen).to_contain_text("Overijssel")
    page.get_by_label("Provincie").select_option("Overijssel")
    page.get_by_label("Alleen gemeenten met documenten").check()
    page.get_by_role("button", name="Tonen").click()
    page.wait_for_url(re.compile("provincie=Overijssel"))
    expect(page.locator(".coverage-table tbody tr")).to_have_count(1)
    shoot(page, "dekking")
    page.goto("/?q=parkeren&gemeente=Zwolle")
    expect(page.locator(".nothing-held")).to_contain_text("geen enkel document van gemeente Zwolle")
    shoot(page, "zoeken-niets-van-gemeente")


def test_uploaded_original_downloads_at_the_cited_page(
    page: Page, shoot: Shoot, server: str, admin_token: str
) -> None:
    pdf = CORPUS / "pdf" / UPLOAD
    if not pdf.exists():
        pytest.skip(f"{pdf} not available")
    auth = {"Authorization": f"Bearer {admin_token}"}
    answer = httpx.post(f"{server}/admin/ingest", headers=auth, timeout=60,
                        files={"files": (pdf.name, pdf.read_bytes(), "application/pdf")},
                        data={"municipality": "Wassenaar", "date": "10 januari 2023"})  # fmt: skip
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 120
    while httpx.get(f"{server}/admin/jobs/{answer.json()['id']}", headers=auth).json()["state"] not in (
        "done",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    page.goto(f"/document/{UPLOADED_ID}?passage=0-60#passage")
    expect(page.locator(".metadata")).to_contain_text("10 januari 2023")
    link = page.get_by_role("link", name="Open het originele bestand op pagina 1")
    expect(link).to_have_attribute("href", f"/origineel/{UPLOADED_ID}#page=1")
    shoot(page, "document-origineel")
    original = page.request.get(f"/origineel/{UPLOADED_ID}")
    assert original.ok and original.headers["content-type"] == "application/pdf"
    assert original.body() == pdf.read_bytes()


def test_filters_without_a_question_valid_on_and_sorting(page: Page, shoot: Shoot) -> None:
    page.goto("/")
    filters = page.locator("details.filters")
    if filters.get_attribute("open") is None:
        filters.locator("summary").click()
    page.get_by_label("Soort document").select_option("verordening")
    page.get_by_label("Geldend op").fill("2024-01-01")
    page.get_by_role("button", name="Filters toepassen").click()
    page.wait_for_url(re.compile("geldend=2024-01-01"))
    expect(page.locator(".results-title")).to_contain_text(
        re.compile(r"\d+ documenten die bij de filters passen")
    )
    expect(page.get_by_role("link", name=re.compile("Geldend op: 2024-01-01"))).to_be_visible()
    shoot(page, "zoeken-bladeren")
    page.goto("/?q=rioolheffing")
    page.locator(".sort-form").get_by_label("Volgorde").select_option("datum")
    page.locator(".sort-form").get_by_role("button", name="Sorteren").click()
    page.wait_for_url(re.compile("sorteer=datum"))
    expect(page.locator(".results .hint").first).to_contain_text("gesorteerd op datum")
    page.goto("/?q=bijstand&grondslag=Participatiewet")
    expect(page.get_by_role("alert")).to_contain_text("geen wettelijke grondslag")
    shoot(page, "zoeken-filters-fout")


def test_naast_elkaar_by_title_and_municipality(page: Page, shoot: Shoot) -> None:
    page.goto("/naast-elkaar")
    page.get_by_label("Linker document").fill("rioolheffing Almere")
    page.get_by_label("Rechter document").fill("rioolheffing Venlo")
    page.get_by_role("button", name="Naast elkaar zetten").click()
    expect(page.locator("table.side-by-side thead th")).to_contain_text(["Almere", "Venlo"])
    expect(page.get_by_label("Linker document")).to_have_value(re.compile("— Almere$"))
    shoot(page, "naast-elkaar-op-titel")
    page.goto(f"/document/{ALMERE}")
    button = page.get_by_role("link", name=re.compile("^Naast elkaar vergelijken"))
    expect(button).to_have_attribute("href", f"/naast-elkaar?links={ALMERE}&rechts={VENLO}")


def test_similar_documents_come_first_on_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/document/{ALMERE}")
    aside = page.locator(".document-aside").bounding_box()
    text = page.locator(".document-text").bounding_box()
    assert aside is not None and text is not None and aside["y"] < text["y"] < 3000
