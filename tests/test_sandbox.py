"""Reading in budgeted worker processes: a hostile PDF costs its own budget, nothing of anyone else's."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import pytest

from ingest.pipeline import IngestOptions, ingest_paths
from ingest.sandbox import Budget, ReaderPool, read_isolated, read_isolated_async
from ingest.sources import Defaults, ReadOptions
from search.errors import OverBudget, OverLimit, Overloaded, UnreadableDocument
from search.index import Index
from search.types import Document
from tests.conftest import shared_path
from tests.pdf_bytes import pdf_with_content, stalling_content

GOOD = "besluitenlijst_bw_vergadering_11_oktober_2023.pdf"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 18 KB PDF whose one page holds a 5 MB text stream: pypdf needs 30 s or more on it."""
    path = tmp_path_factory.mktemp("hostile") / "stall.pdf"
    path.write_bytes(pdf_with_content(stalling_content(5)))
    assert path.stat().st_size < 20_000
    return path


def test_a_stalling_pdf_is_refused_within_its_budget_while_another_file_is_read(hostile: Path) -> None:
    pool = ReaderPool(workers=2)
    good = shared_path("pdf", GOOD)
    results: dict[str, tuple[list[Document | UnreadableDocument], float]] = {}

    def read(name: str, path: Path, budget: Budget) -> None:
        started = time.monotonic()
        results[name] = (pool.read(path, Defaults(municipality="Wassenaar"), ReadOptions(), budget), 0.0)
        results[name] = (results[name][0], time.monotonic() - started)

    threads = [
        threading.Thread(target=read, args=("hostile", hostile, Budget(seconds=3))),
        threading.Thread(target=read, args=("good", good, Budget(seconds=60))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    (refused,), spent = results["hostile"]
    assert isinstance(refused, OverBudget)
    assert "time budget of 3 s" in refused.reason
    assert refused.source == str(hostile)
    assert spent < 8  # 3 s budget plus the fork and the kill, never pypdf's 30 s
    (document,), _ = results["good"]
    assert isinstance(document, Document)
    assert document.municipality == "Wassenaar"
    assert "11 oktober 2023" in document.title


def test_a_file_over_the_memory_budget_is_refused_with_that_reason(hostile: Path) -> None:
    (refused,) = read_isolated(hostile, budget=Budget(seconds=120, memory_bytes=64 * 1024 * 1024))
    assert isinstance(refused, OverBudget)
    assert "memory budget of 64 MB" in refused.reason


def test_a_full_pool_answers_overloaded_after_a_short_wait(hostile: Path) -> None:
    pool = ReaderPool(workers=1)
    busy = threading.Thread(target=pool.read, args=(hostile,), kwargs={"budget": Budget(seconds=4)})
    busy.start()
    time.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(Overloaded) as refused:
        pool.read(hostile, budget=Budget(seconds=4, queue_seconds=0.3))
    assert time.monotonic() - started < 2
    assert refused.value.retry_after >= 1
    busy.join(30)
    (after,) = pool.read(shared_path("pdf", GOOD), budget=Budget(seconds=60, queue_seconds=0.3))
    assert isinstance(after, Document)  # the slot came back


def test_errors_come_back_with_their_class_and_attributes(tmp_path: Path) -> None:
    empty = tmp_path / "leeg.pdf"
    empty.write_bytes(b"")
    long = tmp_path / "lang.pdf"
    long.write_bytes(pdf_with_content(b"BT /F1 12 Tf 72 700 Td (Zeven paginas) Tj ET", pages=7))
    (unreadable,) = read_isolated(empty)
    assert type(unreadable) is UnreadableDocument
    assert unreadable.reason.startswith("the file is empty")
    (too_long,) = read_isolated(long, options=ReadOptions(max_pages=5))
    assert isinstance(too_long, OverLimit)
    assert (too_long.limit, too_long.value, too_long.maximum) == ("pages", 7, 5)


def test_async_callers_keep_their_event_loop_free(hostile: Path) -> None:
    async def main() -> tuple[list[Document | UnreadableDocument], int]:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.1)
                ticks += 1

        beating = asyncio.create_task(heartbeat())
        items = await read_isolated_async(hostile, budget=Budget(seconds=2), pool=ReaderPool(1))
        beating.cancel()
        return items, ticks

    # In a thread of its own: a session fixture (Playwright's sync API) may hold this thread's loop.
    outcome: list[tuple[list[Document | UnreadableDocument], int]] = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(main())))
    runner.start()
    runner.join(60)
    (refused,), ticks = outcome[0]
    assert isinstance(refused, OverBudget)
    assert ticks >= 10  # the loop ran all along


def test_a_batch_with_a_budget_reports_the_stalling_pdf_and_indexes_the_rest(
    empty_index: Index, hostile: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "map"
    folder.mkdir()
    shutil.copy(hostile, folder / "stall.pdf")
    shutil.copy(shared_path("pdf", GOOD), folder / GOOD)
    options = IngestOptions(defaults=Defaults(municipality="Wassenaar"), budget=Budget(seconds=3))

    report = ingest_paths(empty_index, [folder], options)

    assert report.added == ["GM0629-besluitenlijst-bw-vergadering-11-oktober-2023"]
    ((source, reason),) = report.failed
    assert source == str(folder / "stall.pdf")
    assert reason.startswith("reading took longer than the time budget of 3 s")
