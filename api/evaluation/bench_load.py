"""`schutting bench load` / `make bench-load`: concurrent clients against a served index, in phases.

python -m api.evaluation.bench_load --clients 8 --seconds 20 [--phases idle,hostile] [--data-dir D] [--json]

Builds (or reuses, in --data-dir; default a temporary folder) a small real index with the fast model
use-multilingual: the repo's data/demo plus the CVDR XML of ../shared/corpus/cvdr. Starts
`schutting serve` as a subprocess on 127.0.0.1 (a free port, an admin token) and runs N client
threads (see load_traffic: searches with the vac-questions, find-similar by id, document JSON and
pages) and one thread asking /health every 0.25 s, for T seconds in each phase:

  idle     nothing else runs on the server
  hostile  4 hostile uploads kept in flight (load_hostile: 3 drafts to POST /similar, 1 admin upload to
           POST /documents, each a 10 KB PDF with a 5 MB text stream); idle and hostile run on a
           server whose read budget is --read-seconds (default 10 s), so that several budgets run out
           within a phase; ingest and reindex on a second one with the configured budget (default
           120 s), so that the real PDFs of the ingest are not cut short on a busy machine
  ingest   an admin ingest job of uploaded besluitenlijsten (PDF), forced, embedding cache emptied
  reindex  an admin reindex, swap included; as many cached vectors are forgotten as the ingest
           phase embedded in T seconds, so the re-embedding takes about T seconds

A job phase lasts T seconds and until its job has ended (at most JOB_LIMIT_SECONDS longer).
Errors are non-2xx answers and failed connections of the clients and /health, and hostile uploads
answered with anything but a 4xx with a Dutch melding (or not within the budget plus 30 s).
Target: 0 errors, reindex p95 <= 3x idle p95, and in the hostile phase a p95 under 1 s for the
clients, their searches and /health each.
All traffic goes to 127.0.0.1; each server is stopped after its phases.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from api.evaluation.load_cache import forget_vectors, restore_vectors
from api.evaluation.load_hostile import hostile_phase
from api.evaluation.load_report import PHASES, format_text, target
from api.evaluation.load_server import served
from api.evaluation.load_traffic import Traffic, measure
from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestOptions, ingest_paths
from search.embedders import load_embedder
from search.generations import open_live

MODEL = "use-multilingual"
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
JOB_LIMIT_SECONDS = 300  # a job phase ends at most this long after T, job done or not
INGEST_FILES = 8  # besluitenlijsten uploaded in the ingest phase
READ_SECONDS = 10.0  # the served index's read budget a document (the server's own default is 120 s)


def build_index(data_dir: Path, shared: Path) -> dict[str, Any]:
    """The index to serve: reused when data_dir has one, else data/demo plus the shared CVDR XML."""
    existing = open_live(data_dir)
    if existing is not None:
        existing.close()
        return {"built": False}
    sources = [REPO / "data" / "demo", *sorted((shared / "corpus" / "cvdr").glob("CVDR*.xml"))]
    index = open_live(data_dir, load_embedder(MODEL), create=True)
    assert index is not None
    cache = EmbeddingCache.in_data_dir(data_dir)
    try:
        report = ingest_paths(index, sources, IngestOptions(), cache)
        index.flush()
    finally:
        cache.close()
        index.close()
    return {"built": True, "sources": [str(s) for s in sources], "seconds": round(report.seconds, 1)}


def load_traffic(client: httpx.Client, shared: Path) -> Traffic:
    queries = shared / "eval" / "vac-questions" / "queries.jsonl"
    questions = [
        json.loads(line)["text"] for line in queries.read_text(encoding="utf-8").splitlines() if line
    ]
    listing = client.get("/documents", params={"limit": 1000}).raise_for_status().json()
    return Traffic(questions, [d["id"] for d in listing["documents"]])


def start_ingest(admin: httpx.Client, pdfs: list[Path]) -> int:
    files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in pdfs]
    fields = {"municipality": "Wassenaar", "type": "besluitenlijst", "force": "true"}
    return int(admin.post("/admin/ingest", files=files, data=fields).raise_for_status().json()["id"])


def start_reindex(admin: httpx.Client) -> int:
    return int(admin.post("/admin/reindex", json={}).raise_for_status().json()["id"])


def warm_up(client: httpx.Client, traffic: Traffic) -> None:
    """One request of each kind, not counted: the first question loads the model in the server."""
    doc = traffic.doc_ids[0]
    for path in ("/search?q=bijstand", f"/documents/{doc}/similar", f"/documents/{doc}", f"/document/{doc}"):
        with contextlib.suppress(httpx.HTTPError):  # the phases count what fails
            client.get(path)


def job_summary(job: dict[str, Any]) -> dict[str, Any]:
    seconds = None
    if job.get("started_at") and job.get("finished_at"):
        start, end = (datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
        seconds = round((end - start).total_seconds(), 1)
    keys = ("id", "kind", "state", "done", "failed", "skipped", "chunks", "error")
    return {**{k: job.get(k) for k in keys}, "seconds": seconds}


def idle_phase(base: str, traffic: Traffic, clients: int, seconds: float) -> dict[str, Any]:
    end = time.monotonic() + seconds
    return measure("idle", base, traffic, clients, lambda: time.monotonic() >= end, seed=1)


def job_phase(
    name: str, base: str, traffic: Traffic, clients: int, seconds: float, admin: httpx.Client,
    start_job: Callable[[], int],
) -> dict[str, Any]:  # fmt: skip
    """Clients run while a job runs: at least ``seconds``, and until the job has ended."""
    generation = admin.get("/health").json().get("generation")
    job_id = start_job()
    started = time.monotonic()
    job: dict[str, Any] = {}

    def over() -> bool:
        nonlocal job
        elapsed = time.monotonic() - started
        if elapsed < seconds and job:
            return False  # the job's state is asked once a second at most
        job = admin.get(f"/admin/jobs/{job_id}").raise_for_status().json()
        time.sleep(0.8)
        ended = job["state"] in ("done", "failed", "interrupted")
        return (elapsed >= seconds and ended) or elapsed >= seconds + JOB_LIMIT_SECONDS

    summary = measure(name, base, traffic, clients, over, seed=zlib.crc32(name.encode()))
    health = admin.get("/health").json()
    swap = {"generation_before": generation, "generation_after": health.get("generation")}
    return {**summary, "job": {**job_summary(job), **swap}, "index_after": _size(health)}


def _size(health: dict[str, Any]) -> dict[str, Any]:
    return {k: health.get(k) for k in ("documents", "chunks", "model")}


@dataclass(frozen=True)
class Plan:
    """What to measure: N clients, at least T seconds a phase, which phases, the server's read budget."""

    clients: int = 8
    seconds: float = 20
    phases: tuple[str, ...] = PHASES
    read_seconds: float = READ_SECONDS


