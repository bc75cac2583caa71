"""Harvest official regulations from CVDR (lokaleregelgeving.overheid.nl) into the index, incrementally.

A harvest sends one CQL query (``ingest.sru.build_cql``) to the SRU service, pages through the
results, downloads each record's XML (``publicatieurl_xml``) and ingests it through the normal
pipeline: one document per version (``CVDR<work>_<version>``), ``extra.work_id`` linking the versions
of a work, the municipality resolved to its CBS code, ``extra.legal_basis`` from ``dcterms:source``.

State lives in a ``StateStore`` (the catalog's meta table by default), one JSON value per endpoint
and filter set: the cursor (the ``dcterms.modified`` the next run starts from) and, while a run is
under way, that run (query and position), saved after every record so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

from ingest.cvdr import parse_cvdr, parse_legal_basis, regulation_type
from ingest.embedding import EmbeddingCache
from ingest.municipalities import MunicipalityRegistry, load_municipalities
from ingest.pipeline import IngestOptions, ingest_documents
from ingest.sources import Defaults, complete
from ingest.sru import (
    DEFAULT_ENDPOINT,
    FetchFailed,
    HarvestQuery,
    PoliteClient,
    SruRecord,
    build_cql,
    creator_names,
    search_retrieve,
)
from search.engine import IndexEngine
from search.errors import InvalidInput, UnreadableDocument
from search.types import Document

_IDENTIFIER = re.compile(r"^(?:CVDR)?(\d+)_(\d+)$", re.IGNORECASE)


class StateStore(Protocol):
    """Where cursors and runs are kept; ``Catalog`` is one (its meta table)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


@dataclass
class HarvestReport:
    query: str = ""  # the CQL sent
    endpoint: str = ""
    total: int = 0  # numberOfRecords
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # a version whose metadata or text changed
    skipped: list[str] = field(default_factory=list)  # unchanged since the last harvest: not downloaded
    superseded: list[str] = field(default_factory=list)  # end date set to the next version's start
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (identifier, why): not a municipality
    failed: list[tuple[str, str]] = field(default_factory=list)  # (identifier, reason): retried next run
    resumed_from: int | None = None  # startRecord an interrupted run was resumed at
    cursor: str = ""  # the next run asks for dcterms.modified>=cursor
    complete: bool = False
    error: str = ""  # why the run stopped early; run it again to resume
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    @property
    def seen(self) -> int:
        return sum(len(x) for x in (self.added, self.updated, self.skipped, self.ignored, self.failed))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ignored"] = [{"id": i, "reason": r} for i, r in self.ignored]
        data["failed"] = [{"id": i, "reason": r} for i, r in self.failed]
        data["seconds"] = round(self.seconds, 2)
        data["seen"] = self.seen
        return data


Progress = Callable[[HarvestReport, str], None]  # (report so far, identifier just handled)


@dataclass
class _Run:
    """One pass over the results of one query; persisted after every record."""

    cql: str
    since: str
    start: int = 1  # startRecord of the page being worked on
    done: int = 0  # highest recordPosition handled
    max_modified: str = ""  # newest dcterms.modified seen
    min_failed: str = ""  # oldest dcterms.modified of a record that failed: the cursor must not pass it


@dataclass
class _Context:
    index: IndexEngine
    client: PoliteClient
    registry: MunicipalityRegistry
    cache: EmbeddingCache | None
    versions: dict[str, set[str]]  # work id -> ids of its versions in the index


def state_key(endpoint: str, query: HarvestQuery) -> str:
    """One cursor per endpoint and filter set (the date is not part of it)."""
    filters = json.dumps(
        [endpoint, sorted(creator_names(query.municipalities)), query.subject, query.doc_type]
    )
    return "harvest:cvdr:" + hashlib.sha1(filters.encode()).hexdigest()[:16]


