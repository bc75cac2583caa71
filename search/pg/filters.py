"""Filters as SQL over a generation's ``documents`` (alias ``d``) or, for the passages a search
ranks, its ``chunks`` (alias ``c``: each carries its document's filter columns); applied before
ranking."""

from __future__ import annotations

from typing import Any

from search.types import Filters


def where(f: Filters, schema: str, on_chunks: bool = False) -> tuple[str, list[Any]]:
    """(SQL condition on documents ``d``, or with ``on_chunks`` on chunks ``c``, which carry
    their document's filter columns; its parameters); ``TRUE`` when nothing is filtered."""
    clauses: list[str] = []
    args: list[Any] = []
    d, doc_id = ("c", "c.doc_id") if on_chunks else ("d", "d.id")

    def among(column: str, values: tuple[str, ...], negate: bool = False) -> None:
        if values:
            clauses.append(f"{'NOT ' if negate else ''}({column} = ANY(%s))")
            args.append(list(values))

    among(f"{d}.municipality_code", f.municipalities)
    among(f"{d}.municipality_code", f.exclude_municipalities, negate=True)
    among(f"{d}.province", f.provinces)
    among(f"{d}.doc_type", f.doc_types)
    among(doc_id, f.exclude_doc_ids, negate=True)
    if f.date_from:
        clauses.append(f"{d}.date <> '' AND {d}.date >= %s")
        args.append(f.date_from)
    if f.date_to:
        clauses.append(f"{d}.date <> '' AND {d}.date <= %s")
        args.append(f.date_to)
    if f.valid_on:
        clauses.append(
            f"({d}.valid_from = '' OR {d}.valid_from <= %s) AND ({d}.valid_to = '' OR {d}.valid_to > %s)"
        )
        args.extend([f.valid_on, f.valid_on])
    elif f.current_only:
        clauses.append(f"{d}.is_current")
    if f.legal_basis:
        bwb, _, artikel = f.legal_basis.partition(":")
        sub = f"SELECT doc_id FROM {schema}.legal_basis WHERE bwb = %s"
        args.append(bwb.upper())
        if artikel:
            sub += " AND artikel = %s"
            args.append(artikel)
        clauses.append(f"{doc_id} IN ({sub})")
    return (" AND ".join(clauses) or "TRUE"), args
