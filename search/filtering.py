"""Filters as bitmaps over chunk ids, cached per catalog revision.

A filter is split in what it admits (municipalities, types, dates, a legal basis: selective,
answered by SQL) and what it removes (superseded versions, an excluded municipality or
document: small sets, removed from the bitmap). "Current versions only", nearly everything,
therefore costs one small query per revision and no per-query list of millions of ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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
        self._superseded: tuple[int, np.ndarray, frozenset[str]] | None = None

    def allowed(self, filters: Filters, revision: int) -> Allowed | None:
        """None when the filter admits every chunk."""
        key = (revision, filters)
        if key not in self._cache:
            if len(self._cache) >= CACHED_FILTERS or any(r != revision for r, _ in self._cache):
                self._cache.clear()
            self._cache[key] = self._build(filters, revision)
        return self._cache[key]

    def excluded_documents(self, filters: Filters, revision: int) -> tuple[set[str] | None, set[str]]:
        """(documents admitted by the filter's positive clauses or None for all, documents removed)."""
        where, args = _where(_positive(filters))
        admitted = None
        if where:
            admitted = {r[0] for r in self.catalog.rows(f"SELECT d.id FROM documents d WHERE {where}", args)}
        removed = set(filters.exclude_doc_ids)
        if filters.exclude_municipalities:
            marks = ",".join("?" * len(filters.exclude_municipalities))
            sql = f"SELECT id FROM documents WHERE municipality_code IN ({marks})"
            removed |= {r[0] for r in self.catalog.rows(sql, filters.exclude_municipalities)}
        if filters.current_only and not filters.valid_on:
            removed |= self._superseded_at(revision)[1]
        return admitted, removed

    def _build(self, filters: Filters, revision: int) -> Allowed | None:
        size = int(self.catalog.rows("SELECT COALESCE(MAX(id), 0) FROM chunks")[0][0]) + 1
        where, args = _where(_positive(filters))
        if where:
            sql = f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}"
            ids = np.asarray([r[0] for r in self.catalog.rows(sql, args)], dtype=np.int64)
            mask = np.zeros(size, dtype=bool)
            mask[ids] = True
        else:
            mask = None
        removed = self._removed_chunks(filters, revision)
        if mask is None and not len(removed):
            return None
        if mask is None:
            mask = np.ones(size, dtype=bool)
            mask[0] = False  # SQLite rowids start at 1
            mask[removed] = False
            return Allowed(mask, self.catalog.count_chunks() - len(np.unique(removed)))
        mask[removed] = False
        return Allowed(mask, int(mask.sum()))

    def _removed_chunks(self, filters: Filters, revision: int) -> np.ndarray:
        parts = []
        if filters.current_only and not filters.valid_on:
            parts.append(self._superseded_at(revision)[0])
        for clause, values in (
            ("d.municipality_code", filters.exclude_municipalities),
            ("d.id", filters.exclude_doc_ids),
        ):
            if values:
                marks = ",".join("?" * len(values))
                sql = f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {clause} IN ({marks})"
                parts.append(np.asarray([r[0] for r in self.catalog.rows(sql, values)], dtype=np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _superseded_at(self, revision: int) -> tuple[np.ndarray, frozenset[str]]:
        """Chunk ids and document ids of versions no longer in force (CVDR), once per revision."""
        if self._superseded is None or self._superseded[0] != revision:
            rows = self.catalog.rows(
                "SELECT c.id, d.id FROM documents d JOIN chunks c ON c.doc_id = d.id WHERE d.is_current = 0"
            )
            docs = self.catalog.rows("SELECT id FROM documents WHERE is_current = 0")
            ids = np.asarray([r[0] for r in rows], dtype=np.int64)
            self._superseded = (revision, ids, frozenset(r[0] for r in docs))
        return self._superseded[1], self._superseded[2]


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