def job_phases(
    data_dir: Path, base: str, traffic: Traffic, plan: Plan, admin: httpx.Client, pdfs: list[Path]
) -> list[dict[str, Any]]:
    """The job phases asked for. The ingest embeds its files for real (every cached vector is forgotten,
    and put back after it); the reindex re-embeds as many passages as the ingest embedded in T seconds."""
    if "ingest" not in plan.phases:
        return []
    clients, seconds = plan.clients, plan.seconds
    kept = forget_vectors(data_dir)
    ingest = job_phase("ingest", base, traffic, clients, seconds, admin, lambda: start_ingest(admin, pdfs))
    ingest["job"]["cache_vectors_forgotten"] = len(kept)
    restore_vectors(data_dir, kept)
    if "reindex" not in plan.phases:
        return [ingest]
    chunks, job_seconds = ingest["job"]["chunks"] or 0, ingest["job"]["seconds"] or 0
    budget = round(chunks / job_seconds * seconds) if chunks and job_seconds else None
    forgotten = forget_vectors(data_dir, budget)
    reindex = job_phase("reindex", base, traffic, clients, seconds, admin, lambda: start_reindex(admin))
    reindex["job"]["cache_vectors_forgotten"] = len(forgotten)
    return [ingest, reindex]


@contextlib.contextmanager
def session(
    data_dir: Path, shared: Path, token: str, log: Path, settings: dict[str, str]
) -> Iterator[tuple[str, httpx.Client, Traffic]]:
    """A served index, warmed up: its base URL, an admin client and the traffic to send it."""
    with served(data_dir, token, MODEL, log, settings) as base:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120, trust_env=False) as admin:
            traffic = load_traffic(admin, shared)
            warm_up(admin, traffic)
            yield base, admin, traffic


