"""Side-by-side alignment: sections paired by article number or heading, in order, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.alignment import align, heading_key, numbered_key, side_by_side, unwrap, word_diff
from search.generations import open_live
from search.types import Section


def art(label: str, heading: str = "", text: str = "") -> Section:
    return Section(label=label, text=text or f"tekst van {label}", heading=heading)


def labels(rows: list[tuple[Section | None, Section | None]]) -> list[tuple[str | None, str | None]]:
    return [(a.label if a else None, b.label if b else None) for a, b in rows]


@pytest.mark.parametrize(
    ("label", "key"),
    [("Artikel 3", "artikel:3"), ("artikel 3a", "artikel:3a"), ("Artikel 3 a", "artikel:3a"),
     ("Art. 4.2", "artikel:4.2"), ("Artikel 1:3", "artikel:1:3"), ("Artikel I", "artikel:i"),
     ("§ 2", "paragraaf:2"), ("Hoofdstuk 5. Gehandicaptenparkeerplaatsen", "hoofdstuk:5"),
     ("p. 4", ""), ("Citeertitel", ""), ("", "")],
)  # fmt: skip
def test_numbered_key(label: str, key: str) -> None:
    assert numbered_key(label) == key


def test_heading_key_folds_case_accents_and_numbering() -> None:
    assert heading_key(art("Artikel 7", "Vrijstellingen")) == "vrijstellingen"
    assert heading_key(art("Hoofdstuk 5. Gehandicaptenparkeerplaatsen")) == "gehandicaptenparkeerplaatsen"
    assert heading_key(art("", "1. Reële kosten")) == "reele kosten"
    assert heading_key(art("p. 4")) == ""


def test_same_articles_pair_and_unmatched_ones_sit_opposite_nothing_in_number_order() -> None:
    left = [art("Artikel 1", "Begrippen"), art("Artikel 2", "Aard"), art("Artikel 5", "Tarief"),
            art("Artikel 9", "Vrijstellingen"), art("Artikel 10", "Slot")]  # fmt: skip
    right = [art("Artikel 1", "Begrippen"), art("Artikel 2", "Aard"), art("Artikel 5", "Tarief"),
             art("Artikel 6", "Kwijtschelding"), art("Artikel 7", "Vrijstellingen"), art("Artikel 8", "Overgang")]  # fmt: skip
    assert labels(align(left, right)) == [
        ("Artikel 1", "Artikel 1"),
        ("Artikel 2", "Artikel 2"),
        ("Artikel 5", "Artikel 5"),
        (None, "Artikel 6"),
        ("Artikel 9", "Artikel 7"),  # equal headings, other number
        (None, "Artikel 8"),
        ("Artikel 10", None),
    ]


def test_an_inserted_article_does_not_shift_the_pairs() -> None:
    left = [art("Artikel 1", "Begrippen"), art("Artikel 2", "Tarief"), art("Artikel 3", "Slot")]
    right = [art("Artikel 1", "Begrippen"), art("Artikel 2", "Kwijtschelding"), art("Artikel 3", "Tarief"),
             art("Artikel 4", "Slot")]  # fmt: skip
    assert labels(align(left, right)) == [
        ("Artikel 1", "Artikel 1"),
        (None, "Artikel 2"),
        ("Artikel 2", "Artikel 3"),
        ("Artikel 3", "Artikel 4"),
    ]


def test_article_numbers_pair_when_there_are_no_headings() -> None:
    left = [art("Artikel 1"), art("Artikel 2"), art("Artikel 3")]
    right = [art("Artikel 2"), art("Artikel 3"), art("Artikel 4")]
    assert labels(align(left, right)) == [
        ("Artikel 1", None),
        ("Artikel 2", "Artikel 2"),
        ("Artikel 3", "Artikel 3"),
        (None, "Artikel 4"),
    ]


def test_crossing_matches_are_dropped_and_every_section_is_shown_once_in_order() -> None:
    left = [art("A", "Tarief"), art("B", "Begrippen"), art("C", "Slot")]
    right = [art("X", "Begrippen"), art("Y", "Tarief"), art("Z", "Slot")]
    rows = align(left, right)
    assert [a.label for a, _ in rows if a] == ["A", "B", "C"]
    assert [b.label for _, b in rows if b] == ["X", "Y", "Z"]
    assert ("C", "Z") in labels(rows)
    assert sum(1 for a, b in rows if a and b) == 2  # one of the crossing pairs, and Slot


def test_pages_and_duplicate_headings_never_match() -> None:
    left = [art("p. 1"), art("p. 2"), art("Artikel 1", "Begrippen"), art("Artikel 2", "Begrippen")]
    right = [art("p. 1"), art("Artikel 3", "Begrippen")]
    assert labels(align(left, right)) == [
        ("p. 1", None),
        ("p. 2", None),
        ("Artikel 1", None),
        ("Artikel 2", None),
        (None, "p. 1"),
        (None, "Artikel 3"),
    ]
    assert align([], []) == []
    assert labels(align([], [art("Artikel 1")])) == [(None, "Artikel 1")]


def test_word_diff_marks_only_the_words_that_differ() -> None:
    left, right = word_diff(
        "De belasting bedraagt EUR 249 per jaar.", "De belasting bedraagt EUR 300 per perceel per jaar."
    )
    assert left == [("De belasting bedraagt EUR ", False), ("249 ", True), ("per jaar.", False)]
    assert right == [("De belasting bedraagt EUR ", False), ("300 per perceel ", True), ("per jaar.", False)]
    assert word_diff("gelijk", "gelijk") == ([("gelijk", False)], [("gelijk", False)])


def test_unwrap_joins_lines_broken_mid_sentence_only() -> None:
    text = "geheven ter bestrijding van de\nkosten die\nIn deze:\na. perceel;\nb. x dat\n2. De aanvrager"
    assert (
        unwrap(text)
        == "geheven ter bestrijding van de kosten die\nIn deze:\na. perceel;\nb. x dat\n2. De aanvrager"
    )
    assert len(unwrap(text)) == len(text)


def test_side_by_side_of_two_real_rioolheffing_regulations(regulations_data: Path) -> None:
    index = open_live(regulations_data)
    assert index is not None
    almere = index.catalog.load_document("verordening_rioolheffing_almere_2025")
    venlo = index.catalog.load_document("verordening_rioolheffing_venlo_2025")
    assert almere is not None and venlo is not None
    rows = side_by_side(almere.sections, venlo.sections)
    index.close()
    pairs = {
        (r["left"].label if r["left"] else None, r["right"].label if r["right"] else None): r for r in rows
    }
    assert pairs[("Artikel 2", "Artikel 2")]["status"] == "gelijk"
    assert pairs[("Artikel 6", "Artikel 6")]["status"] == "verschilt"
    assert pairs[("Artikel 9", "Artikel 7")]["left"].heading == "Vrijstellingen"
    assert any(changed for _, changed in pairs[("Artikel 6", "Artikel 6")]["tokens"][1])
    shown = [r["left"] for r in rows if r["left"]]
    assert shown == list(almere.sections)
