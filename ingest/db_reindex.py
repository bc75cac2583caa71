"""Reindex on the PostgreSQL engine: a new generation (schema) is built beside the live one and
swapped in with one transaction; searches keep answering from the old one until then, and the old
one is dropped only after a grace period, so no search fails during a reindex.

One reindex per space at a time (a session advisory lock; a second gets Busy). While it runs,
writes to the live generation are refused with Busy (they would be lost at the swap), as the
embedded engine's writer lock does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg

from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestOptions, IngestReport, Progress, ingest_documents
from search.embedders import load_embedder
from search.engines import Place
from search.errors import Busy, SchuttingError
from search.pg import generations
from search.pg.connection import Database
from search.pg.engine import PgEngine, reindex_lock_key
from search.types import Document

REINDEX_BATCH_CHUNKS = 32


def reindex_database(
    place: Place,
    model: str | None = None,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    grace_s: float = generations.RETIRE_GRACE_S,
) -> IngestReport:
    """Rebuild every live document with ``model`` (default: the live model), then swap generations."""
    started = time.monotonic()
    db = place.database()
    try:
        with psycopg.connect(db.url, autocommit=True) as session:
            got = session.execute(
                "SELECT pg_try_advisory_lock(%s)", (reindex_lock_key(place.space),)
            ).fetchone()
            if not (got and got[0]):
                raise Busy("a reindex of this index is already running; try again when it has finished")
            report = _rebuild(db, place.space, model, cache, progress, grace_s)
    finally:
        db.close()
    report.seconds = time.monotonic() - started
    return report


def _rebuild(
    db: Database, space: str, model: str | None, cache: EmbeddingCache | None, progress: Progress | None,
    grace_s: float,
) -> IngestReport:  # fmt: skip
    live = generations.live(db, space, primary=True, any_format=True)  # how an older format is upgraded
    if live is None:
        raise SchuttingError("no index in the database: nothing to reindex; run `schutting ingest PATH`")
    for name in generations.abandoned(db, space):
        generations.drop(db, name)
    embedder = load_embedder(model or live.model_id)
    fresh = generations.create(db, space, embedder.model_id, embedder.dim)
    builder = generations.building_lock(db, fresh)
    try:
        source, target = PgEngine(db, live), PgEngine(db, fresh, embedder)
        options = IngestOptions(force=True, batch_chunks=REINDEX_BATCH_CHUNKS)
        report = ingest_documents(target, _documents(source), options, cache, progress)
        for key, value in source.catalog.all_meta().items():
            target.catalog.set_meta(key, value)
        expected, got = source.catalog.count_documents(), target.catalog.count_documents()
        if report.failed or got != expected:
            raise SchuttingError(
                f"{expected - got} of {expected} documents could not be rebuilt; the live index is unchanged"
            )
        generations.activate(db, fresh, grace_s)
    except BaseException:
        generations.drop(db, fresh.name)
        raise
    finally:
        builder.close()
    return report


def _documents(index: PgEngine) -> Iterator[Document]:
    for doc_id in index.catalog.document_ids():
        doc = index.catalog.load_document(doc_id)
        if doc is not None:
            yield doc
