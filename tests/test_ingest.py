"""Ingest through the real pipeline: metadata, identity, bad input, folder sync."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ingest.pipeline import IngestOptions, ingest_paths
from ingest.sources import Defaults, ReadOptions
from search.index import Index
from tests.conftest import shared_path

BESLUIT = "besluitenlijst_bw_vergadering_10_mei_2022.pdf"


def _pdf_with_sidecar(folder: Path, name: str = BESLUIT, municipality: str = "Wassenaar") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copy(shared_path("pdf", name), target)
    (folder / f"{name}.json").write_text(json.dumps({"municipality": municipality, "type": "besluitenlijst"}))
    return target


def test_pdf_gets_metadata_from_its_sidecar(empty_index: Index, tmp_path: Path) -> None:
    _pdf_with_sidecar(tmp_path / "in")
    report = ingest_paths(empty_index, [tmp_path / "in"])
    assert report.added == ["GM0629-besluitenlijst-bw-vergadering-10-mei-2022"]
    info = empty_index.catalog.document(report.added[0])
    assert info is not None
    assert (info.municipality, info.municipality_code, info.province) == (
        "Wassenaar",
        "GM0629",
        "Zuid-Holland",
    )
    assert info.doc_type == "besluitenlijst"
    assert info.extra["pages"] >= 1
    assert empty_index.catalog.chunks_of(info.id)[0][1].label.startswith("p. ")


def test_reingest_is_a_noop_and_a_changed_file_replaces(empty_index: Index, tmp_path: Path) -> None:
    path = _pdf_with_sidecar(tmp_path / "in")
    first = ingest_paths(empty_index, [path])
    again = ingest_paths(empty_index, [path])
    assert again.skipped == first.added and not again.added
    shutil.copy(shared_path("pdf", "besluitenlijst_bw_vergadering_16_april_2024.pdf"), path)
    changed = ingest_paths(empty_index, [path])
    assert changed.replaced == first.added
    assert empty_index.catalog.count_documents() == 1
    chunk_text = " ".join(c.text for _, c in empty_index.catalog.chunks_of(first.added[0]))
    assert "2024" in chunk_text


def test_a_scanned_pdf_is_reported_and_the_rest_indexed(empty_index: Index, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _pdf_with_sidecar(folder)
    shutil.copy(shared_path("pdf", "Jaarstukken_2021.pdf"), folder / "poster.pdf")
    (folder / "leeg.pdf").write_bytes(b"")
    options = IngestOptions(defaults=Defaults(municipality="Wassenaar"), read=ReadOptions(ocr=False))
    report = ingest_paths(empty_index, [folder], options)
    assert len(report.added) == 1
    reasons = dict(report.failed)
    assert "text" in reasons[str(folder / "poster.pdf")].lower()
    assert "empty" in reasons[str(folder / "leeg.pdf")].lower()
    assert empty_index.catalog.count_documents() == 1


def test_unknown_municipality_is_a_per_document_error(empty_index: Index, tmp_path: Path) -> None:
    _pdf_with_sidecar(tmp_path / "in", municipality="Atlantis")
    report = ingest_paths(empty_index, [tmp_path / "in"])
    assert not report.added
    assert "unknown municipality 'Atlantis'" in report.failed[0][1]


def test_beir_corpus_jsonl_loads_with_metadata(empty_index: Index, tmp_path: Path) -> None:
    corpus = SHARED_SIMILAR = shared_path("..", "eval", "similar-plans", "corpus.jsonl")
    lines = corpus.read_text(encoding="utf-8").splitlines()[:3]
    small = tmp_path / "corpus.jsonl"
    small.write_text("\n".join([*lines, "{broken"]) + "\n", encoding="utf-8")
    report = ingest_paths(empty_index, [small])
    assert len(report.added) == 3 and len(report.failed) == 1
    first = json.loads(lines[0])
    info = empty_index.catalog.document(first["_id"])
    assert info is not None and info.municipality_code == first["metadata"]["municipality_code"]
    assert info.doc_type == first["metadata"]["plan_type"].lower()
    del SHARED_SIMILAR


def test_sync_removes_documents_whose_file_left_the_folder(empty_index: Index, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _pdf_with_sidecar(folder)
    second = _pdf_with_sidecar(folder, "besluitenlijst_bw_vergadering_16_april_2024.pdf")
    ingest_paths(empty_index, [folder], IngestOptions(sync=True))
    second.unlink()
    report = ingest_paths(empty_index, [folder], IngestOptions(sync=True))
    assert report.removed == ["GM0629-besluitenlijst-bw-vergadering-16-april-2024"]
    assert empty_index.catalog.count_documents() == 1
    assert empty_index.lexical.search("16 april 2024", 50) == [] or all(
        empty_index.catalog.chunks_by_id([c])[c][0] != report.removed[0]
        for c, _ in empty_index.lexical.search("april", 50)
    )


def test_ocr_makes_scanned_and_broken_font_pdfs_findable(
    empty_index: Index, tmp_path: Path, ocr: None
) -> None:
    from search.retrieval import search

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(shared_path("pdf", "Jaarstukken_2021.pdf"), folder / "Jaarstukken_2021.pdf")
    shutil.copy(shared_path("pdf", "jaarrekening-2019-wassenaar.pdf"), folder / "jaarrekening-2019.pdf")
    options = IngestOptions(defaults=Defaults(municipality="Wassenaar"), read=ReadOptions(ocr_page_limit=2))
    report = ingest_paths(empty_index, [folder], options)
    assert len(report.added) == 2, report.failed
    for doc_id in report.added:
        assert empty_index.catalog.load_document(doc_id).extra["ocr_pages"]  # type: ignore[union-attr]
    # Words that exist only as pixels (poster) or behind glyph ids (jaarrekening):
    poster = search(empty_index, "onderwijshuisvesting", k=1, mode="lexical")[0]
    assert poster.document.id == "GM0629-jaarstukken-2021" and "<mark>" in poster.hits[0].snippet
    colofon = search(empty_index, "colofon", k=1, mode="lexical")[0]
    assert colofon.document.id == "GM0629-jaarrekening-2019" and colofon.hits[0].page == 2
