"""The progress display of foreground jobs (`schutting ingest`, `reindex`, `harvest`, `jobs --rerun`):
documents done of total, with rate and ETA."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ingest.pipeline import IngestReport

PLAIN_EVERY_S = 5.0  # progress lines when stderr is not a terminal


class ProgressBar:
    """Documents done of total, with rate and ETA: tqdm on a terminal, a line every few seconds otherwise."""

    def __init__(self, label: str, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.bar: Any = None
        self.total: int | None = None
        self.unit = "passages" if label == "embed" else "documents"  # an embed job counts passages
        self._started = time.monotonic()
        self._printed = self._started

    def __enter__(self) -> ProgressBar:
        if not self.quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(desc=self.label, unit=self.unit[:-1], file=sys.stderr, dynamic_ncols=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def set_total(self, total: int) -> None:
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def update(self, report: IngestReport, source: str) -> None:
        processed = (
            report.chunks
            if self.unit == "passages"
            else report.done + len(report.skipped) + len(report.failed)
        )
        if self.bar is not None:
            self.bar.update(processed - self.bar.n)
            failed = f"{len(report.failed)} failed " if report.failed else ""
            self.bar.set_postfix_str(f"{failed}{self._note(source)[:40]}", refresh=False)
        elif not self.quiet and time.monotonic() - self._printed >= PLAIN_EVERY_S:
            self._printed = time.monotonic()
            print(self.line(processed, source), file=sys.stderr, flush=True)

    def line(self, processed: int, source: str) -> str:
        elapsed = time.monotonic() - self._started
        rate = processed / elapsed if elapsed > 0 else 0.0
        of = f"/{self.total}" if self.total is not None else ""
        eta = f", ETA {_duration((self.total - processed) / rate)}" if self.total and rate else ""
        per_s = f"{rate:.2f} passages/s" if self.unit == "passages" else f"{rate:.1f} doc/s"
        return f"{self.label}: {processed}{of} {self.unit}, {per_s}{eta}  {self._note(source)}"

    def _note(self, source: str) -> str:
        """The file being read; for an embed job, how complete the semantic index is."""
        return source.rsplit("; ", 1)[-1] if self.unit == "passages" else Path(source).name


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def failures_text(report: IngestReport) -> str:
    return "\n".join(f"FAILED {source}: {reason}" for source, reason in report.failed)
