"""A running job's progress: counts and failures saved to its record, and an optional display."""

from __future__ import annotations

import time
from typing import Any, Protocol

from api.jobs.records import JobRecords
from ingest.pipeline import IngestReport


class Display(Protocol):
    """Where a foreground job shows its progress (the CLI's progress bar)."""

    def set_total(self, total: int) -> None: ...

    def update(self, report: IngestReport, source: str) -> None: ...


class JobProgress:
    """The progress callback of a running job: saves counts and failures, feeds an optional display."""

    def __init__(self, store: JobRecords, job_id: int, display: Display | None = None) -> None:
        self.store = store
        self.job_id = job_id
        self.display = display
        self.report = IngestReport()
        self.result: dict[str, Any] = {}  # what the runner reports beyond the counts, kept in the record
        self._saved_failures = 0
        self._saved_at = 0.0

    def set_total(self, total: int) -> None:
        self.store.set_total(self.job_id, total)
        if self.display is not None:
            self.display.set_total(total)

    def __call__(self, report: IngestReport, source: str) -> None:
        self.report = report
        if self.display is not None:
            self.display.update(report, source)
        now = time.monotonic()
        if len(report.failed) > self._saved_failures or not source or now - self._saved_at >= 0.25:
            self.store.progress(self.job_id, report, source, report.failed[self._saved_failures :])
            self._saved_failures, self._saved_at = len(report.failed), now
