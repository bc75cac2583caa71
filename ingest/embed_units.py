"""Embedding work units: ranges of pending chunk ids, leased to whichever process takes them.

A process claims the oldest unit that is queued, or running with an expired lease (its worker was
killed or hangs), renews the lease while it embeds, and marks the unit embedded; the writer marks
it applied once the vectors are in the index. Progress is an aggregate over units.

``UnitTable`` is where the units live. For the embedded engine it is one SQLite file in the data
dir (``embed-units.sqlite``, WAL) with the units of every generation (``SqliteUnitTable``, here);
for PostgreSQL a table in the database, so workers on other hosts take units too
(``ingest.unit_tables``, which also picks the one for a ``Place``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

UNITS_FILE = "embed-units.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    generation TEXT NOT NULL,
    id INTEGER NOT NULL,
    first INTEGER NOT NULL,       -- chunk ids first..last: the pending chunks between them
    last INTEGER NOT NULL,
    passages INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',  -- queued, running, embedded (vectors in the cache), applied
    worker TEXT NOT NULL DEFAULT '',
    lease_until REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (generation, id)
);
"""


@dataclass(frozen=True)
class Unit:
    generation: str
    id: int
    first: int
    last: int
    passages: int
    attempts: int


class UnitTable(Protocol):
    """The units of an index's generations; safe to share between threads and processes."""

    def plan(self, generation: str, chunk_ids: Sequence[int], size: int) -> int:
        """Cut pending chunk ids into units of ``size``, unless units are still open; returns how many."""
        ...

    def claim(self, generation: str, worker: str, lease_s: float) -> Unit | None:
        """The oldest queued unit, or a running one whose lease ran out; None when there is none."""
        ...

    def renew(self, unit: Unit, worker: str, lease_s: float) -> bool:
        """Extend the lease; False when the unit is no longer this worker's (it was retaken)."""
        ...

    def embedded(self, unit: Unit, worker: str) -> bool:
        """The unit's vectors are in the embedding cache; False when it is no longer this worker's."""
        ...

    def ready(self, generation: str) -> list[Unit]:
        """Units whose vectors are in the cache, waiting for the writer."""
        ...

    def applied(self, unit: Unit) -> None: ...

    def counts(self, generation: str) -> dict[str, int]:
        """Units by state, and how many were taken more than once (a worker died or hung)."""
        ...

    def attempts(self, generation: str) -> dict[int, tuple[int, str]]:
        """(attempts, last worker) per unit id."""
        ...

    def close(self) -> None: ...


class SqliteUnitTable:
    """The units of all generations of a data dir, in one SQLite file."""

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SqliteUnitTable:
        return cls(data_dir / UNITS_FILE)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def plan(self, generation: str, chunk_ids: Sequence[int], size: int) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._open(generation):
                    self._db.execute("COMMIT")
                    return 0
                self._db.execute("DELETE FROM units WHERE generation = ?", (generation,))
                parts = [chunk_ids[i : i + size] for i in range(0, len(chunk_ids), size)]
                self._db.executemany(
                    "INSERT INTO units (generation, id, first, last, passages) VALUES (?, ?, ?, ?, ?)",
                    [(generation, n, int(p[0]), int(p[-1]), len(p)) for n, p in enumerate(parts)],
                )
                self._db.execute("COMMIT")
                return len(parts)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _open(self, generation: str) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM units WHERE generation = ? AND state != 'applied'", (generation,)
        ).fetchone()
        return int(row[0])

    def claim(self, generation: str, worker: str, lease_s: float) -> Unit | None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT id, first, last, passages, attempts FROM units WHERE generation = ? AND "
                    "(state = 'queued' OR (state = 'running' AND lease_until < ?)) ORDER BY id LIMIT 1",
                    (generation, now),
                ).fetchone()
                if row is not None:
                    self._db.execute(
                        "UPDATE units SET state = 'running', worker = ?, lease_until = ?, attempts = attempts + 1 "
                        "WHERE generation = ? AND id = ?",
                        (worker, now + lease_s, generation, row[0]),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Unit(generation, row[0], row[1], row[2], row[3], row[4] + 1) if row else None

    def renew(self, unit: Unit, worker: str, lease_s: float) -> bool:
        return self._set(unit, worker, "running", "lease_until = ?", (time.time() + lease_s,))

    def embedded(self, unit: Unit, worker: str) -> bool:
        return self._set(unit, worker, "embedded", "state = 'embedded'", ())

    def _set(self, unit: Unit, worker: str, state: str, assignment: str, args: tuple[float, ...]) -> bool:
        with self._lock:
            cur = self._db.execute(
                f"UPDATE units SET {assignment} WHERE generation = ? AND id = ? AND worker = ? AND state = 'running'",
                (*args, unit.generation, unit.id, worker),
            )
        return cur.rowcount == 1

    def ready(self, generation: str) -> list[Unit]:
        rows = self._db.execute(
            "SELECT id, first, last, passages, attempts FROM units WHERE generation = ? AND state = 'embedded' "
            "ORDER BY id",
            (generation,),
        ).fetchall()
        return [Unit(generation, *row) for row in rows]

    def applied(self, unit: Unit) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE units SET state = 'applied' WHERE generation = ? AND id = ?",
                (unit.generation, unit.id),
            )

    def counts(self, generation: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT state, COUNT(*) FROM units WHERE generation = ? GROUP BY state", (generation,)
        ).fetchall()
        retaken = self._db.execute(
            "SELECT COUNT(*) FROM units WHERE generation = ? AND attempts > 1", (generation,)
        ).fetchone()
        return {**{str(s): int(n) for s, n in rows}, "retaken": int(retaken[0])}

    def attempts(self, generation: str) -> dict[int, tuple[int, str]]:
        rows = self._db.execute("SELECT id, attempts, worker FROM units WHERE generation = ?", (generation,))
        return {int(i): (int(a), str(w)) for i, a, w in rows}
