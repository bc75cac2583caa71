"""`schutting jobs`: admin jobs with their state, counts and per-document errors; rerun one."""

from __future__ import annotations

import argparse
import json

from api.cli.harvest import municipality_lines
from api.cli.progress import ProgressBar
from api.jobs import Job, JobRecords, JobStore, duration, run_in_foreground
from api.settings import Settings

EXAMPLES = """examples:
  schutting jobs                 # recent jobs, newest first
  schutting jobs 7               # one job, with every document that failed and why
  schutting jobs 7 --rerun       # run it again here (ingest skips what is already indexed)"""


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
    try:
        return _jobs(settings, store, args)
    finally:
        store.close()


def _jobs(settings: Settings, store: JobRecords, args: argparse.Namespace) -> str:
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
    rate, eta = job.rate(), job.as_dict()["eta_seconds"]
    counts = (
        f"  {job.processed}/{job.total if job.total is not None else '?'} passages embedded"
        + (f"; {rate:.2f} passages/s" if rate else "")
        + (f"; ETA {duration(eta)}" if eta is not None else "")
        + f"; semantic index {100 * float(job.result.get('semantic_coverage', 0)):.0f}% complete"
        if job.kind == "embed"
        else f"  {job.processed}/{job.total if job.total is not None else '?'} documents: {job.done} indexed, "
        f"{job.skipped} unchanged, {job.failed} failed, {job.removed} removed; {job.chunks} chunks"
        + (f"; {rate:.1f} doc/s" if rate else "")
    )
    lines = [
        f"job {job.id} ({job.kind}): {job.state}" + (f" — {job.error}" if job.error else ""),
        counts,
        f"  created {job.created_at}, started {job.started_at or '-'}, finished {job.finished_at or '-'}",
    ]
    if job.current:
        lines.append(f"  now: {job.current}")
    if job.kind == "harvest":
        lines += municipality_lines(job.result)
    lines += [f"FAILED {source}: {reason}" for source, reason in errors]
    return "\n".join(lines)
