"""Read a source file in a worker process with a time and memory budget, so that no file can stall the caller.

A PDF of 18 KB can hold a 5 MB text stream that keeps pypdf busy for half a minute; a compressed stream can
unpack to gigabytes. ``read_isolated`` runs ``read_source`` in a child process with an address-space limit
(``RLIMIT_AS``) and kills it when the time budget is spent; either way the caller gets an ``OverBudget``
error for that file and carries on. At most ``workers`` files are read at once (a ``ReaderPool``); a call
that finds every reader busy for ``Budget.queue_seconds`` gets ``Overloaded`` (HTTP 429 with Retry-After).

Children are forked from a ``forkserver`` that has the readers imported already: a fork costs milliseconds,
is single-threaded (safe next to the server's threads), and gives every file a fresh process to limit.

    from ingest.sandbox import Budget, read_isolated, read_isolated_async
    items = read_isolated(path, Defaults(), ReadOptions(max_pages=2000), Budget(seconds=60))
    items = await read_isolated_async(path, ...)        # from a request handler: the event loop stays free
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import search.errors
from ingest.sources import Defaults, ReadOptions, read_source
from search.errors import OverBudget, Overloaded, UnreadableDocument
from search.types import Document

PRELOAD = [
    "__main__",
    "ingest.sandbox",
    "ingest.pdf",
    "ingest.ocr",
    "ingest.cvdr",
    "ingest.regelrecht",
    "ingest.text",
]
_MB = 1024 * 1024


@dataclass(frozen=True)
class Budget:
    """What reading one file may cost, and how long a call may wait for a free reader."""

    seconds: float = 120.0  # wall-clock time, OCR included
    memory_bytes: int = 1536 * _MB  # address space reading may add to the reader process (RLIMIT_AS)
    queue_seconds: float | None = 2.0  # wait for a free reader; None: as long as it takes


Item = Document | UnreadableDocument


class ReaderPool:
    """At most ``workers`` files read at once, each in its own budgeted process."""

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be 1 or more, got {workers}")
        self.workers = workers
        self._slots = threading.BoundedSemaphore(workers)

    def read(
        self, path: Path, defaults: Defaults = Defaults(), options: ReadOptions = ReadOptions(),
        budget: Budget = Budget(),
    ) -> list[Item]:  # fmt: skip
        """The documents in ``path`` or the reason each failed; raises Overloaded when no reader frees up."""
        if not self._slots.acquire(timeout=budget.queue_seconds):
            raise Overloaded(
                f"all {self.workers} document readers are busy; try again in a few seconds",
                retry_after=max(1, round(min(budget.seconds, 30) / 4)),
            )
        try:
            return _read_in_child(path, defaults, options, budget)
        finally:
            self._slots.release()

    async def read_async(
        self, path: Path, defaults: Defaults = Defaults(), options: ReadOptions = ReadOptions(),
        budget: Budget = Budget(),
    ) -> list[Item]:  # fmt: skip
        """``read`` from a coroutine: the waiting happens in a thread, the event loop stays free."""
        return await asyncio.to_thread(self.read, path, defaults, options, budget)


_shared: ReaderPool | None = None
_shared_lock = threading.Lock()


def shared_pool(workers: int | None = None) -> ReaderPool:
    """The process-wide pool; ``workers`` (default: the number of CPUs, 1 to 4) resizes it for later calls."""
    global _shared
    with _shared_lock:
        wanted = workers or max(1, min(4, os.cpu_count() or 1))
        if _shared is None or (workers is not None and _shared.workers != wanted):
            _shared = ReaderPool(wanted)
        return _shared


def read_isolated(
    path: Path, defaults: Defaults = Defaults(), options: ReadOptions = ReadOptions(),
    budget: Budget = Budget(), pool: ReaderPool | None = None,
) -> list[Item]:  # fmt: skip
    """``read_source`` in a budgeted worker process of ``pool`` (default: the shared pool)."""
    return (pool or shared_pool()).read(path, defaults, options, budget)


async def read_isolated_async(
    path: Path, defaults: Defaults = Defaults(), options: ReadOptions = ReadOptions(),
    budget: Budget = Budget(), pool: ReaderPool | None = None,
) -> list[Item]:  # fmt: skip
    """``read_isolated`` for async code (an HTTP handler): never blocks the event loop."""
    return await (pool or shared_pool()).read_async(path, defaults, options, budget)


# --- the parent side ------------------------------------------------------------------------------


def _read_in_child(path: Path, defaults: Defaults, options: ReadOptions, budget: Budget) -> list[Item]:
    receiver, sender = _context().Pipe(duplex=False)
    child = _context().Process(
        target=_work, args=(sender, path, defaults, options, budget), name=f"reader {path.name}", daemon=True
    )
    started = time.monotonic()
    child.start()
    sender.close()
    answered = False
    try:
        if not receiver.poll(budget.seconds):
            return [_over_time(path, budget, time.monotonic() - started)]
        answered = True
        try:
            kind, payload = receiver.recv()
        except (EOFError, OSError):
            child.join(5)
            return [_crashed(path, budget, child.exitcode)]
    finally:
        receiver.close()
        _stop(child, grace=1.0 if answered else 0.0)
    if kind == "memory":
        return [_over_memory(path, budget)]
    if kind == "error":
        return [UnreadableDocument(str(path), f"unexpected error while reading: {payload}")]
    return [_restore(item) for item in payload]


def _stop(child: Any, grace: float) -> None:
    """Wait `grace` seconds for the child to end, then kill it with everything it started (tesseract)."""
    child.join(grace)
    if child.is_alive():
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the child leads its own process group
        except (ProcessLookupError, PermissionError):
            child.kill()
        child.join(5)
    child.close()


def _over_time(path: Path, budget: Budget, spent: float) -> OverBudget:
    return OverBudget(
        str(path),
        f"reading took longer than the time budget of {budget.seconds:g} s (stopped after {spent:.1f} s); "
        "the file may be damaged or built to stall readers: export it again or split it",
    )


def _over_memory(path: Path, budget: Budget) -> OverBudget:
    return OverBudget(
        str(path),
        f"reading needed more than the memory budget of {budget.memory_bytes // _MB} MB; "
        "the file may be damaged or built to exhaust memory: export it again or split it",
    )


def _crashed(path: Path, budget: Budget, exitcode: int | None) -> UnreadableDocument:
    if exitcode is not None and exitcode < 0:  # a signal: SIGKILL from the OOM killer, SIGSEGV in a parser
        return _over_memory(path, budget) if exitcode == -9 else UnreadableDocument(
            str(path), f"the reader crashed on this file (signal {-exitcode}); the file is probably damaged"
        )  # fmt: skip
    return UnreadableDocument(str(path), f"the reader stopped without an answer (exit code {exitcode})")


def _context() -> Any:
    """Forkserver where the platform has it (Linux): fast, single-threaded forks of preloaded readers."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


