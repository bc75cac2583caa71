"""Rebuild every document into a new index generation (after a model change, or to compact).

``reindex`` re-chunks and re-embeds every document of the live generation into a new one
(marked ``BUILDING`` while it grows), then makes it live with one atomic rename. Searches keep
answering from the old generation until the swap; a crash at any point leaves the live one
untouched, and the abandoned half-built generation is removed by the next reindex.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestOptions, IngestReport, Progress, ingest_documents
from search.embedders import load_embedder
from search.errors import SchuttingError
from search.generations import activate, current_name, generations_dir, new_generation, open_live
from search.index import Index
from search.locking import other_process_alive, writing
from search.types import Document

BUILDING = "BUILDING"  # marker file of a generation being built (see search.generations)
GRACE_SECONDS = 2.0  # searches already running on the old generation finish before it is removed
REINDEX_BATCH_CHUNKS = 32


class ReindexFailed(SchuttingError):
    """Some documents could not be rebuilt; the live generation was kept as it was."""

    def __init__(self, message: str, report: IngestReport) -> None:
        super().__init__(message)
        self.report = report


def reindex(
    data_dir: Path,
    model: str | None = None,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    grace_seconds: float = GRACE_SECONDS,
) -> IngestReport:
    """Rebuild every live document with ``model`` (default: the live model) and swap generations.

    Holds the write lock (unless this process already does); raises Busy when another writer
    has it, and ReindexFailed, with the live generation unchanged, when a document fails.
    """
    started = time.monotonic()
    with writing(data_dir, "reindex"):
        live = open_live(data_dir)
        if live is None:
            raise SchuttingError(f"no index in {data_dir}: nothing to reindex; run `schutting ingest PATH`")
        try:
            remove_abandoned_generations(data_dir)
            folder, report = _build(data_dir, live, model or live.manifest.model_id, cache, progress)
        finally:
            live.close()
        report.seconds = time.monotonic() - started
        activate(data_dir, folder, grace_seconds)
    return report


def _build(
    data_dir: Path, live: Index, model: str, cache: EmbeddingCache | None, progress: Progress | None
) -> tuple[Path, IngestReport]:
    """A complete new generation (its BUILDING marker removed) and its report; nothing left on failure."""
    embedder = load_embedder(model)
    fresh = new_generation(data_dir, embedder)
    (fresh.folder / BUILDING).write_text(f"{os.getpid()}\n")
    try:
        options = IngestOptions(force=True, batch_chunks=REINDEX_BATCH_CHUNKS)
        report = ingest_documents(fresh, live_documents(live), options, cache, progress)
        copy_meta(live, fresh)
        fresh.flush()
        _check_complete(live, fresh, report)
    except BaseException:
        fresh.close()
        shutil.rmtree(fresh.folder, ignore_errors=True)
        raise
    fresh.close()
    (fresh.folder / BUILDING).unlink()
    return fresh.folder, report


def live_documents(index: Index) -> Iterator[Document]:
    """Every document of a generation, in full, one at a time."""
    for doc_id in index.catalog.document_ids():
        doc = index.catalog.load_document(doc_id)
        if doc is not None:
            yield doc


def copy_meta(source: Index, target: Index) -> None:
    """Carry the catalog's meta values (harvest cursors, ...) over; the revision is the target's own."""
    db = sqlite3.connect(f"file:{source.catalog.path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT key, value FROM meta WHERE key != 'revision'").fetchall()
    finally:
        db.close()
    for key, value in rows:
        target.catalog.set_meta(key, value)


def _check_complete(live: Index, fresh: Index, report: IngestReport) -> None:
    expected, got = live.catalog.count_documents(), fresh.catalog.count_documents()
    if report.failed or got != expected:
        first = f" (first: {report.failed[0][0]}: {report.failed[0][1]})" if report.failed else ""
        raise ReindexFailed(
            f"{expected - got} of {expected} documents could not be rebuilt{first}; "
            "the live index is unchanged",
            report,
        )


def remove_abandoned_generations(data_dir: Path) -> list[str]:
    """Remove half-built generations whose builder is gone; call with the write lock held."""
    removed = []
    live = current_name(data_dir)
    folder = generations_dir(data_dir)
    for candidate in sorted(folder.iterdir()) if folder.is_dir() else []:
        marker = candidate / BUILDING
        if candidate.name != live and marker.exists() and not _builder_alive(marker):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate.name)
    return removed


def _builder_alive(marker: Path) -> bool:
    """Whether the process named in a BUILDING marker still runs (this one never does: we hold the lock)."""
    try:
        pid = int(marker.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return other_process_alive(pid)
