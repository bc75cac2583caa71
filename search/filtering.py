"""Filters as bitmaps over chunk ids, cached per catalog revision.

A filter is split in what it admits (municipalities, types, dates, a legal basis: selective,
answered by SQL) and what it removes (superseded versions, an excluded municipality or
document: small sets, removed from the bitmap). "Current versions only", nearly everything,
therefore costs one small query per revision and no per-query list of millions of ids; the
chunk count and the bitmap of current versions are also kept per revision, so a filter new for
every query (find-similar excludes the query's municipality) costs a copy of that bitmap and its
own few thousand chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from search.catalog import Catalog
from search.types import Filters

CACHED_FILTERS = 32


@dataclass(frozen=True)
class Allowed:
    """The chunks a filter admits: a bool per chunk id, and how many chunks pass."""

    mask: np.ndarray  # bool, index = chunk id; ids beyond its end are not allowed
    count: int

    def ids(self) -> np.ndarray:
        return np.flatnonzero(self.mask).astype(np.int64)

    def packed(self) -> np.ndarray:
        """The mask as FAISS's IDSelectorBitmap reads it (bit i of byte i // 8, lowest first)."""
        return np.packbits(self.mask, bitorder="little")


class ChunkFilter:
    """Filters -> Allowed, for one catalog; results cached per (revision, filters)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cache: dict[tuple[int, Filters], Allowed | None] = {}
        self._base: _Base | None = None

    def allowed(self, filters: Filters, revision: int) -> Allowed | None:
        """None when the filter admits every chunk."""
        key = (revision, filters)
        if key not in self._cache:
            if len(self._cache) >= CACHED_FILTERS or any(r != revision for r, _ in self._cache):
                self._cache.clear()
            self._cache[key] = self._build(filters, revision)
        return self._cache[key]

    def excluded_documents(
        self, filters: Filters, revision: int
    ) -> tuple[set[str] | None, set[str], frozenset[str]]:
        """(documents admitted by the filter's positive clauses or None for all, documents removed,
        superseded versions removed): the last is one object per revision, so a caller may keep
        what it derives from it."""
        where, args = _where(_positive(filters))
        admitted = None
        if where:
            admitted = {r[0] for r in self.catalog.rows(f"SELECT d.id FROM documents d WHERE {where}", args)}
        removed = set(filters.exclude_doc_ids)
        if filters.exclude_municipalities:
            marks = ",".join("?" * len(filters.exclude_municipalities))
            sql = f"SELECT id FROM documents WHERE municipality_code IN ({marks})"
            removed |= {r[0] for r in self.catalog.rows(sql, filters.exclude_municipalities)}
        superseded = frozenset[str]()
        if filters.current_only and not filters.valid_on:
            superseded = self._base_at(revision).superseded_docs
        return admitted, removed, superseded

    def _build(self, filters: Filters, revision: int) -> Allowed | None:
        base = self._base_at(revision)
        where, args = _where(_positive(filters))
        current = filters.current_only and not filters.valid_on
        excluded = self._excluded_chunks(filters, base.size)
        if where:
            sql = f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}"
            ids = np.asarray([r[0] for r in self.catalog.rows(sql, args)], dtype=np.int64)
            mask = np.zeros(base.size, dtype=bool)
            mask[ids[ids < base.size]] = True
            mask[excluded] = False
            if current:
                mask[base.superseded] = False
            return Allowed(mask, int(mask.sum()))
        if not len(excluded) and not (current and len(base.superseded)):
            return None  # nothing removed: every chunk passes
        mask = base.current.copy() if current else base.every()
        count = base.chunks - (len(base.superseded) if current else 0)
        count -= int(np.count_nonzero(mask[excluded]))  # excluded and not already out (exact count)
        mask[excluded] = False
        return Allowed(mask, count)

    def _excluded_chunks(self, filters: Filters, size: int) -> np.ndarray:
        """Unique ids of the chunks of the excluded municipalities and documents (a few thousand
        at most), below ``size``: chunks added since the revision are not in the mask anyway."""
        parts = []
        for clause, values in (
            ("d.municipality_code", filters.exclude_municipalities),
            ("d.id", filters.exclude_doc_ids),
        ):
            if values:
                marks = ",".join("?" * len(values))
                sql = f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {clause} IN ({marks})"
                parts.append(np.asarray([r[0] for r in self.catalog.rows(sql, values)], dtype=np.int64))
        ids = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        return ids[ids < size]

    def _base_at(self, revision: int) -> _Base:
        """What every filter of a revision starts from, counted and queried once per revision."""
        if self._base is None or self._base.revision != revision:
            size = int(self.catalog.rows("SELECT COALESCE(MAX(id), 0) FROM chunks")[0][0]) + 1
            rows = self.catalog.rows(
                "SELECT c.id FROM documents d JOIN chunks c ON c.doc_id = d.id WHERE d.is_current = 0"
            )
            docs = self.catalog.rows("SELECT id FROM documents WHERE is_current = 0")
            superseded = np.unique(np.asarray([r[0] for r in rows], dtype=np.int64))
            superseded = superseded[superseded < size]
            self._base = _Base(
                revision, size, self.catalog.count_chunks(), superseded, frozenset(r[0] for r in docs)
            )
        return self._base


@dataclass
class _Base:
    """Per catalog revision: the size of a mask (highest chunk id + 1), the number of chunks, and
    the chunks (unique, sorted) and documents of versions no longer in force (CVDR)."""

    revision: int
    size: int
    chunks: int
    superseded: np.ndarray
    superseded_docs: frozenset[str]

    def every(self) -> np.ndarray:
        mask = np.ones(self.size, dtype=bool)
        mask[0] = False  # SQLite rowids start at 1
        return mask

    @cached_property
    def current(self) -> np.ndarray:
        """Every chunk but the superseded ones (copied by each filter that starts from it)."""
        mask = self.every()
        mask[self.superseded] = False
        return mask


def _positive(f: Filters) -> Filters:
    """The clauses that admit documents (no exclusions, no current-version rule unless dated)."""
    return replace(f, exclude_municipalities=(), exclude_doc_ids=(), current_only=False)


def _where(f: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def among(column: str, values: Sequence[str], negate: bool = False) -> None:
        if values:
            marks = ",".join("?" * len(values))
            clauses.append(f"{column} {'NOT ' if negate else ''}IN ({marks})")
            args.extend(values)

    among("d.municipality_code", f.municipalities)
    among("d.municipality_code", f.exclude_municipalities, negate=True)
    among("d.province", f.provinces)
    among("d.doc_type", f.doc_types)
    among("d.id", f.exclude_doc_ids, negate=True)
    if f.date_from:
        clauses.append("d.date != '' AND d.date >= ?")
        args.append(f.date_from)
    if f.date_to:
        clauses.append("d.date != '' AND d.date <= ?")
        args.append(f.date_to)
    if f.valid_on:
        clauses.append("(d.valid_from = '' OR d.valid_from <= ?) AND (d.valid_to = '' OR d.valid_to > ?)")
        args.extend([f.valid_on, f.valid_on])
    elif f.current_only:
        clauses.append("d.is_current = 1")
    if f.legal_basis:
        bwb, _, artikel = f.legal_basis.partition(":")
        sub = "SELECT doc_id FROM legal_basis WHERE bwb = ?"
        args.append(bwb.upper())
        if artikel:
            sub += " AND artikel = ?"
            args.append(artikel)
        clauses.append(f"d.id IN ({sub})")
    return " AND ".join(clauses), args