# --- the child side -------------------------------------------------------------------------------


def _work(sender: Connection, path: Path, defaults: Defaults, options: ReadOptions, budget: Budget) -> None:
    """In the child: limit memory and CPU, read, send back ("ok", items), ("memory", None) or ("error", text)."""
    limit = _address_space() + budget.memory_bytes  # the budget is what reading may add
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(budget.seconds) + 5  # a backstop should the parent die before it can kill us
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    os.setpgid(0, 0)  # a group of its own: a kill on timeout also ends an OCR subprocess
    os.nice(10)  # reading yields the CPU to searches: a server keeps answering while files are read
    try:
        message: tuple[str, Any] = ("ok", [_portable(item) for item in read_source(path, defaults, options)])
    except MemoryError:
        message = ("memory", None)
    except Exception as exc:  # a reader bug costs this file, not the caller
        message = ("error", f"{type(exc).__name__}: {exc}")
    try:
        sender.send(message)
    except MemoryError:
        sender.send(("memory", None))
    finally:
        sender.close()


def _address_space() -> int:
    """The bytes of address space this process has now (what the forkserver preloaded); 0 if unknown."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _portable(item: Item) -> Any:
    """Exceptions with extra __init__ arguments do not unpickle; they travel as plain data."""
    if isinstance(item, UnreadableDocument):
        return ("unreadable", type(item).__name__, str(item), dict(vars(item)))
    return item


def _restore(item: Any) -> Item:
    if not isinstance(item, tuple):
        return item
    _, name, message, attributes = item
    kind = getattr(search.errors, name, None)
    cls = kind if isinstance(kind, type) and issubclass(kind, UnreadableDocument) else UnreadableDocument
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(attributes)
    return error
