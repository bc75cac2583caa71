"""Shared fixtures: the shared corpus (skipped when absent), a fast real embedder, real indexes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import IngestOptions, ingest_paths
from search.embedders import Embedder, load_embedder
from search.generations import open_live
from search.index import Index

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
FAST_MODEL = "use-multilingual"
pytest_plugins = ["tests.pg_support"]  # database_url, pg_place: a real PostgreSQL for the engine tests


def shared_path(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared corpus not available: {path}")
    return path


SYSTEM_HINT = "run `make system-packages` as root (Debian: tesseract-ocr-nld, chromium)"


def require_system(available: bool, what: str) -> None:
    """Run only with a system package: skipped with one line saying how to install it, or, where
    SCHUTTING_REQUIRE_SYSTEM=1 (CI, `make test` as root), a failure: nothing is skipped there."""
    if available:
        return
    if os.environ.get("SCHUTTING_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"{what} is missing but SCHUTTING_REQUIRE_SYSTEM=1: {SYSTEM_HINT}")
    pytest.skip(f"{what} missing: {SYSTEM_HINT}")


def require_ocr() -> None:
    from ingest.ocr import tesseract_available

    require_system(tesseract_available("nld"), "tesseract with Dutch language data")


@pytest.fixture
def ocr() -> None:
    """Tests that OCR real pages: need Debian's tesseract-ocr-nld."""
    require_ocr()


@pytest.fixture(scope="session")
def fast_embedder() -> Embedder:
    """USE multilingual: a real model, ~20x faster than e5, used where ranking quality is not the point."""
    return load_embedder(FAST_MODEL)


@pytest.fixture
def empty_index(tmp_path: Path, fast_embedder: Embedder) -> Iterator[Index]:
    index = open_live(tmp_path / "data", fast_embedder, create=True)
    assert index is not None
    yield index
    index.close()


@pytest.fixture(scope="session")
def regulations_data(tmp_path_factory: pytest.TempPathFactory, fast_embedder: Embedder) -> Path:
    """A data dir with the real regelrecht regulations and CVDR samples indexed (built once)."""
    data_dir = tmp_path_factory.mktemp("regulations") / "data"
    index = open_live(data_dir, fast_embedder, create=True)
    assert index is not None
    cvdr = shared_path("cvdr")
    sources = [shared_path("regelrecht"), *sorted(cvdr.glob("CVDR*.xml"))]
    report = ingest_paths(index, sources, IngestOptions())
    assert not report.failed, report.failed
    index.close()
    return data_dir


@pytest.fixture
def regulations(regulations_data: Path, tmp_path: Path, fast_embedder: Embedder) -> Iterator[Index]:
    """A private copy of the regulations index, free to modify."""
    data_dir = tmp_path / "data"
    shutil.copytree(regulations_data, data_dir)
    index = open_live(data_dir, fast_embedder)
    assert index is not None
    yield index
    index.close()
