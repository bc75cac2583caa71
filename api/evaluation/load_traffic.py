"""The clients of `schutting bench load`: N threads that ask a served index what its users ask
(searches with real Dutch questions, find-similar by id, document JSON and document pages) until
told to stop, one more thread that asks `/health` every HEALTH_INTERVAL seconds (what a load balancer
does), and the figures of what they saw."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from search.metrics import percentile

REQUEST_TIMEOUT = 30.0  # seconds; a slower answer counts as an error
ERROR_SAMPLES = 5  # per phase, in the report
HEALTH_INTERVAL = 0.25  # seconds between the end of one /health and the next


@dataclass(frozen=True)
class Traffic:
    """What the clients ask about: questions and the ids of indexed documents."""

    questions: list[str]
    doc_ids: list[str]


# The mix of one request: (kind, weight, path maker).
MIX: list[tuple[str, int, Callable[[Traffic, random.Random], str]]] = [
    ("search", 50, lambda t, r: f"/search?k=10&q={quote(r.choice(t.questions))}"),
    ("similar", 20, lambda t, r: f"/documents/{quote(r.choice(t.doc_ids), safe='')}/similar?k=10"),
    ("document", 15, lambda t, r: f"/documents/{quote(r.choice(t.doc_ids), safe='')}"),
    ("page", 15, lambda t, r: f"/document/{quote(r.choice(t.doc_ids), safe='')}"),
]


@dataclass
class Recorder:
    """Every answered or failed request of a phase: kind, milliseconds, and what went wrong."""

    times: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ms: float, problem: str = "") -> None:
        with self.lock:
            self.times.setdefault(kind, []).append(ms)
            if problem:
                self.errors[kind] += 1
                if len(self.samples) < ERROR_SAMPLES:
                    self.samples.append(problem)

    def summary(self, name: str, seconds: float) -> dict[str, Any]:
        every = [ms for times in self.times.values() for ms in times]
        by_kind = {
            kind: {"requests": len(times), "errors": self.errors[kind], **latency(times)}
            for kind, times in sorted(self.times.items())
        }
        return {"name": name, "requests": len(every), "errors": sum(self.errors.values()), **latency(every),
                "seconds": round(seconds, 1), "requests_per_second": round(len(every) / max(seconds, 1e-9), 1),
                "by_kind": by_kind, "error_samples": self.samples}  # fmt: skip

    def brief(self) -> dict[str, Any]:
        """Requests, errors and latency of every kind together (the /health figures of a phase)."""
        every = [ms for times in self.times.values() for ms in times]
        return {"requests": len(every), "errors": sum(self.errors.values()), **latency(every),
                "error_samples": self.samples}  # fmt: skip


def latency(times: list[float]) -> dict[str, float | None]:
    if not times:
        return {"p50_ms": None, "p95_ms": None}
    return {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1)}


def timed_get(client: httpx.Client, kind: str, path: str, recorder: Recorder) -> None:
    """GET ``path`` and record how long it took and, unless it was a 2xx, what went wrong."""
    started = time.perf_counter()
    try:
        response = client.get(path)
        problem = "" if response.is_success else f"{response.status_code} {path}: {response.text[:200]}"
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__} {path}: {exc}"
    recorder.add(kind, (time.perf_counter() - started) * 1000, problem)


def client_loop(
    base_url: str, traffic: Traffic, stop: threading.Event, recorder: Recorder, seed: int
) -> None:
    """Ask one request after another, picked from MIX, until ``stop`` is set."""
    rng = random.Random(seed)
    kinds = [kind for kind, _, _ in MIX]
    weights = [weight for _, weight, _ in MIX]
    makers = {kind: maker for kind, _, maker in MIX}
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        while not stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            timed_get(client, kind, makers[kind](traffic, rng), recorder)


def health_loop(base_url: str, stop: threading.Event, recorder: Recorder) -> None:
    """Ask ``/health`` every HEALTH_INTERVAL seconds until ``stop`` is set."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        while not stop.is_set():
            timed_get(client, "health", "/health", recorder)
            stop.wait(HEALTH_INTERVAL)


def run_clients(
    base_url: str, traffic: Traffic, clients: int, until: Callable[[], bool], seed: int = 0
) -> tuple[Recorder, Recorder, float]:
    """Run ``clients`` threads and the /health thread until ``until()`` is true (checked every 0.2 s);
    the clients' figures, the /health figures, and the seconds they ran."""
    recorder, health, stop = Recorder(), Recorder(), threading.Event()
    threads = [
        threading.Thread(
            target=client_loop, args=(base_url, traffic, stop, recorder, seed * 1000 + i), daemon=True
        )
        for i in range(clients)
    ]
    threads.append(threading.Thread(target=health_loop, args=(base_url, stop, health), daemon=True))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while not until():
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT + 5)
    return recorder, health, time.monotonic() - started


def measure(
    name: str, base_url: str, traffic: Traffic, clients: int, until: Callable[[], bool], seed: int
) -> dict[str, Any]:
    """One phase's figures: the clients' (``by_kind`` per kind) and, under ``health``, the /health
    thread's; ``errors`` counts both."""
    recorder, health, ran = run_clients(base_url, traffic, clients, until, seed)
    summary, probed = recorder.summary(name, ran), health.brief()
    return {**summary, "errors": summary["errors"] + probed["errors"], "health": probed}
