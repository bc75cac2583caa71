"""Admin job records in PostgreSQL (``admin_jobs``, ``admin_job_errors``): every API node lists every
job, with its live progress and per-document errors, whichever node or CLI runs it.

The process that records a job runs it and keeps it alive: a timer renews ``heartbeat_at`` every
third of the lease while the job is unfinished, and so does every progress write. A job whose
heartbeat is older than its lease (``SCHUTTING_JOB_LEASE_S``, 60 s; the runner's, kept in the
row) lost its process (kill -9, power loss, a host gone) and is marked ``failed``
("interrupted") by whichever node lists jobs next. Heartbeats and leases run on the database's
clock, so hosts need not agree on the time. The write lock stays the node's (``search.locking``,
per data dir): a node holding it knows that none of its own earlier jobs still runs, but says
nothing about other nodes' jobs, which only their heartbeats do.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from api.errors import JobNotFound
from api.jobs.records import KINDS, Job, interrupted, report_counts
from api.settings import Settings
from ingest.pipeline import IngestReport
from search.engines import Place
from search.pg.connection import Database

log = logging.getLogger(__name__)

HOST = socket.gethostname()
COLUMNS = (
    "id, kind, state, params, pid, total, done, failed, skipped, removed, chunks, current, error, "
    "created_at, started_at, finished_at, rerun_of, added, updated, result"
)
UNFINISHED = "state IN ('queued', 'running')"
EXPIRED = "heartbeat_at + make_interval(secs => lease_s) < now()"


class PgJobStore:
    """``JobRecords`` in the database of one space; ``node`` names this host and data dir."""

    def __init__(self, db: Database, space: str, node: str, lease_s: float = 60.0) -> None:
        self._db = db
        self.space, self.node, self.lease_s = space, node, lease_s
        self._mine: set[int] = set()  # unfinished jobs this process recorded: it renews their heartbeat
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> PgJobStore:
        place = Place.of(settings)
        node = f"{HOST}:{settings.data_dir.resolve()}"
        return cls(Database(settings.database_url), place.space, node, settings.job_lease_s)

    def close(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        self._db.close()

    def create(self, kind: str, params: dict[str, Any], rerun_of: int | None = None) -> Job:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        with self._db.write() as conn:
            row = conn.execute(
                "INSERT INTO admin_jobs (space, kind, params, node, host, rerun_of, lease_s) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (self.space, kind, Jsonb(params), self.node, HOST, rerun_of, self.lease_s),
            ).fetchone()
        assert row is not None  # INSERT ... RETURNING always gives the row
        self._keep(int(row[0]))
        return self.get(int(row[0]))

    def start(self, job_id: int) -> None:
        self._keep(job_id)
        self._update(
            job_id, "state = 'running', pid = %s, host = %s, started_at = now()", (os.getpid(), HOST)
        )

    def set_total(self, job_id: int, total: int) -> None:
        self._update(job_id, "total = %s", (total,))

    def progress(self, job_id: int, report: IngestReport, current: str, new_failures: Iterable[Any]) -> None:
        with self._db.write() as conn:
            _write_counts(conn, job_id, report, current)
            _add_errors(conn, job_id, new_failures)

    def set_result(self, job_id: int, result: dict[str, Any]) -> None:
        self._update(job_id, "result = %s", (Jsonb(result),))

    def finish(
        self, job_id: int, report: IngestReport, error: str = "", result: dict[str, Any] | None = None
    ) -> None:
        with self._db.write() as conn:
            _write_counts(conn, job_id, report, "")
            conn.execute("DELETE FROM admin_job_errors WHERE job_id = %s", (job_id,))
            _add_errors(conn, job_id, report.failed)
            conn.execute(
                "UPDATE admin_jobs SET state = %s, error = %s, finished_at = now(), result = %s WHERE id = %s",
                ("failed" if error else "done", error, Jsonb(result or {}), job_id),
            )
        self._drop([job_id])

    def get(self, job_id: int) -> Job:
        with self._db.primary() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM admin_jobs WHERE id = %s AND space = %s", (job_id, self.space)
            ).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id}: see `schutting jobs` or GET /admin/jobs")
        return _job(row)

    def recent(self, limit: int = 50) -> list[Job]:
        with self._db.primary() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM admin_jobs WHERE space = %s ORDER BY id DESC LIMIT %s",
                (self.space, limit),
            ).fetchall()
        return [_job(row) for row in rows]

    def errors(self, job_id: int) -> list[tuple[str, str]]:
        with self._db.primary() as conn:
            rows = conn.execute(
                "SELECT source, reason FROM admin_job_errors WHERE job_id = %s ORDER BY id", (job_id,)
            ).fetchall()
        return [(str(source), str(reason)) for source, reason in rows]

    def mark_interrupted(self, job_ids: Iterable[int] | None = None) -> list[int]:
        """Fail the unfinished jobs given; with None, those whose heartbeat expired and this node's
        own (the caller holds this node's write lock, so none of them still runs)."""
        if job_ids is None:
            return self._interrupt(f"({EXPIRED} OR node = %s)", (self.node,))
        return self._interrupt("id = ANY(%s::bigint[])", (list(job_ids),))

    def recover(self, active: Iterable[int] = ()) -> list[int]:
        """Fail unfinished jobs whose heartbeat expired (their process died), unless in ``active``."""
        return self._interrupt(f"{EXPIRED} AND NOT id = ANY(%s::bigint[])", (list(active),))

    def _interrupt(self, condition: str, args: Sequence[Any]) -> list[int]:
        with self._db.write() as conn:
            rows = conn.execute(
                f"SELECT id, pid, host FROM admin_jobs WHERE space = %s AND {UNFINISHED} AND {condition} "
                "ORDER BY id FOR UPDATE SKIP LOCKED",
                (self.space, *args),
            ).fetchall()
            for job_id, pid, host in rows:
                conn.execute(
                    "UPDATE admin_jobs SET state = 'failed', finished_at = now(), current = '', error = %s "
                    "WHERE id = %s",
                    (interrupted(pid, host), job_id),
                )
        stale = [int(job_id) for job_id, _, _ in rows]
        self._drop(stale)
        return stale

    def _update(self, job_id: int, assignments: str, args: Sequence[Any]) -> None:
        with self._db.write() as conn:
            conn.execute(
                f"UPDATE admin_jobs SET {assignments}, heartbeat_at = now() WHERE id = %s", (*args, job_id)
            )

    def _keep(self, job_id: int) -> None:
        """Renew this job's heartbeat from a timer until it finishes (or is found interrupted)."""
        with self._guard:
            self._mine.add(job_id)
            if self._timer is None:
                self._timer = threading.Thread(target=self._beat, name="schutting-job-heartbeat", daemon=True)
                self._timer.start()

    def _drop(self, job_ids: Iterable[int]) -> None:
        with self._guard:
            self._mine.difference_update(job_ids)

    def _beat(self) -> None:
        while not self._stop.wait(max(self.lease_s / 3, 0.1)):
            with self._guard:
                mine = sorted(self._mine)
            try:
                if mine:
                    self._renew(mine)
            except Exception:  # the database is away for a moment: the next beat tries again
                log.warning("could not renew the heartbeat of jobs %s", mine, exc_info=True)

    def _renew(self, job_ids: list[int]) -> None:
        with self._db.write() as conn:
            conn.execute(
                f"UPDATE admin_jobs SET heartbeat_at = now() WHERE id = ANY(%s::bigint[]) AND {UNFINISHED}",
                (job_ids,),
            )


def _write_counts(conn: Connection, job_id: int, report: IngestReport, current: str) -> None:
    conn.execute(
        "UPDATE admin_jobs SET done = %s, added = %s, updated = %s, failed = %s, skipped = %s, removed = %s, "
        "chunks = %s, current = %s, heartbeat_at = now() WHERE id = %s",
        (*report_counts(report), current, job_id),
    )


def _add_errors(conn: Connection, job_id: int, failures: Iterable[Any]) -> None:
    rows = [(job_id, source, reason) for source, reason in failures]
    if rows:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO admin_job_errors (job_id, source, reason) VALUES (%s, %s, %s)", rows)


def _job(row: tuple[Any, ...]) -> Job:
    """A row as the embedded engine's records read: times as UTC ISO text, JSON as dicts."""
    values: list[Any] = [_iso(v) if isinstance(v, datetime) else v for v in row]
    return Job(*values)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
