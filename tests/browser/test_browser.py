"""The pages in headless Chromium against a real server: what a civil servant and a beheerder do."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="pip install playwright")
from playwright.sync_api import Browser, Page, expect

Shoot = Callable[[Page, str], None]
pytestmark = pytest.mark.browser

QUESTION = "Hoe vraag ik een gehandicaptenparkeerplaats aan?"
KAMPEN = "Beleidsregels verkeersveiligheid en parkeren"
ALMERE = "verordening_rioolheffing_almere_2025"
VENLO = "verordening_rioolheffing_venlo_2025"
UPLOAD = "besluitenlijst_bw_vergadering_10_januari_2023.pdf"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def search(page: Page, question: str) -> None:
    page.goto("/")
    page.get_by_label("Uw vraag").fill(question)
    page.get_by_label("Uw vraag").press("Enter")
    page.wait_for_url(re.compile(r"\?q="))


def test_search_question_shows_expected_document_first(page: Page, shoot: Shoot) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Zo werkt het")).to_be_visible()
    shoot(page, "zoeken-start")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Direct naar de inhoud")).to_be_focused()
    search(page, QUESTION)
    cards = page.locator(".card")
    expect(cards.first.get_by_role("heading")).to_have_text(KAMPEN)
    expect(cards.first.locator(".tag-gemeente")).to_contain_text("Kampen")
    expect(cards.first.locator("mark").first).to_be_visible()
    expect(cards.first.get_by_role("link", name=re.compile("^Vergelijkbaar beleid"))).to_be_visible()
    assert "q=Hoe+vraag+ik" in page.url
    shoot(page, "zoeken")


def test_municipality_filter_lives_in_the_url(page: Page, shoot: Shoot) -> None:
    search(page, "rioolheffing per perceel")
    filters = page.locator("details.filters")
    if filters.get_attribute("open") is None:
        filters.locator("summary").click()
    page.get_by_label("Gemeente", exact=True).fill("Almere")
    page.get_by_role("button", name="Filters toepassen").click()
    page.wait_for_url(re.compile("gemeente=Almere"))
    expect(page.locator(".card .tag-gemeente")).to_have_text(["Gemeente: Almere"])
    expect(page.get_by_role("link", name=re.compile("Gemeente: Almere"))).to_be_visible()
    page.goto(page.url)  # the link alone gives the same answer
    expect(page.locator(".card .tag-gemeente")).to_have_count(1)
    page.goto("/?q=rioolheffing&gemeente=Atlantis")
    expect(page.get_by_role("alert")).to_contain_text("De gemeente ‘Atlantis’ kennen we niet")
    page.goto("/?q=rioolheffing&gemeente=Almere&type=beleidsregel")
    expect(page.get_by_role("heading", name=re.compile("Geen documenten gevonden"))).to_be_visible()
    shoot(page, "zoeken-geen-resultaten")


def test_open_document_scrolls_to_the_passage(page: Page, shoot: Shoot) -> None:
    search(page, QUESTION)
    page.locator(".card").first.get_by_role("link", name=KAMPEN, exact=True).click()
    page.wait_for_url(re.compile(r"/document/CVDR100394_2\?passage=\d+-\d+"))
    expect(page.get_by_role("heading", level=1)).to_have_text(KAMPEN)
    expect(page.locator("#passage")).to_be_in_viewport()
    expect(page.locator(".metadata")).to_contain_text("Kampen")
    expect(
        page.get_by_role("link", name=re.compile("CVDR100394, versie 2"))
    ).to_be_visible()  # the version indexed
    expect(page.get_by_role("heading", name="Vergelijkbaar bij andere gemeenten")).to_be_visible()
    expect(page.locator(".document-aside li").first).to_be_visible()
    shoot(page, "document")


def test_upload_pdf_finds_similar_documents_of_other_municipalities(page: Page, shoot: Shoot) -> None:
    pdf = CORPUS / "pdf" / UPLOAD
    if not pdf.exists():
        pytest.skip(f"{pdf} not available")
    page.goto("/vergelijkbaar")
    shoot(page, "vergelijkbaar-upload")
    drop_file(page, pdf)
    expect(page.locator("[data-file-name]")).to_have_text(f"Gekozen: {UPLOAD}")
    page.get_by_label("Van welke gemeente is dit document?").fill("Wassenaar")
    page.get_by_role("button", name="Zoek vergelijkbaar beleid").click(
        timeout=60_000
    )  # reading takes a while
    expect(page.get_by_role("heading", name=re.compile(r"\d+ vergelijkbare documenten"))).to_be_visible(
        timeout=60_000
    )
    expect(page.locator(".lead")).to_contain_text(UPLOAD)
    assert page.locator(".card").count() >= 3
    assert "Wassenaar" not in " ".join(page.locator(".card .tag-gemeente").all_inner_texts())
    shoot(page, "vergelijkbaar")
    page.get_by_label("PDF-bestand").set_input_files(
        {"name": "kapot.pdf", "mimeType": "application/pdf", "buffer": b"geen pdf"}
    )
    page.get_by_role("button", name="Zoek vergelijkbaar beleid").click()
    expect(page.get_by_role("alert")).to_contain_text("geen PDF")


def drop_file(page: Page, path: Path) -> None:
    """Drag and drop: dispatch a real drop event carrying the file onto the drop zone."""
    page.evaluate(
        """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "application/pdf" }));
            const zone = document.querySelector("[data-dropzone]");
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        [path.name, base64.b64encode(path.read_bytes()).decode()],
    )


