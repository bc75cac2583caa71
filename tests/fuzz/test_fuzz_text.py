"""Fuzz the Markdown and text reader (also the one corpus.jsonl texts go through): no crash, no stall."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from tests.fuzz.mutations import fuzz_settings, mutated_bytes, seeds
from tests.fuzz.properties import check_text

pytestmark = pytest.mark.fuzz

SEEDS = [
    b"# Nota parkeren\n\nHet college besluit.\n\n## Artikel 1 ##\n\nTekst van het artikel.\n",
    *seeds("bestemmingsplannen/t_NL.IMRO.0098.*.md", limit=1, max_bytes=40_000),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-text")


@fuzz_settings(deadline_seconds=5)
@given(data=mutated_bytes(SEEDS))
def test_fuzz_text_reader(data: bytes, folder: Path) -> None:
    check_text(data, folder)
