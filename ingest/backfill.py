"""The embed job: vectors for the pending chunks of a lexical-first ingest, in leased units.

Any number of processes run ``embed_units`` (``schutting embed --worker-only``): claim a unit,
embed its passages into the shared embedding cache in small batches while a thread renews the
lease, and mark it embedded. The one writer runs ``backfill``: it works units itself too, and
applies every embedded unit by reading its vectors back from the cache and handing them to the
index (``set_vectors``), which puts them in the vector index and, once a document's leading
chunks are all there, its find-similar profile. A unit of a killed worker is taken again when
its lease expires; vectors it had already cached are not computed twice.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.embed_units import Unit, UnitTable
from ingest.embedding import EmbeddingCache, embed_passages
from search.engines import OpenedIndex

UNIT_PASSAGES = 256
LEASE_S = 120.0
BATCH = 16  # passages embedded between two checks that the lease is still ours
FLUSH_EVERY_S = 300.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def generation_of(index: OpenedIndex) -> str:
    """The name units are kept under: the generation folder (embedded) or schema (PostgreSQL)."""
    return index.folder.name


def embed_unit(index: OpenedIndex, cache: EmbeddingCache, table: UnitTable, unit: Unit,
               worker: str, lease_s: float) -> bool:  # fmt: skip
    """Embed a claimed unit into the cache while a second thread renews its lease (the model
    releases the GIL); False when the lease was lost (another worker has taken the unit)."""
    passages = index.pending_passages(unit.first, unit.last)
    texts = [chunk.embedded_text(title) for _, title, chunk in passages]
    stop, lost = threading.Event(), threading.Event()
    lease = threading.Thread(target=_keep_lease, args=(table, unit, worker, lease_s, stop, lost), daemon=True)
    lease.start()
    try:
        for start in range(0, len(texts), BATCH):
            if lost.is_set():
                return False
            embed_passages(index.embedder, texts[start : start + BATCH], cache)
    finally:
        stop.set()
        lease.join()
    return not lost.is_set() and table.embedded(unit, worker)


def _keep_lease(table: UnitTable, unit: Unit, worker: str, lease_s: float, stop: threading.Event,
                lost: threading.Event) -> None:  # fmt: skip
    while not stop.wait(lease_s / 3):
        if not table.renew(unit, worker, lease_s):
            lost.set()
            return


def embed_units(
    index: OpenedIndex, cache: EmbeddingCache, table: UnitTable, lease_s: float = LEASE_S,
    worker: str = "", limit: int | None = None,
) -> int:  # fmt: skip
    """A worker's loop: take and embed units until none can be claimed (or ``limit``); returns how many."""
    worker, done, generation = worker or worker_name(), 0, generation_of(index)
    while limit is None or done < limit:
        unit = table.claim(generation, worker, lease_s)
        if unit is None:
            return done
        done += embed_unit(index, cache, table, unit, worker, lease_s)
    return done


@dataclass
class BackfillReport:
    """What the writer has applied so far, for progress (passages, rate, ETA) and the job record."""

    pending_at_start: int
    total_chunks: int
    applied: int = 0  # passages given their vector by this run
    units_done: int = 0
    started: float = field(default_factory=time.monotonic)
    units: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        seconds = time.monotonic() - self.started
        return self.applied / seconds if seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        return (self.pending_at_start - self.applied) / rate if rate > 0 else None

    @property
    def coverage(self) -> float:
        embedded = self.total_chunks - self.pending_at_start + self.applied
        return embedded / self.total_chunks if self.total_chunks else 1.0

    def as_dict(self) -> dict[str, object]:
        eta = self.eta_seconds
        return {
            "passages": self.pending_at_start, "embedded": self.applied, "rate": round(self.rate, 2),
            "eta_seconds": round(eta, 1) if eta is not None else None,
            "semantic_coverage": round(self.coverage, 4), "units": self.units,
        }  # fmt: skip


Progress = Callable[[BackfillReport], None]


def backfill(
    index: OpenedIndex, cache: EmbeddingCache, table: UnitTable, *, unit_passages: int = UNIT_PASSAGES,
    lease_s: float = LEASE_S, work: bool = True, idle_s: float = 1.0, progress: Progress | None = None,
) -> BackfillReport:  # fmt: skip
    """The writer's loop until no chunk is pending: plan units, work them (unless ``work`` is
    False: other processes do), apply embedded ones. Flushes the index at the end."""
    generation, worker = generation_of(index), worker_name()
    report = BackfillReport(index.count_pending(), index.catalog.count_chunks())
    flushed = time.monotonic()
    while True:
        for ready in table.ready(generation):
            report.applied += apply_unit(index, cache, table, ready)
            report.units_done += 1
        if time.monotonic() - flushed > FLUSH_EVERY_S:  # checkpoints, so a reopen replays little
            index.flush()
            flushed = time.monotonic()
        report.units = table.counts(generation)
        if progress is not None:
            progress(report)
        if index.count_pending() == 0:
            break
        table.plan(generation, index.pending_chunks(), unit_passages)
        unit = table.claim(generation, worker, lease_s) if work else None
        if unit is not None:  # a queued unit, or one whose worker's lease ran out
            embed_unit(index, cache, table, unit, worker, lease_s)
        elif not table.ready(generation):
            time.sleep(idle_s)  # every open unit is leased to another worker
    index.flush()
    return report


def apply_unit(index: OpenedIndex, cache: EmbeddingCache, table: UnitTable, unit: Unit) -> int:
    """Give a unit's pending chunks their vectors (from the cache; any missing are embedded now)."""
    passages = index.pending_passages(unit.first, unit.last)
    vectors = embed_passages(index.embedder, [c.embedded_text(t) for _, t, c in passages], cache)
    count = index.set_vectors([chunk_id for chunk_id, _, _ in passages], vectors)
    table.applied(unit)
    return count
