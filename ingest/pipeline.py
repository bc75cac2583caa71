"""Ingest: files in, documents indexed; every failure reported per document, nothing else harmed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ingest.chunking import chunk
from ingest.embedding import EmbeddingCache, embed_passages, passage_text
from ingest.meldingen import melding
from ingest.sandbox import Budget, read_isolated
from ingest.sources import Defaults, ReadOptions, read_source, survey
from search.engine import IndexEngine
from search.errors import SchuttingError, UnreadableDocument
from search.types import Chunk, Document


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unchanged content
    removed: list[str] = field(default_factory=list)  # source gone from a synced folder
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (source, what): skipped files, lost pages
    chunks: int = 0
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return len(self.added) + len(self.replaced)

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "replaced": self.replaced,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed": [{"source": s, "reason": r, "melding": melding(r)} for s, r in self.failed],
            "warnings": [{"source": s, "reason": r, "melding": melding(r)} for s, r in self.warnings],
            "chunks": self.chunks,
            "seconds": round(self.seconds, 2),
            "chunks_per_second": round(self.chunks / self.seconds, 2) if self.seconds else None,
        }


Progress = Callable[[IngestReport, str], None]  # (report so far, current source)


LEXICAL_BATCH = 2048  # chunks written together when nothing is embedded (lexical-first)


@dataclass(frozen=True)
class IngestOptions:
    defaults: Defaults = Defaults()
    read: ReadOptions = ReadOptions()
    batch_chunks: int = 64  # chunks embedded and written together
    force: bool = False  # re-embed even when the content hash is unchanged
    sync: bool = False  # remove documents whose source file left the given folders
    budget: Budget | None = None  # read each file in a budgeted worker process (ingest.sandbox)
    lexical_first: bool = False  # write chunks without vectors (pending); `schutting embed` adds them


def ingest_paths(
    index: IndexEngine,
    paths: Sequence[Path],
    options: IngestOptions = IngestOptions(),
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Read, chunk, embed and index every document under paths."""
    report = IngestReport()
    started = time.monotonic()
    documents = _readable(_sources(survey(paths), report), options, report, progress)
    ingest_documents(index, documents, options, cache, progress, report)
    if options.sync:
        sync_folders(index, paths, report)
    index.flush()
    report.seconds = time.monotonic() - started
    return report


def _sources(found: Iterable[Path | UnreadableDocument], report: IngestReport) -> Iterator[Path]:
    """The files to read; every file a folder scan skips gets a warning line saying why."""
    for item in found:
        if isinstance(item, UnreadableDocument):
            report.warnings.append((item.source, item.reason))
        else:
            yield item


def _readable(
    files: Iterable[Path], options: IngestOptions, report: IngestReport, progress: Progress | None
) -> Iterator[Document]:
    for path in files:
        for item in _read_guarded(path, options):
            if isinstance(item, UnreadableDocument):
                report.failed.append((item.source, item.reason))
                _notify(progress, report, item.source)
            else:
                report.warnings.extend((item.source, warning) for warning in missing_pages(item))
                yield item


def missing_pages(doc: Document) -> list[str]:
    """Why pages of an indexed PDF are not in the index: damaged, or scans that were not OCR'd."""
    warnings = []
    if damaged := doc.extra.get("damaged_pages"):
        from ingest.pdf import page_ranges

        verb = "is" if len(damaged) == 1 else "are"
        warnings.append(
            f"{page_ranges(damaged)} {verb} damaged and could not be read; the other pages are indexed"
        )
    if unread := doc.extra.get("unread_pages"):
        warnings.append(f"{unread}; the other pages are indexed")
    return warnings


