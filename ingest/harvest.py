"""Harvest official regulations from CVDR (lokaleregelgeving.overheid.nl) into the index, incrementally.

A harvest sends one CQL query (``ingest.sru.build_cql``) to the SRU service, pages through the
results, downloads each record's XML (``publicatieurl_xml``) and ingests it through the normal
pipeline: one document per version (``CVDR<work>_<version>``), ``extra.work_id`` linking the versions
of a work, the municipality resolved to its CBS code, ``extra.legal_basis`` from ``dcterms:source``.
Versions that ended before today are counted (``not_in_force``) but not downloaded, unless
``all_versions``. A harvest without filters is the national one (``ingest.national``), which runs
one ``Session`` query per municipality.

State lives in a ``StateStore`` (the catalog's meta table by default), one JSON value per endpoint
and filter set: the cursor (the ``dcterms.modified`` the next run starts from) and, while a run is
under way, that run (query and position), saved after every record so an interrupted run resumes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ingest.cvdr import parse_cvdr, parse_legal_basis, regulation_type
from ingest.embedding import EmbeddingCache
from ingest.harvest_report import HarvestReport
from ingest.harvest_versions import IDENTIFIER, close_versions, validity_hash, work_versions
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


class StateStore(Protocol):
    """Where cursors and runs are kept; ``Catalog`` is one (its meta table)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


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
class Politeness:
    """How hard to press the service: requests per second, retries and their backoff, page size."""

    rate: float = 1.0
    retries: int = 4
    backoff: float = 2.0
    page_size: int = 100
    timeout: float = 60.0


class Session:
    """One client (one rate limit) and one view of the index for the queries of one harvest."""

    def __init__(
        self, index: IndexEngine, store: StateStore, endpoint: str, polite: Politeness,
        cache: EmbeddingCache | None = None, all_versions: bool = False, progress: Progress | None = None,
    ) -> None:  # fmt: skip
        if not 1 <= polite.page_size <= 1000:
            raise InvalidInput(f"page size must be 1 to 1000 records, got {polite.page_size}")
        self.index, self.store, self.endpoint, self.page_size = index, store, endpoint, polite.page_size
        self.client = PoliteClient(polite.rate, polite.retries, polite.backoff, polite.timeout)
        self.registry, self.cache, self.progress = load_municipalities(), cache, progress
        self.versions = work_versions(index.catalog.document_ids())  # work id -> ids of its versions
        self.all_versions = all_versions
        self.today = dt.date.today().isoformat()  # a version that ended before this is not in force
        self.current: _Run | None = None  # the query under way

    def run(self, query: HarvestQuery, key: str, report: HarvestReport) -> _Run:
        """Fetch what one query returns (from its stored cursor or saved position) into the index.

        Raises FetchFailed or KeyboardInterrupt when stopped early; the position is saved first."""
        state = json.loads(self.store.get_meta(key) or "{}")
        run = self.current = _begin(query, state)  # bad filters raise here, before any request
        report.query = report.query or run.cql
        if run.done and report.resumed_from is None:
            report.resumed_from = run.start
        complete = False
        try:
            _pages(self, run, report, lambda: _save(self.store, key, state, run))
            complete = True
        finally:
            report.cursor = _finish(self.store, key, state, run, complete)
        return run

    def stopped(self, reason: str, name_query: bool = False) -> str:
        """Why the harvest stopped and where the next run resumes (the query too, if ``name_query``)."""
        at = f" at record {self.current.done + 1}" if self.current is not None else ""
        of = f" of {self.current.cql}" if self.current is not None and name_query else ""
        return f"{reason}; run the harvest again to resume{at}{of}"

    def close(self, report: HarvestReport) -> None:
        self.client.close()
        self.index.flush()
        report.requests, report.retries = self.client.requests, self.client.retried


def state_key(endpoint: str, query: HarvestQuery, all_versions: bool = True) -> str:
    """One cursor per endpoint, filter set and choice of versions (the date is not part of it)."""
    names = sorted(creator_names(query.municipalities))
    filters = [endpoint, names, query.subject, query.doc_type, *([] if all_versions else ["in force"])]
    return "harvest:cvdr:" + hashlib.sha1(json.dumps(filters).encode()).hexdigest()[:16]


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
    all_versions: bool = False,
) -> HarvestReport:
    """Fetch what changed in CVDR since the last run of these filters (or ``query.since``) into the index;
    only versions in force (or yet to come) unless ``all_versions``.

    Network trouble and Ctrl-C end the run early with ``complete=False`` and ``error`` set; the position
    is saved, and the same call resumes there. A query the service rejects raises ``SruDiagnostic``."""
    store: StateStore = state_store if state_store is not None else index.catalog
    polite = Politeness(rate, retries, backoff, page_size, timeout)
    session = Session(index, store, endpoint, polite, cache, all_versions, progress)
    report = HarvestReport(endpoint=endpoint, all_versions=all_versions)
    started = time.monotonic()
    try:
        session.run(query, state_key(endpoint, query, all_versions), report)
        report.complete = True
    except FetchFailed as exc:
        report.error = session.stopped(str(exc))
    except KeyboardInterrupt:
        report.error = session.stopped("interrupted")
    finally:
        session.close(report)
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
    store.set_meta(key, json.dumps({**state, "cursor": cursor, "run": None}))
    return cursor


def _pages(session: Session, run: _Run, report: HarvestReport, save: Callable[[], None]) -> None:
    base = report.total  # records of the queries before this one (a national first pass)
    while True:
        page = search_retrieve(session.client, session.endpoint, run.cql, run.start, session.page_size)
        report.total = base + page.total
        following = page.next_position if page.next_position and page.next_position > run.start else None
        for offset, record in enumerate(page.records):
            position = record.position or run.start + offset
            if position <= run.done:
                continue
            before = report.counts()
            _harvest_record(session, record, run, report)
            found = session.registry.resolve(record.creator)
            report.tally(record.creator, found.code if found else "", before)
            run.done = position
            if offset == len(page.records) - 1 and following:
                run.start = following
            save()
            if session.progress is not None:
                session.progress(report, record.identifier)
        if following is None or not page.records:
            return
        run.start = following


def _harvest_record(ctx: Session, record: SruRecord, run: _Run, report: HarvestReport) -> None:
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
    if known is None and not ctx.all_versions and record.valid_to and record.valid_to <= ctx.today:
        report.not_in_force.append(doc_id)  # a version we hold is updated even when it ended
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
    report.superseded.extend(close_versions(ctx.index, ctx.versions, doc, ctx.cache))


def cvdr_id(identifier: str) -> str:
    """'CVDR680781_1' for 'CVDR680781_1' or '680781_1'; '' when it is not a version identifier."""
    match = IDENTIFIER.match(identifier.strip())
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
    # harvested: the day this version was fetched (the coverage page's "last harvest")
    extra.update(indeling=record.indeling, url=record.url, harvested=dt.date.today().isoformat())
    doc_type = regulation_type(record.indeling, record.rubriek) or doc.doc_type
    doc = replace(
        doc,
        municipality=doc.municipality or record.creator,
        doc_type=doc_type,
        date=doc.date or extra["issued"] or extra["valid_from"],
        extra=extra,
        content_hash=validity_hash(doc.content_hash, extra),
    )
    return complete(doc, Path(doc.id), Defaults(), registry)
