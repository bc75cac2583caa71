"""`schutting bench load` / `make bench-load`: concurrent clients against a served index, in phases.

python -m api.evaluation.bench_load --clients 8 --seconds 20 [--data-dir D] [--json]

Builds (or reuses, in --data-dir; default a temporary folder) a small real index with the fast model
use-multilingual: the repo's data/demo plus the CVDR XML of ../shared/corpus/cvdr. Starts
`schutting serve` as a subprocess on 127.0.0.1 (a free port, an admin token) and runs N client
threads (see load_traffic: searches with the vac-questions, find-similar by id, document JSON and
pages) for T seconds in each phase:

  idle     nothing else runs on the server
  ingest   an admin ingest job of uploaded besluitenlijsten (PDF), forced, embedding cache emptied
  reindex  an admin reindex, swap included; as many cached vectors are forgotten as the ingest
           phase embedded in T seconds, so the re-embedding takes about T seconds

A job phase lasts T seconds and until its job has ended (at most JOB_LIMIT_SECONDS longer).
Errors are non-2xx answers and failed connections. Target: 0 errors, reindex p95 <= 3x idle p95.
All traffic goes to 127.0.0.1; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from api.evaluation.load_server import served
from api.evaluation.load_traffic import Traffic, run_clients
from ingest.embedding import CACHE_FILE, EmbeddingCache
from ingest.pipeline import IngestOptions, ingest_paths
from search.embedders import load_embedder
from search.generations import open_live

MODEL = "use-multilingual"
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
JOB_LIMIT_SECONDS = 300  # a job phase ends at most this long after T, job done or not
INGEST_FILES = 8  # besluitenlijsten uploaded in the ingest phase
TARGET_P95_RATIO = 3.0


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


def _cache(data_dir: Path) -> sqlite3.Connection:
    EmbeddingCache.in_data_dir(data_dir).close()  # its table exists
    return sqlite3.connect(data_dir / CACHE_FILE, timeout=30)


def forget_vectors(data_dir: Path, count: int | None = None) -> list[tuple[str, str, bytes]]:
    """Forget ``count`` random cached passage vectors (None: all), so the next job embeds for real;
    returns the forgotten rows (model, key, vector)."""
    db = _cache(data_dir)
    try:
        picked = "SELECT rowid FROM vectors ORDER BY random()" + (" LIMIT ?" if count is not None else "")
        args = (count,) if count is not None else ()
        rows = db.execute(
            f"SELECT model, key, vector FROM vectors WHERE rowid IN ({picked})", args
        ).fetchall()
        db.executemany("DELETE FROM vectors WHERE model = ? AND key = ?", [(m, k) for m, k, _ in rows])
        db.commit()
        return rows
    finally:
        db.close()


def restore_vectors(data_dir: Path, rows: list[tuple[str, str, bytes]]) -> None:
    """Put forgotten vectors back (the ingest phase forgets them all, the reindex phase only some)."""
    db = _cache(data_dir)
    try:
        db.executemany("INSERT OR IGNORE INTO vectors(model, key, vector) VALUES (?, ?, ?)", rows)
        db.commit()
    finally:
        db.close()


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
    recorder, ran = run_clients(base, traffic, clients, lambda: time.monotonic() >= end, seed=1)
    return recorder.summary("idle", ran)


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

    recorder, ran = run_clients(base, traffic, clients, over, seed=zlib.crc32(name.encode()))
    health = admin.get("/health").json()
    summary = recorder.summary(name, ran)
    swap = {"generation_before": generation, "generation_after": health.get("generation")}
    return {**summary, "job": {**job_summary(job), **swap}, "index_after": _size(health)}


def _size(health: dict[str, Any]) -> dict[str, Any]:
    return {k: health.get(k) for k in ("documents", "chunks", "model")}


def ingest_and_reindex(
    data_dir: Path, base: str, traffic: Traffic, clients: int, seconds: float, admin: httpx.Client,
    pdfs: list[Path],
) -> list[dict[str, Any]]:  # fmt: skip
    """The two job phases. The ingest embeds its files for real (every cached vector is forgotten, and
    put back after it); the reindex re-embeds as many passages as the ingest embedded in ``seconds``."""
    kept = forget_vectors(data_dir)
    ingest = job_phase("ingest", base, traffic, clients, seconds, admin, lambda: start_ingest(admin, pdfs))
    ingest["job"]["cache_vectors_forgotten"] = len(kept)
    restore_vectors(data_dir, kept)
    chunks, job_seconds = ingest["job"]["chunks"] or 0, ingest["job"]["seconds"] or 0
    budget = round(chunks / job_seconds * seconds) if chunks and job_seconds else None
    forgotten = forget_vectors(data_dir, budget)
    reindex = job_phase("reindex", base, traffic, clients, seconds, admin, lambda: start_reindex(admin))
    reindex["job"]["cache_vectors_forgotten"] = len(forgotten)
    return [ingest, reindex]


def run_phases(data_dir: Path, shared: Path, clients: int, seconds: float, workdir: Path) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    pdfs = sorted((shared / "corpus" / "pdf").glob("besluitenlijst_*.pdf"))[:INGEST_FILES]
    with served(data_dir, token, MODEL, workdir / "server.log") as base:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120, trust_env=False) as admin:
            traffic = load_traffic(admin, shared)
            size = _size(admin.get("/health").json())
            warm_up(admin, traffic)
            phases = [idle_phase(base, traffic, clients, seconds)]
            phases += ingest_and_reindex(data_dir, base, traffic, clients, seconds, admin, pdfs)
    return {"index": size, "questions": len(traffic.questions), "documents_asked": len(traffic.doc_ids),
            "ingest_files": [p.name for p in pdfs], "phases": phases}  # fmt: skip


def bench_load(
    clients: int = 8, seconds: float = 20, data_dir: Path | None = None, shared: Path = SHARED
) -> dict[str, Any]:
    """Run the load bench and return its JSON-able figures."""
    with tempfile.TemporaryDirectory(prefix="schutting-bench-load-") as tmp:
        workdir = Path(tmp)
        data_dir = data_dir or workdir / "data"
        build = build_index(data_dir, shared)
        load_before = os.getloadavg()[0]
        result = run_phases(data_dir, shared, clients, seconds, workdir)
        machine = {"cpus": os.cpu_count(), "load_average_1m": [load_before, os.getloadavg()[0]]}
    by_name = {p["name"]: p for p in result["phases"]}
    idle_p95, reindex_p95 = by_name["idle"]["p95_ms"], by_name["reindex"]["p95_ms"]
    ratio = round(reindex_p95 / idle_p95, 2) if idle_p95 and reindex_p95 else None
    errors = sum(p["errors"] for p in result["phases"])
    target = {"errors": errors, "reindex_p95_over_idle_p95": ratio,
              "met": errors == 0 and ratio is not None and ratio <= TARGET_P95_RATIO}  # fmt: skip
    setup = {"model": MODEL, "clients": clients, "seconds": seconds, "build": build,
             "data_dir": str(data_dir) if data_dir != workdir / "data" else "(temporary)", "machine": machine}  # fmt: skip
    return {**result, **setup, "target": target}


def format_text(result: dict[str, Any]) -> str:
    index = result["index"]
    lines = [f"{result['clients']} clients, {result['seconds']} s per phase, "
             f"{index['documents']} documents / {index['chunks']} chunks ({result['model']})",
             f"{'phase':<8} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8}  job"]  # fmt: skip
    for p in result["phases"]:
        job = p.get("job")
        note = f"{job['kind']} {job['state']} in {job['seconds']} s" if job else ""
        lines.append(
            f"{p['name']:<8} {p['requests']:>8} {p['errors']:>6} {p['p50_ms']!s:>8} {p['p95_ms']!s:>8}  {note}"
        )
    target = result["target"]
    lines.append(f"target met: {target['met']} (errors {target['errors']}, "
                 f"reindex p95 / idle p95 = {target['reindex_p95_over_idle_p95']}, at most {TARGET_P95_RATIO})")  # fmt: skip
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--seconds", type=float, default=20, help="seconds per phase, at least (default 20)")
    p.add_argument("--data-dir", dest="bench_data_dir", type=Path, metavar="DIR",
                   help="index folder to build or reuse (default: a temporary folder)")  # fmt: skip
    p.add_argument("--shared", type=Path, default=SHARED, help="the shared corpus and eval folder")
    p.add_argument("--json", action="store_true")


def report(args: argparse.Namespace) -> str:
    """Run the bench with parsed arguments; its JSON (--json) or a short table."""
    if args.clients < 1 or args.seconds <= 0:
        raise SystemExit("--clients and --seconds must be positive")
    result = bench_load(args.clients, args.seconds, args.bench_data_dir, args.shared)
    return json.dumps(result) if args.json else format_text(result)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    print(report(p.parse_args()))


if __name__ == "__main__":
    main()
