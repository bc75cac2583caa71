"""The national CVDR harvest: every municipality, then only what changed, resumable.

The first run is a *first pass*: one query per municipality (``dcterms.creator="Someren"``, for
each of the 480 current and former municipalities of ``ingest/reference/municipalities.csv``,
in alphabetical order). Per-municipality queries keep each result set small, so paging stays
stable over a pass that takes days, and they give the progress per municipality. Each query keeps
its own position (``ingest.harvest.Session.run``); the pass keeps which municipalities are done.
An interrupted pass resumes at the municipality and the record where it stopped.

Once the pass is complete, later runs send one query, ``dcterms.modified>=cursor``, for the whole
country (provinces and water boards come back too and are ignored without a download). The cursor
of a pass is the day before it started, so a change made to a municipality that was done early
in the pass is fetched by the next run; it never passes a record whose download failed.

State: one meta value per endpoint and choice of versions, ``{"cursor", "run", "pass": {"started",
"done", "retry_from"}}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from typing import Any

from ingest.embedding import EmbeddingCache
from ingest.harvest import Politeness, Progress, Session, StateStore, state_key
from ingest.harvest_report import HarvestReport
from ingest.municipalities import MUNICIPALITIES_CSV, read_municipalities
from ingest.sru import DEFAULT_ENDPOINT, FetchFailed, HarvestQuery
from search.engine import IndexEngine

FIRST_PASS, CHANGES = "first pass", "changes"


def is_national(query: HarvestQuery) -> bool:
    """No municipality, subject or type: the whole country."""
    return not (query.municipalities or query.subject.strip() or query.doc_type)


def nation_key(endpoint: str, all_versions: bool) -> str:
    filters = json.dumps([endpoint, "nation", "all versions" if all_versions else "in force"])
    return "harvest:cvdr:nation:" + hashlib.sha1(filters.encode()).hexdigest()[:16]


def municipality_names() -> list[str]:
    """Every current and former municipality as CVDR names it (``dcterms:creator``), alphabetically."""
    return sorted({m.name for m in read_municipalities(MUNICIPALITIES_CSV)})


def harvest_nation(
    index: IndexEngine,
    endpoint: str = DEFAULT_ENDPOINT,
    state_store: StateStore | None = None,
    progress: Progress | None = None,
    *,
    since: str = "",
    all_versions: bool = False,
    polite: Politeness | None = None,
    cache: EmbeddingCache | None = None,
    names: list[str] | None = None,
) -> HarvestReport:
    """Keep the index current with all of CVDR's municipal regulations (versions in force unless
    ``all_versions``): a first pass per municipality, then the changes since the cursor, or since
    ``since`` when given. Stops early like ``harvest_cvdr`` (``complete=False``) and resumes."""
    store: StateStore = state_store if state_store is not None else index.catalog
    session = Session(index, store, endpoint, polite or Politeness(), cache, all_versions, progress)
    report = HarvestReport(endpoint=endpoint, all_versions=all_versions)
    key = nation_key(endpoint, all_versions)
    state = json.loads(store.get_meta(key) or "{}")
    started = time.monotonic()
    try:
        if since or (state.get("cursor") and not state.get("pass")):
            report.national = CHANGES
            session.run(HarvestQuery(since=since), key, report)
        else:
            _first_pass(session, key, state, names or municipality_names(), report)
        report.complete = True
    except FetchFailed as exc:
        report.error = session.stopped(str(exc), report.national == FIRST_PASS)
    except KeyboardInterrupt:
        report.error = session.stopped("interrupted", report.national == FIRST_PASS)
    finally:
        session.close(report)
        if not report.complete:  # the country's cursor, not that of the municipality under way
            report.cursor = str(json.loads(store.get_meta(key) or "{}").get("cursor") or "")
        report.seconds = time.monotonic() - started
    return report


def _first_pass(
    session: Session, key: str, state: dict[str, Any], names: list[str], report: HarvestReport
) -> None:
    """One query per municipality not done yet in this pass; then the pass's cursor."""
    if not state.get("pass"):
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()  # CVDR dates are Dutch days
        state = {**state, "pass": {"started": yesterday, "done": [], "retry_from": ""}}
        session.store.set_meta(key, json.dumps(state))
    pending = state["pass"]
    done = set(pending["done"])
    report.national, report.municipalities_total = FIRST_PASS, len(names)
    report.municipalities_done = len(done.intersection(names))
    report.query = f"dcterms.creator=<each of {len(names)} municipalities>"
    for name in names:
        if name in done:
            continue
        found = session.registry.resolve(name)
        entry = report.municipality(name, found.code if found else "")
        query = HarvestQuery((name,))
        run = session.run(query, state_key(session.endpoint, query, session.all_versions), report)
        retry = [d for d in (pending["retry_from"], run.min_failed) if d]
        pending["retry_from"] = min(retry, default="")
        pending["done"].append(name)
        entry["done"], report.municipalities_done = True, report.municipalities_done + 1
        session.store.set_meta(key, json.dumps(state))
        if entry["added"] or entry["updated"]:
            session.index.flush()  # searches see each municipality as soon as it is done
    cursor = min(d for d in (pending["started"], pending["retry_from"]) if d)
    session.store.set_meta(key, json.dumps({"cursor": cursor, "run": None, "pass": None}))
    report.cursor = cursor
