"""Every kind of bad document gets a recorded reason, the good ones next to it are indexed.

Bad PDFs are generated in tmp_path from real ones; ingest runs as a real admin job (FastAPI app
through its test client) and as a real `schutting ingest` subprocess.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter

from api.http import create_app
from api.settings import Settings
from search.generations import open_live
from search.retrieval import search
from tests.admin_support import wait_for_job
from tests.pdf_bytes import assemble

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "pdf"
GOOD = (
    "besluitenlijst_bw_vergadering_11_oktober_2023.pdf",
    "besluitenlijst_bw_vergadering_9_augustus_2022.pdf",
)
TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BYTES = 1_000_000
MAX_PAGES = 20

# file name -> a phrase of the reason it must be reported with
EXPECTED = {
    "corrupt.pdf": "damaged or incomplete",
    "truncated.pdf": "damaged or incomplete",
    "encrypted.pdf": "encrypted",
    "zero-bytes.pdf": "empty (0 bytes)",
    "webpagina.pdf": "not a PDF: the file is an HTML page",
    "scan.pdf": "no text layer on page 1",
}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared PDF corpus not present")


def image_pdf(pixels: np.ndarray) -> bytes:
    """A one-page PDF, 595 pt wide, whose only content is a greyscale image: what a scanner makes."""
    height, width = pixels.shape
    page_height = round(595 * height / width)
    image = zlib.compress(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    content = b"q 595 0 0 %d 0 0 cm /Im0 Do Q" % page_height
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 %d] "
        b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>" % page_height,
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
        % (width, height, len(image), image),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    return assemble(objects)


def scanned_copy(source: Path, dpi: int = 150, share: float = 0.35) -> bytes:
    """The top of page 1 of a real PDF as a scan: rendered to pixels, no text layer left.
    (Only the top ``share`` of the page, so that OCR takes a second, not ten.)"""
    document = pdfium.PdfDocument(str(source))
    try:
        pixels = document[0].render(scale=dpi / 72, grayscale=True).to_numpy()
    finally:
        document.close()
    grey = pixels[:, :, 0] if pixels.ndim == 3 else pixels
    return image_pdf(grey[: int(len(grey) * share)])


def huge_pdf(pages: int, size: int) -> bytes:
    """A valid PDF over both limits: more pages than MAX_PAGES, more bytes than MAX_BYTES."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    data = buffer.getvalue()
    return data + b"%" + b"x" * max(size - len(data), 0) + b"\n"


