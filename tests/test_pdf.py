"""The PDF reader: real Wassenaar PDFs, generated bad files, text-layer checks and OCR with Tesseract."""

import hashlib
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.ocr import MAX_PIXELS, render_page, require_tesseract, tesseract_available
from ingest.pdf import choose_title, is_usable_text, normalise_text, read_pdf
from search.errors import SchuttingError, TooLarge, UnreadableDocument

SHARED = Path(__file__).resolve().parents[2] / "shared"
PDFS = SHARED / "corpus" / "pdf"
BESLUITENLIJST = PDFS / "besluitenlijst_bw_vergadering_10_mei_2022.pdf"
BESLUITENLIJST_SHA256 = "4d0d41e0c60e004d6e87a2dc810cc1b5da2f001129296612513cffd6d0ab882c"
POSTER = PDFS / "Jaarstukken_2021.pdf"  # one image-only page
GLYPH_IDS = PDFS / "jaarrekening-2019-wassenaar.pdf"  # text layer of glyph ids only

needs_corpus = pytest.mark.skipif(not PDFS.is_dir(), reason="shared corpus not present")
needs_ocr = pytest.mark.usefixtures("ocr")  # Debian tesseract-ocr-nld; see conftest.require_system

# pypdf's text for page 1 of the Wassenaar jaarrekening 2019: a font without a Unicode map.
GLYPH_GARBAGE = (
    "/0\n/1/2/3/2/4/2/5\n/6/7/8/9/10/11/12□/14/12/15/12/12/16/8/12□/17/10/18/18/12/16/10/10/19\n" * 3
)
DUTCH = (
    "Op basis van de op 1 april 2022 in werking getreden Regeling opvang ontheemden Oekraïne "
    "noodzakelijke steun, middels leefgeld, te verstrekken aan de in Wassenaar ingeschreven ontheemden."
)


def blank_pdf(path: Path, pages: int, width: float = 595, height: float = 842) -> Path:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=width, height=height)
    writer.write(path)
    return path


def unreadable_reason(path: Path, **options: object) -> str:
    with pytest.raises(UnreadableDocument) as caught:
        read_pdf(path, **options)  # type: ignore[arg-type]
    assert caught.value.source == str(path)
    return caught.value.reason


@needs_corpus
def test_besluitenlijst_one_section_per_page() -> None:
    document = read_pdf(BESLUITENLIJST, ocr=False)
    assert [(s.label, s.page) for s in document.sections] == [("p. 1", 1), ("p. 2", 2), ("p. 3", 3)]
    assert document.extra["pages"] == 3
    assert document.extra["ocr_pages"] == []
    assert document.extra["empty_pages"] == []
    assert "Regeling opvang ontheemden Oekraïne" in document.sections[0].text
    assert "Informatiebrief Financiën Invoering Omgevingswet" in document.sections[1].text
    assert "gemeente Leidschendam-Voorburg door" in document.sections[0].text  # joined across a line break
    assert "  " not in document.text
    assert (document.id, document.source, document.doc_type, document.date) == (
        "",
        str(BESLUITENLIJST),
        "",
        "",
    )


@needs_corpus
def test_besluitenlijst_title_comes_from_the_page_not_the_stale_metadata() -> None:
    document = read_pdf(BESLUITENLIJST, ocr=False)
    assert document.extra["pdf_title"] == "Besluitenlijst Vertrouwelijk B&W vergadering Wassenaar 10 mei 2022"
    assert document.title == "Besluitenlijst Openbaar B&W vergadering Wassenaar 10 mei 2022"


@needs_corpus
def test_content_hash_is_the_sha256_of_the_file_and_stable() -> None:
    first, second = read_pdf(BESLUITENLIJST, ocr=False), read_pdf(BESLUITENLIJST, ocr=False)
    assert first.content_hash == second.content_hash == BESLUITENLIJST_SHA256
    assert hashlib.sha256(BESLUITENLIJST.read_bytes()).hexdigest() == BESLUITENLIJST_SHA256


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "leeg.pdf"
    path.write_bytes(b"")
    assert "empty (0 bytes)" in unreadable_reason(path)


def test_missing_file(tmp_path: Path) -> None:
    assert unreadable_reason(tmp_path / "weg.pdf") == "the file does not exist"


