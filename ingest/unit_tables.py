"""Where the embed job's units live (``ingest.embed_units``): the data dir's SQLite file for the
embedded engine, the database for PostgreSQL, so that ``schutting embed --worker-only`` on another
host, with only the database URL and an empty data dir of its own, takes units too.

In PostgreSQL the units of every generation are rows of ``embed_units`` (keyed by the generation's
schema name, removed with it). Workers claim with ``FOR UPDATE SKIP LOCKED``; leases run on the
database's clock, so hosts need not agree on the time. The vectors travel through the database as
well: a worker puts them in the shared embedding cache (``ingest.db_cache``), and the one writer
reads them back from there to apply a unit. Workers do not write chunk vectors themselves: two
transactions filling leading chunks of one document at once would each see the other's as still
missing, and neither would write the document's find-similar profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingest.embed_units import SqliteUnitTable, Unit, UnitTable
from search.engines import Place
from search.pg.connection import Database

UNITS = "id, first_chunk, last_chunk, passages, attempts"
CLAIM = """
UPDATE embed_units u SET state = 'running', worker = %(worker)s, attempts = u.attempts + 1,
       lease_until = now() + make_interval(secs => %(lease)s)
WHERE u.generation = %(generation)s AND u.id = (
    SELECT id FROM embed_units
    WHERE generation = %(generation)s AND (state = 'queued' OR (state = 'running' AND lease_until < now()))
    ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1
)
RETURNING u.id, u.first_chunk, u.last_chunk, u.passages, u.attempts
"""


class PgUnitTable:
    """The units of every generation of a database (``UnitTable`` in the ``embed_units`` table)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def close(self) -> None:
        self._db.close()

    def plan(self, generation: str, chunk_ids: Sequence[int], size: int) -> int:
        with self._db.write() as conn:  # one planner at a time per generation
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('embed-units:' || %s))", (generation,))
            row = conn.execute(
                "SELECT count(*) FROM embed_units WHERE generation = %s AND state != 'applied'", (generation,)
            ).fetchone()
            if row and row[0]:
                return 0
            conn.execute("DELETE FROM embed_units WHERE generation = %s", (generation,))
            parts = [chunk_ids[i : i + size] for i in range(0, len(chunk_ids), size)]
            conn.execute(
                "INSERT INTO embed_units (generation, id, first_chunk, last_chunk, passages) "
                "SELECT %s::text, u.* FROM unnest(%s::int[], %s::bigint[], %s::bigint[], %s::int[]) AS u",
                (generation, list(range(len(parts))), [int(p[0]) for p in parts],
                 [int(p[-1]) for p in parts], [len(p) for p in parts]),
            )  # fmt: skip
        return len(parts)

    def claim(self, generation: str, worker: str, lease_s: float) -> Unit | None:
        with self._db.write() as conn:
            row = conn.execute(
                CLAIM, {"worker": worker, "lease": lease_s, "generation": generation}
            ).fetchone()
        return Unit(generation, *(int(v) for v in row)) if row else None

    def renew(self, unit: Unit, worker: str, lease_s: float) -> bool:
        return self._set(unit, worker, "lease_until = now() + make_interval(secs => %s)", (lease_s,))

    def embedded(self, unit: Unit, worker: str) -> bool:
        return self._set(unit, worker, "state = 'embedded', lease_until = NULL", ())

    def _set(self, unit: Unit, worker: str, assignment: str, args: tuple[float, ...]) -> bool:
        with self._db.write() as conn:
            row = conn.execute(
                f"UPDATE embed_units SET {assignment} "
                "WHERE generation = %s AND id = %s AND worker = %s AND state = 'running' RETURNING id",
                (*args, unit.generation, unit.id, worker),
            ).fetchone()
        return row is not None

    def ready(self, generation: str) -> list[Unit]:
        with self._db.primary() as conn:
            rows = conn.execute(
                f"SELECT {UNITS} FROM embed_units WHERE generation = %s AND state = 'embedded' ORDER BY id",
                (generation,),
            ).fetchall()
        return [Unit(generation, *(int(v) for v in row)) for row in rows]

    def applied(self, unit: Unit) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE embed_units SET state = 'applied' WHERE generation = %s AND id = %s",
                (unit.generation, unit.id),
            )

    def counts(self, generation: str) -> dict[str, int]:
        with self._db.primary() as conn:
            rows = conn.execute(
                "SELECT state, count(*) FROM embed_units WHERE generation = %s GROUP BY state", (generation,)
            ).fetchall()
            retaken = conn.execute(
                "SELECT count(*) FROM embed_units WHERE generation = %s AND attempts > 1", (generation,)
            ).fetchone()
        return {**{str(s): int(n) for s, n in rows}, "retaken": int(retaken[0]) if retaken else 0}

    def attempts(self, generation: str) -> dict[int, tuple[int, str]]:
        with self._db.primary() as conn:
            rows = conn.execute(
                "SELECT id, attempts, worker FROM embed_units WHERE generation = %s", (generation,)
            ).fetchall()
        return {int(i): (int(a), str(w)) for i, a, w in rows}


# Typed so that mypy checks each implementation against the protocol.
UNIT_TABLES: dict[str, Callable[[Place], UnitTable]] = {
    "embedded": lambda place: SqliteUnitTable.in_data_dir(place.data_dir),
    "postgres": lambda place: PgUnitTable(place.database()),
}


def unit_table(place: Place) -> UnitTable:
    """The units of the index at ``place``: in its database on PostgreSQL, else in its data dir."""
    return UNIT_TABLES[place.engine](place)
