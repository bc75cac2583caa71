"""Where the index lives, and the one place that opens it: the embedded engine under a data
directory (the default), or PostgreSQL when a database URL is configured (issue #12).

A ``Place`` names an index: ``data_dir`` for the embedded engine, ``database_url`` (plus an
optional read replica) and a ``space`` for PostgreSQL. ``sub(name)`` is a separate index beside
it (the cached index of an evaluation set).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Protocol

from search import generations
from search.embedders import Embedder
from search.engine import IndexEngine
from search.errors import NoIndex
from search.index import Manifest

if TYPE_CHECKING:
    from search.config import IndexSettings
    from search.pg.connection import Database

MAIN_SPACE = "main"


class OpenedIndex(IndexEngine, Protocol):
    """A live generation as the edges see it: the contract plus its model and its name."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def folder(self) -> PurePath:
        """The generation's folder (embedded), or a path-shaped name (PostgreSQL schema)."""
        ...


@dataclass(frozen=True)
class Place:
    data_dir: Path
    database_url: str = ""
    database_read_url: str = ""
    space: str = MAIN_SPACE

    @classmethod
    def of(cls, settings: IndexSettings) -> Place:
        return cls(settings.data_dir, settings.database_url, settings.database_read_url)

    @property
    def engine(self) -> str:
        return "postgres" if self.database_url else "embedded"

    def sub(self, name: str) -> Place:
        """Another index beside this one: a folder under the data dir, or a space in the database."""
        return replace(self, data_dir=self.data_dir / name, space=name)

    def database(self) -> Database:
        from search.pg.connection import Database

        return Database(self.database_url, self.database_read_url)


def open_live(place: Place, embedder: Embedder | None = None, create: bool = False) -> OpenedIndex | None:
    """The live generation; with ``create`` (and an embedder), a new empty one when there is none."""
    if not place.database_url:
        return generations.open_live(place.data_dir, embedder, create)
    from search.pg import generations as pg_generations
    from search.pg.engine import PgEngine

    db = place.database()
    try:
        live = pg_generations.live(db, place.space, primary=True)
        if live is None and create and embedder is not None:
            live = pg_generations.create_live(db, place.space, embedder.model_id, embedder.dim)
        if live is None:
            db.close()
            return None
        return PgEngine(db, live, embedder, owns_db=True)
    except BaseException:
        db.close()
        raise


def model_id(index: OpenedIndex) -> str:
    """The embedding model an index was built with."""
    return index.manifest.model_id


def require_live(place: Place) -> OpenedIndex:
    """The live generation, or NoIndex: the one answer for "nothing ingested yet"."""
    index = open_live(place)
    if index is None:
        raise NoIndex(generations.NO_INDEX)
    return index


class LiveEngine:
    """The live generation for a long-running reader (an API node), following swaps by any node."""

    def __init__(self, place: Place) -> None:
        self.place = place
        self._embedded = None if place.database_url else generations.LiveIndex(place.data_dir)
        self._db: Database | None = None
        self._engine: OpenedIndex | None = None
        self._lock = threading.Lock()

    def get(self) -> OpenedIndex | None:
        if self._embedded is not None:
            return self._embedded.get()
        from search.pg import generations as pg_generations
        from search.pg.engine import PgEngine

        with self._lock:
            if self._db is None:
                self._db = self.place.database()
            live = pg_generations.live(self._db, self.place.space)
            current = self._engine
            if live is None:
                return None
            if not isinstance(current, PgEngine) or current.generation.name != live.name:
                embedder = (
                    current.embedder
                    if isinstance(current, PgEngine) and current.manifest.model_id == live.model_id
                    else None
                )
                self._engine = PgEngine(self._db, live, embedder)
            return self._engine

    def require(self) -> OpenedIndex:
        index = self.get()
        if index is None:
            raise NoIndex(generations.NO_INDEX)
        return index

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
