"""What the index holds: per municipality (all current gemeenten) documents per type, the newest
document date and the last harvest; and how many documents a set of filters searches.

Read from the catalog's document listing (any engine), once per catalog revision.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ingest.municipalities import load_municipalities
from search.engine import CatalogReader, IndexEngine
from search.types import DocumentInfo, Filters

PAGE = 5000
_CVDR_VERSION = re.compile(r"(CVDR\d+)_(\d+)")


@dataclass(frozen=True)
class MunicipalityCoverage:
    code: str
    name: str
    province: str
    types: dict[str, int] = field(default_factory=dict)
    newest: str = ""  # ISO date of the newest document
    harvested: str = ""  # ISO date a CVDR harvest last fetched one of its regulations

    @property
    def documents(self) -> int:
        return sum(self.types.values())

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "province": self.province,
                "documents": self.documents, "types": self.types, "newest_date": self.newest,
                "last_harvest": self.harvested}  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """Every document's metadata at one catalog revision, with the current CVDR versions marked."""

    documents: tuple[DocumentInfo, ...]
    superseded: frozenset[str]


# Per catalog object, dropped with it: keyed by id() a new catalog (a swapped-in generation) could
# inherit a dead one's entry at the same revision number.
_cache: weakref.WeakKeyDictionary[CatalogReader, tuple[int, Snapshot]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def snapshot(catalog: CatalogReader) -> Snapshot:
    revision = catalog.revision()
    with _lock:
        cached = _cache.get(catalog)
        if cached is not None and cached[0] == revision:
            return cached[1]
    docs: list[DocumentInfo] = []
    while batch := catalog.list_documents(limit=PAGE, offset=len(docs)):
        docs.extend(batch)
        if len(batch) < PAGE:
            break
    found = Snapshot(tuple(docs), _superseded(docs))
    with _lock:
        _cache[catalog] = (revision, found)
    return found


def _superseded(docs: list[DocumentInfo]) -> frozenset[str]:
    """CVDR versions that are not their work's current one (the highest version still in force)."""
    works: dict[str, list[tuple[bool, int, str]]] = {}
    for doc in docs:
        found = _CVDR_VERSION.fullmatch(doc.id)
        if found:
            ended = bool(doc.extra.get("valid_to"))
            works.setdefault(found[1], []).append((not ended, int(found[2]), doc.id))
    return frozenset(d for versions in works.values() for *_, d in sorted(versions)[:-1])


def coverage(catalog: CatalogReader) -> list[MunicipalityCoverage]:
    """Every current municipality, with what the index holds of it (current versions only)."""
    registry = load_municipalities()
    held = snapshot(catalog)
    types: dict[str, Counter[str]] = {}
    newest: dict[str, str] = {}
    harvested: dict[str, str] = {}
    for doc in held.documents:
        if doc.id in held.superseded or not doc.municipality_code:
            continue
        found = registry.resolve(doc.municipality_code)
        code = registry.current(found).code if found else doc.municipality_code
        types.setdefault(code, Counter())[doc.doc_type or "document"] += 1
        newest[code] = max(newest.get(code, ""), doc.date or "")
        harvested[code] = max(harvested.get(code, ""), str(doc.extra.get("harvested") or ""))
    return [
        MunicipalityCoverage(
            m.code,
            m.name,
            m.province,
            dict(sorted(types.get(m.code, Counter()).items())),
            newest.get(m.code, ""),
            harvested.get(m.code, ""),
        )
        for m in sorted(registry.all_active(), key=lambda m: m.name.lstrip("'s-").lower())
    ]


_semantic: weakref.WeakKeyDictionary[CatalogReader, tuple[int, float]] = weakref.WeakKeyDictionary()


def semantic_coverage(index: IndexEngine) -> float:
    """The share of passages with a vector (1.0 when complete): until an embed job has given a
    lexical-first ingest's passages their vectors, search finds those documents by words only."""
    revision = index.catalog.revision()
    with _lock:
        cached = _semantic.get(index.catalog)
    if cached is not None and cached[0] == revision:
        return cached[1]
    total = index.catalog.count_chunks()
    share = 1.0 - index.count_pending() / total if total else 1.0
    with _lock:
        _semantic[index.catalog] = (revision, share)
    return share


def searched(catalog: CatalogReader, filters: Filters) -> tuple[int, int]:
    """(documents, municipalities) that a search with these filters looks through."""
    held = snapshot(catalog)
    docs = [d for d in held.documents if _passes(d, filters, held.superseded)]
    return len(docs), len({d.municipality_code for d in docs if d.municipality_code})


def _passes(doc: DocumentInfo, f: Filters, superseded: frozenset[str]) -> bool:
    checks = (
        not f.municipalities or doc.municipality_code in f.municipalities,
        doc.municipality_code not in f.exclude_municipalities,
        not f.provinces or doc.province in f.provinces,
        not f.doc_types or doc.doc_type in f.doc_types,
        not f.date_from or (doc.date or "") >= f.date_from,
        not f.date_to or ("" < (doc.date or "") <= f.date_to),
        doc.id not in f.exclude_doc_ids,
        _valid(doc, f, superseded),
        not f.legal_basis or _based_on(doc, f.legal_basis),
    )
    return all(checks)


def _valid(doc: DocumentInfo, f: Filters, superseded: frozenset[str]) -> bool:
    if f.valid_on:
        start, end = str(doc.extra.get("valid_from") or ""), str(doc.extra.get("valid_to") or "")
        return (not start or start <= f.valid_on) and (not end or end > f.valid_on)
    return not f.current_only or doc.id not in superseded


def _based_on(doc: DocumentInfo, basis: str) -> bool:
    bwb, _, artikel = basis.partition(":")
    return any(
        isinstance(b, dict)
        and b.get("bwb", "").upper() == bwb.upper()
        and (not artikel or b.get("artikel") == artikel)
        for b in doc.extra.get("legal_basis") or []
    )


def held_of(
    catalog: CatalogReader, municipality_codes: tuple[str, ...], doc_types: tuple[str, ...]
) -> dict[str, int]:
    """How many documents the index holds at all of these municipalities and of these types."""
    held = snapshot(catalog)
    current = [d for d in held.documents if d.id not in held.superseded]
    return {
        "municipality": sum(d.municipality_code in municipality_codes for d in current),
        "type": sum(d.doc_type in doc_types for d in current),
    }


def browse(catalog: CatalogReader, filters: Filters, limit: int) -> tuple[int, list[DocumentInfo]]:
    """(how many documents pass the filters, the newest `limit` of them)."""
    held = snapshot(catalog)
    docs = [d for d in held.documents if _passes(d, filters, held.superseded)]
    docs.sort(key=lambda d: (d.date or "", d.id), reverse=True)
    return len(docs), docs[:limit]
