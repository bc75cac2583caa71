"""Fuzz the corpus.jsonl reader: every line gives a Document or its own error; no line stops the file."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.mutations import CORPUS, fuzz_settings, mutated_bytes, mutated_value
from tests.fuzz.properties import check_corpus

pytestmark = pytest.mark.fuzz


def _lines(name: str, count: int = 3) -> list[str]:
    """The first records of a real corpus file, their text cut to 2,000 characters."""
    path = CORPUS / name
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in itertools.islice(lines, count)]
    return [json.dumps({**r, "text": r.get("text", "")[:2000]}, ensure_ascii=False) for r in records]


LINES = _lines("vac/corpus.jsonl") + _lines("bestemmingsplannen/documents.jsonl", 2)
FALLBACK = (
    '{"_id": "d1", "title": "Nota", "text": "# Nota\\n\\nTekst.", "metadata": {"municipality": "Baarn"}}'
)
RECORDS = [json.loads(line) for line in LINES or [FALLBACK]]
SEEDS = ["\n".join(LINES or [FALLBACK]).encode()]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-jsonl")


@fuzz_settings(deadline_seconds=5)
@given(data=mutated_bytes(SEEDS))
def test_fuzz_corpus_bytes(data: bytes, folder: Path) -> None:
    check_corpus(data, folder)


@fuzz_settings(deadline_seconds=5)
@given(records=st.lists(mutated_value(RECORDS), min_size=1, max_size=3))
def test_fuzz_corpus_records(records: list[object], folder: Path) -> None:
    check_corpus("\n".join(json.dumps(r, default=str) for r in records).encode(), folder)
