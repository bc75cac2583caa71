"""Threads for the second ranking of a search, where the engine answers reads in parallel
(``IndexEngine.concurrent_reads``: on PostgreSQL each read is a query in its own server process,
so a search costs its slowest ranking, not the sum of its rankings)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_READER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ranking")


class _Done(Future[T]):
    def __init__(self, value: T) -> None:
        super().__init__()
        self.set_result(value)


def start(run: Callable[[], T], parallel: bool) -> Future[T]:
    """``run`` started on a reader thread when ``parallel``; otherwise run now and its result
    wrapped, so callers read both the same way (``.result()``)."""
    return _READER.submit(run) if parallel else _Done(run())
