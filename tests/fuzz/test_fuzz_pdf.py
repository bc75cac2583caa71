"""Fuzz the PDF reader: damaged real PDFs give a Document or an UnreadableDocument, nothing else, in time."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from hypothesis import given

from tests.fuzz.mutations import fuzz_settings, mutated_bytes, seeds
from tests.fuzz.properties import check_pdf
from tests.pdf_bytes import pdf_with_content, text_page

pytestmark = pytest.mark.fuzz

TEXT = [f"Artikel {n}. Het college van burgemeester en wethouders besluit." for n in range(1, 6)]
SEEDS = [
    pdf_with_content(text_page(TEXT)),
    pdf_with_content(text_page(TEXT), compress=False, pages=2),
    pdf_with_content(zlib.compress(text_page(TEXT))[:40], compress=False),
    *seeds(
        "pdf/besluitenlijst_bw_vergadering_11_oktober_2023.pdf",
        "pdf/besluitenlijst_bw_vergadering_7_januari_2025.pdf",
    ),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-pdf")


@fuzz_settings(deadline_seconds=15)
@given(data=mutated_bytes(SEEDS))
def test_fuzz_pdf_reader(data: bytes, folder: Path) -> None:
    check_pdf(data, folder)