def harvest_cvdr(
    index: IndexEngine,
    query: HarvestQuery,
    endpoint: str = DEFAULT_ENDPOINT,
    state_store: StateStore | None = None,
    progress: Progress | None = None,
    *,
    rate: float = 1.0,
    retries: int = 4,
    backoff: float = 2.0,
    page_size: int = 100,
    timeout: float = 60.0,
    cache: EmbeddingCache | None = None,
) -> HarvestReport:
    """Fetch what changed in CVDR since the last run of these filters (or ``query.since``) into the index.

    Network trouble and Ctrl-C end the run early with ``complete=False`` and ``error`` set; the position
    is saved, and the same call resumes there. A query the service rejects raises ``SruDiagnostic``."""
    if not 1 <= page_size <= 1000:
        raise InvalidInput(f"page size must be 1 to 1000 records, got {page_size}")
    store: StateStore = state_store if state_store is not None else index.catalog
    key = state_key(endpoint, query)
    state = json.loads(store.get_meta(key) or "{}")
    run = _begin(query, state)
    report = HarvestReport(query=run.cql, endpoint=endpoint, resumed_from=run.start if run.done else None)
    client = PoliteClient(rate=rate, retries=retries, backoff=backoff, timeout=timeout)
    ctx = _Context(index, client, load_municipalities(), cache, _versions(index.catalog.document_ids()))
    started = time.monotonic()
    try:
        _pages(ctx, run, endpoint, page_size, report, lambda: _save(store, key, state, run), progress)
        report.complete = True
    except FetchFailed as exc:
        report.error = f"{exc}; run the harvest again to resume at record {run.done + 1}"
    except KeyboardInterrupt:
        report.error = f"interrupted; run the harvest again to resume at record {run.done + 1}"
    finally:
        client.close()
        index.flush()
        report.requests, report.retries = client.requests, client.retried
        report.cursor = _finish(store, key, state, run, report.complete)
        report.seconds = time.monotonic() - started
    return report


def _begin(query: HarvestQuery, state: dict[str, Any]) -> _Run:
    """Resume the saved run when it asked the same question; else start one from the cursor."""
    pending = state.get("run")
    since = query.since or (pending["since"] if pending else state.get("cursor", ""))
    cql = build_cql(query, since)
    if pending and pending.get("cql") == cql:
        return _Run(**pending)
    return _Run(cql=cql, since=since)


def _save(store: StateStore, key: str, state: dict[str, Any], run: _Run) -> None:
    store.set_meta(key, json.dumps({**state, "run": asdict(run)}))


def _finish(store: StateStore, key: str, state: dict[str, Any], run: _Run, complete: bool) -> str:
    """After a complete run, move the cursor (never past a record that failed) and forget the run."""
    if not complete:
        _save(store, key, state, run)
        return str(state.get("cursor", ""))
    cursor = run.min_failed or max(str(state.get("cursor", "")), run.since, run.max_modified)
    store.set_meta(key, json.dumps({"cursor": cursor, "run": None}))
    return cursor


def _pages(
    ctx: _Context, run: _Run, endpoint: str, size: int, report: HarvestReport,
    save: Callable[[], None], progress: Progress | None,
) -> None:  # fmt: skip
    while True:
        page = search_retrieve(ctx.client, endpoint, run.cql, run.start, size)
        report.total = page.total
        following = page.next_position if page.next_position and page.next_position > run.start else None
        for offset, record in enumerate(page.records):
            position = record.position or run.start + offset
            if position <= run.done:
                continue
            _harvest_record(ctx, record, run, report)
            run.done = position
            if offset == len(page.records) - 1 and following:
                run.start = following
            save()
            if progress is not None:
                progress(report, record.identifier)
        if following is None or not page.records:
            return
        run.start = following


def _harvest_record(ctx: _Context, record: SruRecord, run: _Run, report: HarvestReport) -> None:
    doc_id = cvdr_id(record.identifier)
    if not doc_id:
        report.failed.append((record.identifier or "?", "no usable identifier in the record"))
        return
    run.max_modified = max(run.max_modified, record.modified)
    if reason := _not_municipal(record):
        report.ignored.append((doc_id, reason))
        return
    known = ctx.index.catalog.document(doc_id)
    if known is not None and _unchanged(known.extra, record):
        report.skipped.append(doc_id)
        return
    try:
        if not record.xml_url:
            raise UnreadableDocument(doc_id, "the record has no publicatieurl_xml")
        doc = record_document(record, ctx.client.get(record.xml_url), ctx.registry)
    except FetchFailed as exc:  # may work next time: the cursor stays before it
        report.failed.append((doc_id, str(exc)))
        run.min_failed = min(filter(None, (run.min_failed, record.modified)), default="")
        return
    except UnreadableDocument as exc:  # will not work next time either: reported, not retried
        report.failed.append((doc_id, str(exc)))
        return
    ingested = ingest_documents(ctx.index, [doc], IngestOptions(), ctx.cache)
    report.added.extend(ingested.added)
    report.updated.extend(ingested.replaced)
    report.skipped.extend(ingested.skipped)
    report.failed.extend((doc_id, reason) for _, reason in ingested.failed)
    _close_versions(ctx, doc, report)