def run_phases(data_dir: Path, shared: Path, plan: Plan, workdir: Path) -> dict[str, Any]:
    """idle and hostile on a server whose read budget is ``plan.read_seconds``; the job phases on one
    with the configured budget (default 120 s), so that the ingest reads its real PDFs unhurried."""
    token, phases, size = secrets.token_urlsafe(24), [], {}
    pdfs = sorted((shared / "corpus" / "pdf").glob("besluitenlijst_*.pdf"))[:INGEST_FILES]
    budget = {"SCHUTTING_READ_SECONDS": str(plan.read_seconds)}
    if "idle" in plan.phases or "hostile" in plan.phases:
        with session(data_dir, shared, token, workdir / "server.log", budget) as (base, admin, traffic):
            size = _size(admin.get("/health").json())
            if "idle" in plan.phases:
                phases.append(idle_phase(base, traffic, plan.clients, plan.seconds))
            if "hostile" in plan.phases:
                phases.append(
                    hostile_phase(base, traffic, plan.clients, plan.seconds, token, plan.read_seconds)
                )
    if "ingest" in plan.phases:
        with session(data_dir, shared, token, workdir / "server-jobs.log", {}) as (base, admin, traffic):
            size = size or _size(admin.get("/health").json())
            phases += job_phases(data_dir, base, traffic, plan, admin, pdfs)
    return {"index": size, "questions": len(traffic.questions), "documents_asked": len(traffic.doc_ids),
            "ingest_files": [p.name for p in pdfs] if "ingest" in plan.phases else [], "phases": phases}  # fmt: skip


def bench_load(plan: Plan = Plan(), data_dir: Path | None = None, shared: Path = SHARED) -> dict[str, Any]:
    """Run the load bench and return its JSON-able figures."""
    with tempfile.TemporaryDirectory(prefix="schutting-bench-load-") as tmp:
        workdir = Path(tmp)
        data_dir = data_dir or workdir / "data"
        build = build_index(data_dir, shared)
        load_before = os.getloadavg()[0]
        result = run_phases(data_dir, shared, plan, workdir)
        machine = {"cpus": os.cpu_count(), "load_average_1m": [load_before, os.getloadavg()[0]]}
    setup = {"model": MODEL, "clients": plan.clients, "seconds": plan.seconds, "read_seconds": plan.read_seconds,
             "build": build, "data_dir": str(data_dir) if data_dir != workdir / "data" else "(temporary)",
             "machine": machine}  # fmt: skip
    return {**result, **setup, "target": target(result["phases"])}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--seconds", type=float, default=20, help="seconds per phase, at least (default 20)")
    p.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, in this order: {','.join(PHASES)} (default all; reindex needs ingest)",
    )
    p.add_argument(
        "--read-seconds",
        type=float,
        default=READ_SECONDS,
        help=f"the served index's read budget a document, in seconds (default {READ_SECONDS:g})",
    )
    p.add_argument("--data-dir", dest="bench_data_dir", type=Path, metavar="DIR",
                   help="index folder to build or reuse (default: a temporary folder)")  # fmt: skip
    p.add_argument("--shared", type=Path, default=SHARED, help="the shared corpus and eval folder")
    p.add_argument("--json", action="store_true")


def report(args: argparse.Namespace) -> str:
    """Run the bench with parsed arguments; its JSON (--json) or a short table."""
    if args.clients < 1 or args.seconds <= 0 or args.read_seconds <= 0:
        raise SystemExit("--clients, --seconds and --read-seconds must be positive")
    phases = tuple(name.strip() for name in args.phases.split(",") if name.strip())
    if not phases or set(phases) - set(PHASES) or ("reindex" in phases and "ingest" not in phases):
        raise SystemExit(f"--phases: some of {','.join(PHASES)}; reindex needs ingest (got {args.phases!r})")
    plan = Plan(args.clients, args.seconds, tuple(n for n in PHASES if n in phases), args.read_seconds)
    result = bench_load(plan, args.bench_data_dir, args.shared)
    return json.dumps(result) if args.json else format_text(result)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    print(report(p.parse_args()))


if __name__ == "__main__":
    main()
