"""Nothing is dropped without a line in the report: skipped files, hidden files, damaged pages, limits.

Each line has an English reason and a Dutch melding for the UI (ingest.meldingen).
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import pytest

from ingest.meldingen import GENERAL, melding, melding_for
from ingest.pipeline import IngestOptions, ingest_paths
from ingest.sources import Defaults, ReadOptions, read_source
from search.errors import OverLimit, UnreadableDocument
from search.index import Index
from search.types import Document
from tests.conftest import shared_path
from tests.pdf_bytes import assemble, pdf_with_content, text_page

GOOD = "besluitenlijst_bw_vergadering_11_oktober_2023.pdf"
LINES = [
    f"Artikel {n}. Het college besluit over de verordening parkeren en de bijstand." for n in range(1, 9)
]
WASSENAAR = IngestOptions(defaults=Defaults(municipality="Wassenaar"), read=ReadOptions(ocr=False))


def pdf_with_damaged_pages(damaged: set[int], pages: int = 3, blank: frozenset[int] = frozenset()) -> bytes:
    """Pages of Dutch text; the content streams of the `damaged` pages (1-based) do not decompress,
    the `blank` pages draw nothing (as a scan without its image)."""
    good = zlib.compress(text_page(LINES))
    broken = good[:20] + b"\x00" * 200 + good[220:]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = b" ".join(b"%d 0 R" % (4 + 2 * n) for n in range(pages))
    objects += [b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)]
    objects += [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for number in range(1, pages + 1):
        body = broken if number in damaged else zlib.compress(b"") if number in blank else good
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (len(objects) + 2)
        )
        objects.append(b"<< /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (len(body), body))
    return assemble(objects)


def test_a_folder_scan_reports_every_file_it_skips_and_reads_hidden_ones(
    empty_index: Index, tmp_path: Path
) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    for name in (GOOD, ".hidden.pdf", "..pdf"):
        shutil.copy(shared_path("pdf", GOOD), folder / name)
    (folder / f"{GOOD}.json").write_text('{"type": "besluitenlijst"}')  # a sidecar: no line
    (folder / "notulen.docx").write_bytes(b"PK\x03\x04 not read")
    (folder / "README.md").write_text("# Uitleg bij deze map\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")

    report = ingest_paths(empty_index, [folder], WASSENAAR)

    assert sorted(report.added) == [
        "GM0629-besluitenlijst-bw-vergadering-11-oktober-2023",
        "GM0629-document",
        "GM0629-hidden",
    ]
    assert not report.failed
    warnings = {Path(source).name: reason for source, reason in report.warnings}
    assert set(warnings) == {"notulen.docx", "README.md", ".git"}
    assert warnings["notulen.docx"].startswith("skipped: unsupported file type .docx; supported: .pdf, .xml")
    assert "documentation file" in warnings["README.md"]
    assert "hidden folder" in warnings[".git"]
    lines = report.as_dict()["warnings"]
    assert isinstance(lines, list)
    assert {line["melding"] for line in lines} == {
        "Bestanden van type .docx worden niet gelezen. Toegestaan: .pdf, .xml, .yaml, .yml, .txt, .md, .jsonl.",
        "Overgeslagen: dit is een toelichting bij de map, geen document.",
        "Overgeslagen: een verborgen map wordt niet doorzocht.",
    }


def test_a_named_file_of_an_unsupported_type_fails_with_the_allowed_types(tmp_path: Path) -> None:
    page = tmp_path / "pagina.html"
    page.write_text("<html><body>Beleid</body></html>")
    (error,) = read_source(page)
    assert isinstance(error, UnreadableDocument)
    assert (
        error.reason == "unsupported file type .html; supported: .pdf, .xml, .yaml, .yml, .txt, .md, .jsonl"
    )


def test_a_pdf_with_a_damaged_page_is_indexed_with_a_warning(empty_index: Index, tmp_path: Path) -> None:
    path = tmp_path / "beschadigd.pdf"
    path.write_bytes(pdf_with_damaged_pages({2}))

    report = ingest_paths(empty_index, [path], WASSENAAR)

    assert report.added == ["GM0629-beschadigd"]
    assert report.warnings == [
        (str(path), "page 2 is damaged and could not be read; the other pages are indexed")
    ]
    lines = report.as_dict()["warnings"]
    assert isinstance(lines, list)
    assert [line["melding"] for line in lines] == [
        "Pagina 2 van de PDF is beschadigd en niet gelezen; de rest is wel opgenomen."
    ]
    (document,) = read_source(path, Defaults(municipality="Wassenaar"), ReadOptions(ocr=False))
    assert isinstance(document, Document)
    assert document.extra["damaged_pages"] == [2]
    assert [s.page for s in document.sections] == [1, 3]


def test_scanned_pages_left_unread_without_ocr_are_a_warning(empty_index: Index, tmp_path: Path) -> None:
    path = tmp_path / "half-gescand.pdf"
    path.write_bytes(pdf_with_damaged_pages(set(), pages=3, blank=frozenset({2})))

    report = ingest_paths(empty_index, [path], WASSENAAR)

    assert report.added == ["GM0629-half-gescand"]
    reason = "no text layer on page 2; OCR is switched off: turn it on to read scanned pages; the other pages are indexed"
    assert report.warnings == [(str(path), reason)]
    assert melding(reason).startswith("Pagina 2 zonder tekstlaag (een scan) is niet gelezen")


def test_a_pdf_damaged_on_every_page_is_reported_damaged_not_as_a_scan(tmp_path: Path) -> None:
    path = tmp_path / "kapot.pdf"
    path.write_bytes(pdf_with_damaged_pages({1, 2}, pages=2))
    (error,) = read_source(path, options=ReadOptions(ocr=False))
    assert isinstance(error, UnreadableDocument)
    assert error.reason.startswith("the PDF is damaged: pages 1-2 cannot be read (")
    assert "text layer" not in error.reason
    assert melding_for(error) == "De PDF is beschadigd of onvolledig. Download of exporteer hem opnieuw."


def test_the_page_limit_is_named_in_pages_not_in_megabytes(tmp_path: Path) -> None:
    path = tmp_path / "dik.pdf"
    path.write_bytes(pdf_with_content(text_page(LINES), pages=25))
    (error,) = read_source(path, options=ReadOptions(max_pages=20, max_bytes=50_000_000))
    assert isinstance(error, OverLimit)
    assert (error.limit, error.value, error.maximum) == ("pages", 25, 20)
    assert error.reason == "25 pages, over the limit of 20 pages; split it into smaller PDFs"
    assert (
        melding_for(error)
        == "Het document heeft 25 pagina's; het maximum is 20. Splits het in kleinere PDF's."
    )
    assert melding("2,500 pages, over the limit of 2,000 pages") == (
        "Het document heeft 2.500 pagina's; het maximum is 2.000. Splits het in kleinere PDF's."
    )


def test_the_character_limit_refuses_a_long_document_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "lang.md"
    path.write_text("# Nota\n\n" + "Het college besluit. " * 600, encoding="utf-8")
    (error,) = read_source(path, options=ReadOptions(max_chars=10_000))
    assert isinstance(error, OverLimit)
    assert error.limit == "characters"
    assert (
        error.reason == "12,599 characters of text, over the limit of 10,000 characters; split the document"
    )
    assert melding_for(error) == (
        "Het document bevat 12.599 tekens; het maximum is 10.000. Splits het in kleinere documenten."
    )
    (document,) = read_source(path, options=ReadOptions(max_chars=20_000))
    assert isinstance(document, Document)


@pytest.mark.parametrize(
    "reason",
    [
        "the file is empty (0 bytes); upload the complete PDF again",
        "not a PDF: the file is an HTML page (often an error page saved with a .pdf name); upload the PDF itself",
        "the PDF is damaged or incomplete (PdfReadError: EOF marker not found); download or export it again",
        "encrypted; remove the password and upload again",
        "no text layer on page 1; OCR is not installed: apt-get install tesseract-ocr tesseract-ocr-nld",
        "no text layer on page 1; OCR is switched off: turn it on to read scanned pages",
        "malformed XML: Start tag expected, '<' not found, line 1, column 1",
        "malformed YAML: while parsing a block mapping",
        "not a corpus record: Expecting value: line 1 column 1 (char 0)",
        "reading took longer than the time budget of 60 s (stopped after 60.0 s); the file may be damaged",
        "reading needed more than the memory budget of 2048 MB; the file may be damaged",
        "52.4 MB, over the limit of 50.0 MB; split it into smaller PDFs",
    ],
)
def test_every_reason_the_readers_give_has_its_own_dutch_melding(reason: str) -> None:
    assert melding(reason) != GENERAL
