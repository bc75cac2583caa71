"""Index generations under the data directory, and the atomic swap between them.

    data/CURRENT                 name of the live generation
    data/generations/<name>/     manifest.json, catalog.sqlite, vectors.faiss, lexical/

A reindex builds a new generation beside the live one and swaps CURRENT with one rename;
readers notice the swap on their next request and reopen.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from search.embedders import Embedder
from search.errors import NoIndex
from search.index import Index

CURRENT = "CURRENT"
NO_INDEX = "no index yet: ingest documents first (schutting ingest PATH)"


def generations_dir(data_dir: Path) -> Path:
    return data_dir / "generations"


def current_name(data_dir: Path) -> str | None:
    try:
        name = (data_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def new_generation(data_dir: Path, embedder: Embedder) -> Index:
    name = time.strftime("g%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    return Index.create(generations_dir(data_dir) / name, embedder)


def activate(data_dir: Path, folder: Path, grace_seconds: float = 0.0) -> None:
    """Make a generation live (atomic rename) and remove the ones it replaces.

    ``grace_seconds`` lets searches already running on the old generation finish first.
    """
    tmp = data_dir / f"{CURRENT}.tmp{os.getpid()}"
    tmp.write_text(folder.name)
    os.replace(tmp, data_dir / CURRENT)
    if grace_seconds:
        time.sleep(grace_seconds)
    for old in generations_dir(data_dir).iterdir():
        if old.is_dir() and old.name != folder.name and not _in_progress(old):
            shutil.rmtree(old, ignore_errors=True)


def _in_progress(folder: Path) -> bool:
    """A generation still being built by a running job carries a BUILDING marker."""
    return (folder / "BUILDING").exists()


def open_live(data_dir: Path, embedder: Embedder | None = None, create: bool = False) -> Index | None:
    """The live generation; with create, a new empty one made live when there is none."""
    name = current_name(data_dir)
    if name is not None and (generations_dir(data_dir) / name / "manifest.json").exists():
        return Index.open(generations_dir(data_dir) / name, embedder)
    if not create or embedder is None:
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    index = new_generation(data_dir, embedder)
    activate(data_dir, index.folder)
    return index


def require_live(data_dir: Path) -> Index:
    """The live generation, or NoIndex: the one answer for "nothing ingested yet" at every edge."""
    index = open_live(data_dir)
    if index is None:
        raise NoIndex(NO_INDEX)
    return index


class LiveIndex:
    """The live generation for a long-running reader (the web app), reopened after a swap."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._index: Index | None = None
        self._retired: Index | None = None  # the generation before the last swap, closed at the next
        self._lock = threading.Lock()

    def get(self) -> Index | None:
        with self._lock:
            name = current_name(self.data_dir)
            if self._index is not None and self._index.folder.name == name:
                return self._index
            embedder = self._index.embedder if self._index is not None else None
            fresh = open_live(self.data_dir)
            if fresh is not None and embedder is not None and embedder.model_id == fresh.manifest.model_id:
                fresh._embedder = embedder  # keep the loaded model across swaps
            if self._retired is not None:
                self._retired.close()  # a whole swap ago: no request still searches it
            self._retired, self._index = self._index, fresh
            return fresh

    def require(self) -> Index:
        """The live generation, or NoIndex when nothing has been ingested yet."""
        index = self.get()
        if index is None:
            raise NoIndex(NO_INDEX)
        return index