def _read_guarded(path: Path, options: IngestOptions) -> Iterator[Document | UnreadableDocument]:
    """read_source (in a worker process when there is a budget), with reader bugs turned into reasons."""
    try:
        if options.budget is not None:
            budget = replace(options.budget, queue_seconds=None)  # a batch waits for a reader, never fails
            yield from read_isolated(path, options.defaults, options.read, budget)
            return
        yield from read_source(path, options.defaults, options.read)
    except SchuttingError as exc:
        yield UnreadableDocument(str(path), str(exc).removeprefix(f"{path}: "))
    except Exception as exc:  # a reader bug must cost one document, not the batch
        yield UnreadableDocument(str(path), f"unexpected error while reading: {type(exc).__name__}: {exc}")


def ingest_documents(
    index: IndexEngine,
    documents: Iterable[Document],
    options: IngestOptions = IngestOptions(),
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Chunk, embed and write documents in batches; unchanged ones are skipped."""
    report = report if report is not None else IngestReport()
    batch: list[tuple[Document, list[Chunk], bool]] = []
    for doc in documents:
        known = index.catalog.content_hash(doc.id)
        if known == doc.content_hash and doc.content_hash and not options.force:
            report.skipped.append(doc.id)
            _notify(progress, report, doc.source)
            continue
        chunks = chunk(doc)
        if not chunks:
            report.failed.append((doc.source, "no text to index after extraction"))
            continue
        batch.append((doc, chunks, known is not None))
        if sum(len(c) for _, c, _ in batch) >= (
            LEXICAL_BATCH if options.lexical_first else options.batch_chunks
        ):
            _write(index, batch, cache, report, options.lexical_first)
            batch = []
        _notify(progress, report, doc.source)
    _write(index, batch, cache, report, options.lexical_first)
    _notify(progress, report, "")
    return report


def _write(
    index: IndexEngine,
    batch: list[tuple[Document, list[Chunk], bool]],
    cache: EmbeddingCache | None,
    report: IngestReport,
    lexical_first: bool = False,
) -> None:
    """Embed a batch and write it; lexical-first, write it at once with its chunks pending."""
    if not batch:
        return
    items: list[tuple[Document, list[Chunk], np.ndarray | None]] = []
    if lexical_first:
        items = [(doc, chunks, None) for doc, chunks, _ in batch]
    else:
        texts = [passage_text(doc, c) for doc, chunks, _ in batch for c in chunks]
        vectors, offset = embed_passages(index.embedder, texts, cache), 0
        for doc, chunks, _ in batch:
            items.append((doc, chunks, vectors[offset : offset + len(chunks)]))
            offset += len(chunks)
    index.put(items)
    for doc, chunks, existed in batch:
        (report.replaced if existed else report.added).append(doc.id)
        report.chunks += len(chunks)


def _notify(progress: Progress | None, report: IngestReport, source: str) -> None:
    if progress is not None:
        progress(report, source)


def sync_folders(index: IndexEngine, paths: Sequence[Path], report: IngestReport) -> None:
    """Documents whose source file under a synced folder no longer exists leave every index."""
    folders = [p.resolve() for p in paths if p.is_dir()]
    gone = []
    for source, doc_id in index.catalog.sources().items():
        path = Path(
            source.rsplit(":", 1)[0]
            if source.endswith(tuple("0123456789")) and ".jsonl:" in source
            else source
        )
        resolved = path.resolve()
        if any(resolved.is_relative_to(f) for f in folders) and not path.exists():
            gone.append(doc_id)
    if gone:
        index.delete(gone)
        report.removed.extend(gone)


def source_file(source: str) -> Path:
    """The file a document came from (a corpus.jsonl line is recorded as ``file.jsonl:N``)."""
    head, _, line = source.rpartition(":")
    return Path(head) if head.endswith(".jsonl") and line.isdigit() else Path(source)


def embed_document(
    index: IndexEngine, doc: Document, cache: EmbeddingCache | None = None
) -> tuple[list[Chunk], np.ndarray]:
    """Chunks and vectors of a document that is not (yet) indexed, e.g. an uploaded draft."""
    chunks = chunk(doc)
    if not chunks:
        raise UnreadableDocument(doc.source, "no text to compare after extraction")
    vectors = embed_passages(index.embedder, [passage_text(doc, c) for c in chunks], cache)
    return chunks, vectors
