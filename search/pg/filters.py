"""Filters as SQL over a generation's ``documents`` table (alias ``d``), applied before ranking."""

from __future__ import annotations

from typing import Any

from search.types import Filters


def where(f: Filters, schema: str) -> tuple[str, list[Any]]:
    """(SQL condition on ``d``, its parameters); ``TRUE`` when nothing is filtered."""
    clauses: list[str] = []
    args: list[Any] = []

    def among(column: str, values: tuple[str, ...], negate: bool = False) -> None:
        if values:
            clauses.append(f"{'NOT ' if negate else ''}({column} = ANY(%s))")
            args.append(list(values))

    among("d.municipality_code", f.municipalities)
    among("d.municipality_code", f.exclude_municipalities, negate=True)
    among("d.province", f.provinces)
    among("d.doc_type", f.doc_types)
    among("d.id", f.exclude_doc_ids, negate=True)
    if f.date_from:
        clauses.append("d.date <> '' AND d.date >= %s")
        args.append(f.date_from)
    if f.date_to:
        clauses.append("d.date <> '' AND d.date <= %s")
        args.append(f.date_to)
    if f.valid_on:
        clauses.append("(d.valid_from = '' OR d.valid_from <= %s) AND (d.valid_to = '' OR d.valid_to > %s)")
        args.extend([f.valid_on, f.valid_on])
    elif f.current_only:
        clauses.append("d.is_current")
    if f.legal_basis:
        bwb, _, artikel = f.legal_basis.partition(":")
        sub = f"SELECT doc_id FROM {schema}.legal_basis WHERE bwb = %s"
        args.append(bwb.upper())
        if artikel:
            sub += " AND artikel = %s"
            args.append(artikel)
        clauses.append(f"d.id IN ({sub})")
    return (" AND ".join(clauses) or "TRUE"), args