def test_html_saved_as_pdf(tmp_path: Path) -> None:
    path = tmp_path / "besluit.pdf"
    path.write_bytes(b"<!DOCTYPE html>\n<html><body>404 Niet gevonden</body></html>")
    reason = unreadable_reason(path)
    assert reason.startswith("not a PDF: the file is an HTML page")
    assert "upload the PDF itself" in reason


def test_word_document_renamed_to_pdf(tmp_path: Path) -> None:
    path = tmp_path / "nota.pdf"
    path.write_bytes(b"PK\x03\x04" + bytes(200))
    assert "Office document (.docx" in unreadable_reason(path)


@needs_corpus
def test_truncated_pdf(tmp_path: Path) -> None:
    data = BESLUITENLIJST.read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) // 2])
    assert unreadable_reason(path).startswith("the PDF is damaged or incomplete (")


@needs_corpus
def test_password_protected_pdf(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(BESLUITENLIJST))
    writer.encrypt("secret")
    path = tmp_path / "geheim.pdf"
    writer.write(path)
    assert unreadable_reason(path) == "encrypted; remove the password and upload again"


@needs_corpus
def test_owner_password_only_pdf_opens(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(BESLUITENLIJST))
    writer.encrypt(user_password="", owner_password="beheer")
    path = tmp_path / "beveiligd.pdf"
    writer.write(path)
    document = read_pdf(path, ocr=False)
    assert len(document.sections) == 3
    assert "Regeling opvang ontheemden Oekraïne" in document.sections[0].text


def test_too_many_pages(tmp_path: Path) -> None:
    path = blank_pdf(tmp_path / "dik.pdf", pages=5)
    with pytest.raises(TooLarge, match="5 pages, over the limit of 4"):
        read_pdf(path, max_pages=4)


def test_too_many_bytes(tmp_path: Path) -> None:
    path = blank_pdf(tmp_path / "groot.pdf", pages=2)
    size = path.stat().st_size
    with pytest.raises(TooLarge, match=f"{size:,} bytes, over the limit of 100 bytes"):
        read_pdf(path, max_bytes=100)


def test_blank_pages_with_ocr_off(tmp_path: Path) -> None:
    path = blank_pdf(tmp_path / "scan.pdf", pages=3)
    reason = unreadable_reason(path, ocr=False)
    assert reason == "no text layer on pages 1-3; OCR is switched off: turn it on to read scanned pages"


def test_blank_pages_without_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = blank_pdf(tmp_path / "scan.pdf", pages=3)
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract binary on the PATH
    assert not tesseract_available()
    reason = unreadable_reason(path)
    assert (
        reason
        == "no text layer on pages 1-3; OCR is not installed: apt-get install tesseract-ocr tesseract-ocr-nld"
    )


@needs_ocr
def test_missing_language_data_names_the_package() -> None:
    assert not tesseract_available("nld+zzz")
    with pytest.raises(SchuttingError, match=r"apt-get install tesseract-ocr-zzz$"):
        require_tesseract("nld+zzz")


@needs_ocr
def test_blank_page_stays_unreadable_after_ocr(tmp_path: Path) -> None:
    path = blank_pdf(tmp_path / "leeg-scan.pdf", pages=1, width=300, height=300)
    assert unreadable_reason(path).startswith("no text layer on page 1; OCR found no readable text")


def test_glyph_ids_are_not_usable_text() -> None:
    assert not is_usable_text(GLYPH_GARBAGE)
    assert not is_usable_text("(cid:12)(cid:7)(cid:33) " * 40 + DUTCH)


def test_real_dutch_text_is_usable() -> None:
    assert is_usable_text(DUTCH)
    table_of_contents = "Inleiding ......................... 5\nProgramma 1 Veiligheid ............ 12\n" * 3
    assert is_usable_text(table_of_contents)
    figures = (
        "0.2 Burgerzaken 349.518 -922.202 -572.684\n0.3 Beheer overige gebouwen en gronden 92.830 -1.101\n"
    )
    assert is_usable_text(figures * 2)


def test_near_empty_and_symbol_pages_are_not_usable() -> None:
    assert not is_usable_text("")
    assert not is_usable_text("Pagina 4 van 120\n\n")
    assert not is_usable_text("Jaarverslag 2023")
    assert not is_usable_text("abc" + "□■◆●▲" * 60 + "defghijklmnopqrstuvwxyz" * 2)


