"""One writer at a time per data directory, across processes and threads.

Every change to an index (ingest, reindex, delete) holds an exclusive ``flock`` on
``data_dir/write.lock``. Acquiring never waits: a second writer gets ``Busy`` at once, with
the holder the file names ("reindex job 7, pid 4242, since ..."). The kernel drops the lock
when its holder dies, even by ``kill -9``, so a crash never leaves the index locked.

``flock`` locks belong to an open file, not to a thread, so a lock taken in a request handler
can be handed to a background thread that releases it when its job ends.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search.errors import Busy

LOCK_FILE = "write.lock"

_held_here: dict[Path, int] = {}  # lock file -> how many WriterLocks of this process hold it
_held_guard = threading.Lock()


class WriterLock:
    """The exclusive write lock of one data directory; ``holder`` says who takes it."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        self.path = (data_dir / LOCK_FILE).absolute()
        self.holder = holder
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> WriterLock:
        """Take the lock or raise Busy naming who has it; never waits."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Busy(
                f"another writer is changing the index in {self.path.parent}: "
                f"{lock_holder(self.path.parent) or 'unknown'}; wait until it has finished "
                "(see `schutting jobs` or GET /admin/jobs) and try again"
            ) from None
        self._fd = fd
        with _held_guard:
            _held_here[self.path] = _held_here.get(self.path, 0) + 1
        self.describe(self.holder)
        return self

    def describe(self, holder: str) -> None:
        """Record who holds the lock, for the Busy message other writers get."""
        self.holder = holder
        if self._fd is not None:
            since = time.strftime("%Y-%m-%d %H:%M:%S")
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{holder}, pid {os.getpid()}, since {since}\n".encode(), 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _held_guard:
            _held_here[self.path] -= 1
            if not _held_here[self.path]:
                del _held_here[self.path]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_holder(data_dir: Path) -> str:
    """Who holds the write lock, as its holder described itself ("" when nobody says)."""
    try:
        return (data_dir / LOCK_FILE).read_text().strip()
    except OSError:
        return ""


def held_by_this_process(data_dir: Path) -> bool:
    with _held_guard:
        return (data_dir / LOCK_FILE).absolute() in _held_here


@contextmanager
def writing(data_dir: Path, holder: str) -> Iterator[None]:
    """Hold the write lock for a block, unless this process already holds it (a job that took it)."""
    if held_by_this_process(data_dir):
        yield
        return
    with WriterLock(data_dir, holder):
        yield


def other_process_alive(pid: int) -> bool:
    """Whether a process with this pid runs and is not this one (for records left by a crash)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
