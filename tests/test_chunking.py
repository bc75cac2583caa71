from __future__ import annotations

from ingest.chunking import MAX_WORDS, chunk
from ingest.regelrecht import read_regelrecht
from search.types import Document, Section
from tests.conftest import shared_path


def test_long_section_is_split_within_bounds_and_offsets_point_into_text() -> None:
    paragraph = " ".join(f"woord{i}" for i in range(120)) + "."
    doc = Document(id="d", title="T", sections=(Section("p. 1", "\n\n".join([paragraph] * 5), page=1),))
    chunks = chunk(doc)
    assert len(chunks) >= 3
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    assert all(doc.text[c.start : c.end].strip() == c.text for c in chunks)
    assert {c.page for c in chunks} == {1}
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_articles_stay_whole_and_keep_their_label() -> None:
    doc = read_regelrecht(
        shared_path(
            "regelrecht",
            "rotterdam__uitvoeringsbeleid__beleidsregels_bijzondere_bijstand_rotterdam_2024_2025-05-16.yaml",
        )
    )
    chunks = chunk(doc)
    first = chunks[0]
    assert first.label == "Artikel 1.1 Begripsbepalingen"
    assert "draagkracht" in first.text
    assert all(doc.text[c.start : c.end].strip() == c.text for c in chunks)


def test_small_trailing_piece_joins_previous_chunk() -> None:
    long = " ".join(["a"] * 190) + "."
    doc = Document(id="d", title="T", sections=(Section("", long + "\n\n" + "kort stukje tekst."),))
    assert len(chunk(doc)) == 1
