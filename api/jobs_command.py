"""`schutting jobs`: admin jobs with their state, counts and per-document errors; and the
progress bar (rate, ETA) that `schutting ingest` and `schutting reindex` show.

Importing this module registers the subcommand in ``api.commands`` (EXTRA_COMMANDS, EXTRA_HELP,
COMMANDS); ``api/cli.py`` imports it once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from api import commands
from api.job_runs import run_in_foreground
from api.jobs import Job, JobStore
from ingest.pipeline import IngestReport
from search.config import Settings

EXAMPLES = """examples:
  schutting jobs                 # recent jobs, newest first
  schutting jobs 7               # one job, with every document that failed and why
  schutting jobs 7 --rerun       # run it again here (ingest skips what is already indexed)"""

PLAIN_EVERY_S = 5.0  # progress lines when stderr is not a terminal


class ProgressBar:
    """Documents done of total, with rate and ETA: tqdm on a terminal, a line every few seconds otherwise."""

    def __init__(self, label: str, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.bar: Any = None
        self.total: int | None = None
        self._started = time.monotonic()
        self._printed = self._started

    def __enter__(self) -> ProgressBar:
        if not self.quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(desc=self.label, unit="doc", file=sys.stderr, dynamic_ncols=True)
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
        processed = report.done + len(report.skipped) + len(report.failed)
        if self.bar is not None:
            self.bar.update(processed - self.bar.n)
            failed = f"{len(report.failed)} failed " if report.failed else ""
            self.bar.set_postfix_str(f"{failed}{Path(source).name[:40]}", refresh=False)
        elif not self.quiet and time.monotonic() - self._printed >= PLAIN_EVERY_S:
            self._printed = time.monotonic()
            print(self.line(processed, source), file=sys.stderr, flush=True)

    def line(self, processed: int, source: str) -> str:
        elapsed = time.monotonic() - self._started
        rate = processed / elapsed if elapsed > 0 else 0.0
        of = f"/{self.total}" if self.total is not None else ""
        eta = f", ETA {_duration((self.total - processed) / rate)}" if self.total and rate else ""
        return f"{self.label}: {processed}{of} documents, {rate:.1f} doc/s{eta}  {Path(source).name}"


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def failures_text(report: IngestReport) -> str:
    return "\n".join(f"FAILED {source}: {reason}" for source, reason in report.failed)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "List admin jobs (ingest, reindex) with state and counts, or show one with its errors."
    p.epilog = EXAMPLES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("job_id", nargs="?", type=int, help="show this job")
    p.add_argument("--rerun", action="store_true", help="run job JOB_ID again, here, with a progress bar")
    p.add_argument("--limit", type=int, default=20, help="how many recent jobs to list (default 20)")
    p.add_argument("--json", action="store_true")


def cmd_jobs(settings: Settings, args: argparse.Namespace) -> str:
    store = JobStore.for_settings(settings)
    store.recover()  # jobs whose process is gone (kill -9) are marked failed: interrupted
    if args.job_id is None:
        jobs = store.recent(args.limit)
        return json.dumps({"jobs": [j.as_dict() for j in jobs]}) if args.json else _table(jobs)
    job = store.get(args.job_id)
    if args.rerun:
        with ProgressBar(job.kind, args.json) as bar:
            job, _ = run_in_foreground(settings, job.kind, job.params, bar, rerun_of=job.id)
    errors = store.errors(job.id)
    if args.json:
        return json.dumps({**job.as_dict(), "errors": [{"source": s, "reason": r} for s, r in errors]})
    return job_text(job, errors)


def _table(jobs: list[Job]) -> str:
    if not jobs:
        return "no jobs yet"
    lines = [f"{'ID':>4}  {'KIND':8} {'STATE':8} {'DONE/TOTAL':>10} {'FAILED':>6}  {'STARTED':19}  NOTE"]
    for job in jobs:
        total = "?" if job.total is None else str(job.total)
        started = (job.started_at or job.created_at)[:19].replace("T", " ")
        note = job.error or job.current
        lines.append(
            f"{job.id:>4}  {job.kind:8} {job.state:8} {f'{job.processed}/{total}':>10} {job.failed:>6}  "
            f"{started:19}  {note[:80]}"
        )
    return "\n".join(lines)


def job_text(job: Job, errors: list[tuple[str, str]]) -> str:
    rate = job.rate()
    lines = [
        f"job {job.id} ({job.kind}): {job.state}" + (f" — {job.error}" if job.error else ""),
        f"  {job.processed}/{job.total if job.total is not None else '?'} documents: {job.done} indexed, "
        f"{job.skipped} unchanged, {job.failed} failed, {job.removed} removed; {job.chunks} chunks"
        + (f"; {rate:.1f} doc/s" if rate else ""),
        f"  created {job.created_at}, started {job.started_at or '-'}, finished {job.finished_at or '-'}",
    ]
    if job.current:
        lines.append(f"  now: {job.current}")
    lines += [f"FAILED {source}: {reason}" for source, reason in errors]
    return "\n".join(lines)


commands.EXTRA_COMMANDS["jobs"] = add_arguments
commands.EXTRA_HELP["jobs"] = "admin jobs (ingest, reindex): state, counts, errors; rerun one"
commands.COMMANDS["jobs"] = cmd_jobs