def make_bad_folder(folder: Path) -> Path:
    """Good real PDFs next to one file of every bad kind."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in GOOD:
        shutil.copy(CORPUS / name, folder / name)
    real = (CORPUS / GOOD[0]).read_bytes()
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    (folder / "truncated.pdf").write_bytes(real[: len(real) // 3])
    (folder / "zero-bytes.pdf").write_bytes(b"")
    (folder / "webpagina.pdf").write_bytes(b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
    writer = PdfWriter(clone_from=PdfReader(CORPUS / GOOD[0]))
    writer.encrypt(user_password="geheim", owner_password="beheer")
    buffer = io.BytesIO()
    writer.write(buffer)
    (folder / "encrypted.pdf").write_bytes(buffer.getvalue())
    (folder / "huge.pdf").write_bytes(huge_pdf(MAX_PAGES + 5, int(MAX_BYTES * 1.2)))
    (folder / "scan.pdf").write_bytes(image_pdf(np.full((120, 85), 255, dtype=np.uint8)))  # a blank scan
    return folder


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "model": "use-multilingual",
        "admin_token": TOKEN,
        "ocr": False,
        "max_upload_bytes": MAX_BYTES,
        "max_pages": MAX_PAGES,
        "ingest_roots": str(data_dir.parent),
    }
    return Settings(**{**values, **overrides})


def run_job(client: TestClient, body: dict[str, object], timeout: float = 120) -> dict:
    answer = client.post("/admin/ingest", json=body, headers=AUTH)
    assert answer.status_code == 202, answer.text
    return wait_for_job(client, answer.json()["id"], timeout)


def test_admin_job_reports_every_bad_document_and_indexes_the_good_ones(tmp_path):
    folder = make_bad_folder(tmp_path / "stukken")
    client = TestClient(create_app(settings_for(tmp_path / "data")))

    job = run_job(client, {"path": str(folder), "municipality": "Wassenaar"})

    assert job["state"] == "done", job
    reasons = {Path(e["source"]).name: e["reason"] for e in job["errors"]}
    assert set(reasons) == {*EXPECTED, "huge.pdf"}
    for name, phrase in EXPECTED.items():
        assert phrase in reasons[name], (name, reasons[name])
    assert "over the limit of 1.0 MB" in reasons["huge.pdf"]
    assert "OCR is switched off" in reasons["scan.pdf"]  # settings.ocr reached the reader
    assert (job["done"], job["failed"], job["total"], job["processed"]) == (2, 7, 9, 9)

    index = open_live(tmp_path / "data")
    assert index is not None
    ids = index.catalog.document_ids()
    assert ids == sorted(f"GM0629-{name.removesuffix('.pdf').replace('_', '-')}" for name in GOOD)
    for doc_id in ids:
        assert index.catalog.document(doc_id).extra["ocr_pages"] == []  # type: ignore[union-attr]
    hits = search(index, "besluitenlijst college burgemeester en wethouders", k=5, mode="hybrid")
    assert {r.document.id for r in hits} == set(ids)
    index.close()


def test_cli_names_each_failed_file_and_why(tmp_path):
    folder = make_bad_folder(tmp_path / "stukken")
    env = {
        **os.environ,
        "SCHUTTING_DATA_DIR": str(tmp_path / "data"),
        "SCHUTTING_MODEL": "use-multilingual",
        "SCHUTTING_OCR": "false",
        "SCHUTTING_MAX_PAGES": str(MAX_PAGES),
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", str(folder), "--municipality", "Wassenaar"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=180,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "added 2, replaced 0, unchanged 0, removed 0, failed 7" in out
    failed = {
        Path(line.split(": ", 1)[0].removeprefix("FAILED ")).name: line.split(": ", 1)[1]
        for line in out.splitlines()
        if line.startswith("FAILED ")
    }
    assert set(failed) == {*EXPECTED, "huge.pdf"}
    for name, phrase in EXPECTED.items():
        assert phrase in failed[name], (name, failed[name])
    assert f"{MAX_PAGES + 5} pages, over the limit of {MAX_PAGES}" in failed["huge.pdf"]


def test_ocr_page_limit_reaches_the_reader(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(image_pdf(np.full((120, 85), 255, dtype=np.uint8)))
    client = TestClient(create_app(settings_for(tmp_path / "data", ocr=True, ocr_page_limit=0)))

    job = run_job(client, {"path": str(folder)})

    (reason,) = [e["reason"] for e in job["errors"]]
    assert reason.startswith("no text layer on page 1; OCR")
    assert "limited to 0 page(s)" in reason


@pytest.mark.usefixtures("ocr")
def test_scanned_page_is_ocrd_and_recorded(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "besluitenlijst-scan.pdf").write_bytes(scanned_copy(CORPUS / GOOD[0]))
    client = TestClient(create_app(settings_for(tmp_path / "data", ocr=True)))

    job = run_job(client, {"path": str(folder), "municipality": "Wassenaar"})

    assert (job["state"], job["done"], job["errors"]) == ("done", 1, [])
    index = open_live(tmp_path / "data")
    assert index is not None
    doc = index.catalog.load_document("GM0629-besluitenlijst-scan")
    assert doc is not None
    assert doc.extra["ocr_pages"] == [1]
    assert "besluit" in doc.text.lower()
    index.close()
