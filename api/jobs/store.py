"""Admin job records in ``data_dir/jobs.sqlite``: the embedded engine's ``JobRecords`` (``api.jobs.records``).

A job whose process died (kill -9, power loss) is found by its pid: no process has it any more, or it
is this process's but not among the runner's active jobs. ``JobStore.for_settings`` gives the
records of the configured engine: these, or the database's on PostgreSQL (``api.jobs.pg_store``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.errors import JobNotFound
from api.jobs.records import KINDS, Job, JobRecords, interrupted, report_counts
from api.settings import Settings
from ingest.pipeline import IngestReport
from search.locking import other_process_alive

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    pid INTEGER,
    total INTEGER,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    current TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    rerun_of INTEGER,
    added INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS job_errors (
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    source TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_errors_job ON job_errors(job_id);
"""
ADDED_COLUMNS = {  # columns newer than the first jobs.sqlite files: added to those when opened
    "added": "INTEGER NOT NULL DEFAULT 0",
    "updated": "INTEGER NOT NULL DEFAULT 0",
    "result": "TEXT NOT NULL DEFAULT '{}'",
}


class JobStore:
    """Job records in SQLite (``JobRecords`` of the embedded engine); one short connection per call,
    so any thread or process may use it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            _add_columns(db)

    @classmethod
    def for_settings(cls, settings: Settings) -> JobRecords:
        """The records of the configured engine: in the database on PostgreSQL, else in the data dir."""
        if settings.database_url:
            from api.jobs.pg_store import PgJobStore  # psycopg only when the database is used

            return PgJobStore.for_settings(settings)
        return cls(settings.data_dir / "jobs.sqlite")

    def close(self) -> None:
        """Nothing to close: every call opens and closes its own connection."""

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def create(self, kind: str, params: dict[str, Any], rerun_of: int | None = None) -> Job:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO jobs(kind, state, params, created_at, rerun_of) VALUES (?, 'queued', ?, ?, ?)",
                (kind, json.dumps(params, ensure_ascii=False), _now(), rerun_of),
            )
            job_id = int(cur.lastrowid or 0)
        return self.get(job_id)

    def start(self, job_id: int) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET state = 'running', pid = ?, started_at = ? WHERE id = ?",
                (os.getpid(), _now(), job_id),
            )

    def set_total(self, job_id: int, total: int) -> None:
        with self._db() as db:
            db.execute("UPDATE jobs SET total = ? WHERE id = ?", (total, job_id))

    def progress(self, job_id: int, report: IngestReport, current: str, new_failures: Iterable[Any]) -> None:
        with self._db() as db:
            _write_counts(db, job_id, report, current)
            db.executemany(
                "INSERT INTO job_errors(job_id, source, reason) VALUES (?, ?, ?)",
                [(job_id, source, reason) for source, reason in new_failures],
            )

    def set_result(self, job_id: int, result: dict[str, Any]) -> None:
        """What the kind reports so far (a harvest: its counts per municipality), while it runs."""
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET result = ? WHERE id = ?", (json.dumps(result, ensure_ascii=False), job_id)
            )

    def finish(
        self, job_id: int, report: IngestReport, error: str = "", result: dict[str, Any] | None = None
    ) -> None:
        """Final counts, the complete list of failures and the result; ``failed`` when error is given."""
        with self._db() as db:
            _write_counts(db, job_id, report, "")
            db.execute("DELETE FROM job_errors WHERE job_id = ?", (job_id,))
            db.executemany(
                "INSERT INTO job_errors(job_id, source, reason) VALUES (?, ?, ?)",
                [(job_id, source, reason) for source, reason in report.failed],
            )
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, finished_at = ?, result = ? WHERE id = ?",
                ("failed" if error else "done", error, _now(), json.dumps(result or {}, ensure_ascii=False),
                 job_id),
            )  # fmt: skip

    def get(self, job_id: int) -> Job:
        with self._db() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id}: see `schutting jobs` or GET /admin/jobs")
        return _job(row)

    def recent(self, limit: int = 50) -> list[Job]:
        with self._db() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_job(r) for r in rows]

    def errors(self, job_id: int) -> list[tuple[str, str]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT source, reason FROM job_errors WHERE job_id = ? ORDER BY rowid", (job_id,)
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def mark_interrupted(self, job_ids: Iterable[int] | None = None) -> list[int]:
        """Fail unfinished jobs (all of them, or those given) whose process has stopped."""
        with self._db() as db:
            rows = db.execute("SELECT id, pid FROM jobs WHERE state IN ('queued', 'running')").fetchall()
            wanted = None if job_ids is None else set(job_ids)
            stale = [(i, pid) for i, pid in rows if wanted is None or i in wanted]
            for job_id, pid in stale:
                db.execute(
                    "UPDATE jobs SET state = 'failed', finished_at = ?, current = '', error = ? WHERE id = ?",
                    (_now(), interrupted(pid), job_id),
                )
        return [i for i, _ in stale]

    def recover(self, active: Iterable[int] = ()) -> list[int]:
        """Mark unfinished jobs interrupted whose process is gone (this process: unless in ``active``)."""
        running = set(active)
        with self._db() as db:
            rows = db.execute("SELECT id, pid FROM jobs WHERE state IN ('queued', 'running')").fetchall()
        stale = [i for i, pid in rows if i not in running and not _alive_elsewhere(pid)]
        return self.mark_interrupted(stale) if stale else []


_COLUMNS = (
    "id, kind, state, params, pid, total, done, failed, skipped, removed, chunks, current, error, "
    "created_at, started_at, finished_at, rerun_of, added, updated, result"
)


def _job(row: tuple[Any, ...]) -> Job:
    values = list(row)
    values[3] = json.loads(values[3] or "{}")
    values[-1] = json.loads(values[-1] or "{}")
    return Job(*values)


def _add_columns(db: sqlite3.Connection) -> None:
    """Bring a jobs table made by an earlier version up to date (another process may race us)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    for name, declaration in ADDED_COLUMNS.items():
        if name not in present:
            try:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {declaration}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise


def _write_counts(db: sqlite3.Connection, job_id: int, report: IngestReport, current: str) -> None:
    db.execute(
        "UPDATE jobs SET done = ?, added = ?, updated = ?, failed = ?, skipped = ?, removed = ?, chunks = ?, "
        "current = ? WHERE id = ?",
        (*report_counts(report), current, job_id),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _alive_elsewhere(pid: int | None) -> bool:
    """True when another process with this pid runs; a job of this process not in ``active`` is dead."""
    if pid is None:
        return True  # queued, not started: the job submitter is alive if its lock is
    return other_process_alive(pid)
