"""Every crash the fuzzers found, kept as a small file: its reader must now answer with a reason.

A file's name says its reader: pdf-*, cvdr-*, regelrecht-*, corpus-*, sru-*, text-*.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fuzz.properties import check_corpus, check_cvdr, check_pdf, check_regelrecht, check_sru, check_text

REGRESSIONS = Path(__file__).parent / "regressions"
SECONDS = 5.0  # every one of them used to crash or expand; now each is refused quickly


def _with_folder(check: Callable[[bytes, Path], None], tmp_path: Path) -> Callable[[bytes], None]:
    return lambda data: check(data, tmp_path)


@pytest.mark.fuzz
@pytest.mark.parametrize("path", sorted(REGRESSIONS.iterdir()), ids=lambda p: p.name)
def test_a_crash_found_by_fuzzing_stays_fixed(path: Path, tmp_path: Path) -> None:
    checks: dict[str, Callable[[bytes], None]] = {
        "pdf": _with_folder(check_pdf, tmp_path),
        "cvdr": check_cvdr,
        "regelrecht": check_regelrecht,
        "corpus": _with_folder(check_corpus, tmp_path),
        "sru": check_sru,
        "text": _with_folder(check_text, tmp_path),
    }
    started = time.monotonic()
    checks[path.name.split("-", 1)[0]](path.read_bytes())
    assert time.monotonic() - started < SECONDS