def test_search_works_without_javascript(browser: Browser, server: str) -> None:
    context = browser.new_context(base_url=server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Uw vraag").fill(QUESTION)
    page.get_by_label("Gemeente", exact=True).fill("Kampen")
    page.get_by_role("button", name="Zoeken", exact=True).click()
    page.wait_for_url(re.compile("gemeente=Kampen"))
    expect(page.locator(".card h3")).to_have_text([KAMPEN])
    page.goto("/beheer")
    expect(page.get_by_text("Voor beheer is JavaScript nodig.")).to_be_visible()
    context.close()


def test_similar_from_a_result_and_side_by_side(page: Page, shoot: Shoot) -> None:
    page.goto(f"/document/{ALMERE}")
    page.locator("main").get_by_role("link", name="Vergelijkbaar beleid", exact=True).click()
    expect(page.locator(".lead")).to_contain_text("Almere")
    first = page.locator(".card").first
    expect(first.get_by_role("heading")).to_contain_text("rioolheffing")
    first.get_by_role("link", name=re.compile("^Naast elkaar")).click()
    page.wait_for_url(re.compile(f"links={ALMERE}&rechts={VENLO}"))
    rows = page.locator("table.side-by-side tbody tr")
    expect(page.locator("thead th")).to_contain_text(["Almere", "Venlo"])
    both = rows.filter(has_text="Vrijstellingen")
    expect(both).to_have_count(1)
    expect(both.locator("td").first).to_contain_text("Artikel 9")
    expect(both.locator("td").last).to_contain_text("Artikel 7")
    expect(rows.filter(has_text="Tarief").locator("mark.diff").first).to_be_visible()
    shoot(page, "naast-elkaar")


def test_admin_starts_a_reindex_and_sees_it_finish(page: Page, shoot: Shoot, admin_token: str) -> None:
    page.goto("/beheer")
    page.get_by_label("Beheerderstoken").fill("fout-token")
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.locator("[data-token-status]")).to_contain_text("Dit token klopt niet")
    page.get_by_label("Beheerderstoken").fill(admin_token)
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.get_by_text("U bent aangemeld als beheerder.")).to_be_visible()
    page.get_by_role("button", name="Herindexering starten").click()
    expect(page.locator("[data-reindex-status]")).to_contain_text("Herindexering gestart")
    job = page.locator("[data-job]").first
    expect(job).to_contain_text("Herindexeren", timeout=30_000)  # the list refreshes on its own
    expect(job.locator("[data-job-state]")).to_have_text("Klaar", timeout=90_000)
    expect(job).to_contain_text(re.compile(r"(\d+) van \1 documenten"))
    shoot(page, "beheer")
