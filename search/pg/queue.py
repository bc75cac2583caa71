"""Job queue in PostgreSQL: jobs split into units, claimed with ``FOR UPDATE SKIP LOCKED``, leased.

A worker claims the oldest unit that is queued or whose lease expired, renews the lease while it
works, and records the unit's report. A unit that failed ``MAX_ATTEMPTS`` times is marked failed
with its error; a job is done when all its units are. Nothing here knows what a unit does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from search.pg.connection import Database

MAX_ATTEMPTS = 3

CLAIM = """
UPDATE job_units u SET state = 'running', worker = %s, attempts = u.attempts + 1,
       lease_until = now() + make_interval(secs => %s)
WHERE u.id = (
    SELECT id FROM job_units
    WHERE state = 'queued' OR (state = 'running' AND lease_until < now())
    ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1
)
RETURNING u.id, u.job_id, u.ordinal, u.params, u.attempts
"""


@dataclass(frozen=True)
class Unit:
    id: int
    job_id: int
    ordinal: int
    kind: str
    space: str
    params: dict[str, Any]  # the job's parameters updated with the unit's own
    attempts: int


def submit(db: Database, kind: str, space: str, params: dict[str, Any], units: list[dict[str, Any]]) -> int:
    """A new job with its units, in one transaction; returns the job id."""
    with db.write() as conn:
        row = conn.execute(
            "INSERT INTO jobs (kind, space, params) VALUES (%s, %s, %s) RETURNING id",
            (kind, space, Jsonb(params)),
        ).fetchone()
        assert row is not None
        job_id = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO job_units (job_id, ordinal, params) VALUES (%s, %s, %s)",
                [(job_id, i, Jsonb(unit)) for i, unit in enumerate(units)],
            )
    return job_id


def claim(db: Database, worker: str, lease_s: float) -> Unit | None:
    """The next unit for this worker (queued, or abandoned by a worker whose lease ran out)."""
    with db.write() as conn:
        row = conn.execute(CLAIM, (worker, lease_s)).fetchone()
        if row is None:
            return None
        unit_id, job_id, ordinal, unit_params, attempts = row
        job = conn.execute("SELECT kind, space, params FROM jobs WHERE id = %s", (job_id,)).fetchone()
        assert job is not None
        conn.execute("UPDATE jobs SET state = 'running' WHERE id = %s AND state = 'queued'", (job_id,))
    params = {**job[2], **unit_params}
    return Unit(int(unit_id), int(job_id), int(ordinal), str(job[0]), str(job[1]), params, int(attempts))


def renew(db: Database, unit: Unit, worker: str, lease_s: float) -> bool:
    """Extend the lease; False when the unit is no longer this worker's."""
    with db.write() as conn:
        row = conn.execute(
            "UPDATE job_units SET lease_until = now() + make_interval(secs => %s) "
            "WHERE id = %s AND worker = %s AND state = 'running' RETURNING id",
            (lease_s, unit.id, worker),
        ).fetchone()
    return row is not None


def finish(db: Database, unit: Unit, worker: str, report: dict[str, Any] | None, error: str = "") -> None:
    """Record a unit's outcome; an error puts it back in the queue until MAX_ATTEMPTS."""
    state = "done" if not error else ("failed" if unit.attempts >= MAX_ATTEMPTS else "queued")
    with db.write() as conn:
        conn.execute(
            "UPDATE job_units SET state = %s, report = %s, error = %s, lease_until = NULL "
            "WHERE id = %s AND worker = %s",
            (state, Jsonb(report) if report is not None else None, error or None, unit.id, worker),
        )
        conn.execute(
            "UPDATE jobs SET state = CASE WHEN bool_or_failed THEN 'failed' ELSE 'done' END, finished_at = now() "
            "FROM (SELECT bool_or(state = 'failed') AS bool_or_failed, bool_and(state IN ('done', 'failed')) AS over "
            "      FROM job_units WHERE job_id = %s) s WHERE id = %s AND s.over",
            (unit.job_id, unit.job_id),
        )


def progress(db: Database, job_id: int) -> dict[str, Any]:
    """The job's state and the sum over its units: counts by state and their reports added up."""
    with db.primary() as conn:
        job = conn.execute("SELECT kind, state FROM jobs WHERE id = %s", (job_id,)).fetchone()
        rows = conn.execute(
            "SELECT state, count(*), coalesce(jsonb_agg(report) FILTER (WHERE report IS NOT NULL), '[]') "
            "FROM job_units WHERE job_id = %s GROUP BY state",
            (job_id,),
        ).fetchall()
    units = {str(state): int(n) for state, n, _ in rows}
    totals: dict[str, Any] = {"added": 0, "replaced": 0, "skipped": 0, "failed": [], "chunks": 0}
    for _, _, reports in rows:
        for report in reports if isinstance(reports, list) else json.loads(reports):
            for key in ("added", "replaced", "skipped"):
                totals[key] += len(report.get(key, []))
            totals["failed"] += report.get("failed", [])
            totals["chunks"] += int(report.get("chunks", 0))
    return {"job": job_id, "kind": job[0] if job else "", "state": job[1] if job else "unknown",
            "units": units, **totals}  # fmt: skip