def test_normalise_text() -> None:
    assert normalise_text("het beleids-\nregel is") == "het beleidsregel is"
    assert normalise_text("gemeente Leidschendam-\nVoorburg") == "gemeente Leidschendam-Voorburg"
    assert normalise_text("de organisatie-\nen uitvoeringskosten") == "de organisatie- en uitvoeringskosten"
    assert normalise_text("  twee \t spaties\u00a0hier  \n") == "twee spaties hier"
    assert (
        normalise_text("alinea een\nregel twee \n \n\n \nalinea twee")
        == "alinea een\nregel twee\n\nalinea twee"
    )
    assert normalise_text("\ufb01nanciën en be\xadleid") == "financiën en beleid"
    assert normalise_text("2024-\n2026") == "2024-\n2026"


def test_title_prefers_page_heading_over_generic_or_contradicted_metadata() -> None:
    page = "Pagina 1 van 3\nBeleidsregels parkeren Wassenaar\nDatum 1 mei 2024\n" + DUTCH
    path = Path("stukken/beleidsregels_parkeren.pdf")
    assert choose_title("Naamloos", page, path) == "Beleidsregels parkeren Wassenaar"
    assert choose_title("Parkeren", page, path) == "Beleidsregels parkeren Wassenaar"
    assert choose_title("Concept nota", page, path) == "Beleidsregels parkeren Wassenaar"
    assert choose_title("Beleidsregels parkeren", page, path) == "Beleidsregels parkeren"
    assert (
        choose_title("Microsoft Word - Beleidsregels parkeren.docx", page, path) == "Beleidsregels parkeren"
    )


def test_title_falls_back_to_metadata_then_file_stem() -> None:
    path = Path("stukken/Jaarstukken_2021.pdf")
    assert choose_title("Bijlage 1 - Jaarstukken 2019 (1)", "", path) == "Bijlage 1 - Jaarstukken 2019"
    assert choose_title("Naamloos", "", path) == "Jaarstukken 2021"
    assert choose_title("", "1\n\n", path) == "Jaarstukken 2021"


def test_huge_pages_are_rendered_at_a_lower_dpi(tmp_path: Path) -> None:
    path = blank_pdf(tmp_path / "kaart.pdf", pages=1, width=72 * 40, height=72 * 40)  # 40 x 40 inch
    image, dpi = render_page(path, 0, dpi=300)
    assert 72 <= dpi < 300
    magic, width, height, depth = image[:30].split(maxsplit=4)[:4]
    assert (magic, depth) == (b"P5", b"255")
    assert abs(int(width) - 40 * dpi) <= 1 and int(width) == int(height)
    assert int(width) * int(height) <= MAX_PIXELS * 1.01


@needs_corpus
def test_image_only_poster_without_ocr() -> None:
    reason = unreadable_reason(POSTER, ocr=False)
    assert reason == "no text layer on page 1; OCR is switched off: turn it on to read scanned pages"


@needs_corpus
@needs_ocr
def test_ocr_page_limit_zero_reads_nothing() -> None:
    reason = unreadable_reason(POSTER, ocr_page_limit=0)
    assert reason == "no text layer on page 1; OCR is limited to 0 page(s) a document: raise the limit"


@needs_corpus
@needs_ocr
def test_image_only_poster_is_read_with_ocr() -> None:
    document = read_pdf(POSTER)
    assert document.extra["ocr_pages"] == [1]
    assert document.extra["empty_pages"] == []
    assert [s.label for s in document.sections] == ["p. 1"]
    text = document.sections[0].text
    assert "Onderwijshuisvesting" in text
    assert "baten en lasten" in text
    assert document.title == "Jaarstukken 2021"  # metadata says "Naamloos"; OCR text is no title source


@needs_corpus
@needs_ocr
def test_glyph_id_pdf_first_pages_are_read_with_ocr() -> None:
    document = read_pdf(GLYPH_IDS, ocr_page_limit=2)
    assert document.extra["pages"] == 203
    # Page 1 is a cover with three words: too little text to count; page 2 is the colophon.
    assert document.extra["ocr_pages"] == [2]
    assert document.extra["empty_pages"] == [1, *range(3, 204)]
    assert [s.page for s in document.sections] == [2]
    assert "Colofon" in document.sections[0].text
    assert "gemeente@wassenaar.nl" in document.sections[0].text
    assert document.title == "Bijlage 1 - Jaarstukken 2019"