def cvdr_id(identifier: str) -> str:
    """'CVDR680781_1' for 'CVDR680781_1' or '680781_1'; '' when it is not a version identifier."""
    match = _IDENTIFIER.match(identifier.strip())
    return f"CVDR{match.group(1)}_{match.group(2)}" if match else ""


def _not_municipal(record: SruRecord) -> str:
    kind = record.organisatietype or record.creator_scheme.rpartition(":")[2]
    return (
        "" if not kind or kind.lower() == "gemeente" else f"{record.creator} is a {kind}, not a municipality"
    )


def _unchanged(extra: dict[str, Any], record: SruRecord) -> bool:
    same_end = not record.valid_to or extra.get("valid_to") == record.valid_to
    return bool(record.modified) and extra.get("modified") == record.modified and same_end


def record_document(record: SruRecord, data: bytes, registry: MunicipalityRegistry) -> Document:
    """The regulation's XML, with the search record's (newer) metadata over it and a CBS code."""
    doc = parse_cvdr(data, record.xml_url)
    if doc.id != cvdr_id(record.identifier):
        raise UnreadableDocument(record.xml_url, f"the record is {record.identifier}, the XML is {doc.id}")
    extra = dict(doc.extra)
    for name, value in (("modified", record.modified), ("issued", record.issued),
                        ("valid_from", record.valid_from), ("valid_to", record.valid_to)):  # fmt: skip
        extra[name] = value or extra.get(name, "")
    extra["subject"] = list(dict.fromkeys([*extra.get("subject", []), *record.subjects]))
    if not extra.get("legal_basis") and record.sources:
        extra["legal_basis"] = [parse_legal_basis(resource, text) for resource, text in record.sources]
    extra.update(indeling=record.indeling, url=record.url)
    doc_type = regulation_type(record.indeling, record.rubriek) or doc.doc_type
    doc = replace(
        doc,
        municipality=doc.municipality or record.creator,
        doc_type=doc_type,
        date=doc.date or extra["issued"] or extra["valid_from"],
        extra=extra,
        content_hash=_hash(doc.content_hash, extra),
    )
    return complete(doc, Path(doc.id), Defaults(), registry)


def _hash(content_hash: str, extra: dict[str, Any]) -> str:
    """Text and validity together: a version whose end date changed is re-indexed too."""
    dates = "|".join(str(extra.get(k, "")) for k in ("modified", "valid_from", "valid_to"))
    return hashlib.sha256(f"{content_hash}|{dates}".encode()).hexdigest()


def _versions(doc_ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for doc_id in doc_ids:
        if match := _IDENTIFIER.match(doc_id):
            out.setdefault(f"CVDR{match.group(1)}", set()).add(doc_id)
    return out


def _close_versions(ctx: _Context, doc: Document, report: HarvestReport) -> None:
    """Give a version without an end date the start date of the next version of its work.

    CVDR keeps ``dcterms:modified`` of a version when a later one ends it, so an incremental harvest
    never sees the end date arrive; without this, ``valid_on`` would find two versions in force."""
    work = str(doc.extra.get("work_id", ""))
    ids = ctx.versions.setdefault(work, set())
    ids.add(doc.id)
    infos = ctx.index.catalog.documents(sorted(ids))
    ordered = sorted(infos.values(), key=lambda d: int(d.extra.get("version") or 0))
    for earlier, later in pairwise(ordered):
        end, own = str(later.extra.get("valid_from", "")), earlier.extra
        inferred = own.get("valid_to_inferred") and own.get("valid_to") != end
        if end and end > str(own.get("valid_from", "")) and (not own.get("valid_to") or inferred):
            _set_end(ctx, earlier.id, end)
            report.superseded.append(earlier.id)


def _set_end(ctx: _Context, doc_id: str, end: str) -> None:
    doc = ctx.index.catalog.load_document(doc_id)
    if doc is None:
        return
    extra = {**doc.extra, "valid_to": end, "valid_to_inferred": True}
    ingest_documents(ctx.index, [replace(doc, extra=extra, content_hash=_hash(doc.content_hash, extra))],
                     IngestOptions(), ctx.cache)  # fmt: skip
