"""The versions of a CVDR work in the index: which ids belong to a work, and closing the earlier ones.

CVDR keeps ``dcterms:modified`` of a version when a later one ends it, so an incremental harvest
never sees the end date arrive; ``close_versions`` gives such a version the start date of the next
version as its end date (``extra.valid_to_inferred``), so ``valid_on`` finds one version in force.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from itertools import pairwise
from typing import Any

from ingest.embedding import EmbeddingCache
from ingest.pipeline import IngestOptions, ingest_documents
from search.engine import IndexEngine
from search.types import Document

IDENTIFIER = re.compile(r"^(?:CVDR)?(\d+)_(\d+)$", re.IGNORECASE)  # CVDR680781_1 or 680781_1


def validity_hash(content_hash: str, extra: dict[str, Any]) -> str:
    """Text and validity together: a version whose end date changed is re-indexed too."""
    dates = "|".join(str(extra.get(k, "")) for k in ("modified", "valid_from", "valid_to"))
    return hashlib.sha256(f"{content_hash}|{dates}".encode()).hexdigest()


def work_versions(doc_ids: list[str]) -> dict[str, set[str]]:
    """Work id (``CVDR680781``) -> the ids of its versions among ``doc_ids``."""
    out: dict[str, set[str]] = {}
    for doc_id in doc_ids:
        if match := IDENTIFIER.match(doc_id):
            out.setdefault(f"CVDR{match.group(1)}", set()).add(doc_id)
    return out


def close_versions(
    index: IndexEngine, versions: dict[str, set[str]], doc: Document, cache: EmbeddingCache | None
) -> list[str]:
    """Give each earlier version of ``doc``'s work without an end date the start date of the next
    version; returns the ids of the versions so closed (``versions`` gains ``doc``)."""
    ids = versions.setdefault(str(doc.extra.get("work_id", "")), set())
    ids.add(doc.id)
    ordered = sorted(
        index.catalog.documents(sorted(ids)).values(), key=lambda d: int(d.extra.get("version") or 0)
    )
    closed = []
    for earlier, later in pairwise(ordered):
        end, own = str(later.extra.get("valid_from", "")), earlier.extra
        inferred = own.get("valid_to_inferred") and own.get("valid_to") != end
        if end and end > str(own.get("valid_from", "")) and (not own.get("valid_to") or inferred):
            _set_end(index, earlier.id, end, cache)
            closed.append(earlier.id)
    return closed


def _set_end(index: IndexEngine, doc_id: str, end: str, cache: EmbeddingCache | None) -> None:
    doc = index.catalog.load_document(doc_id)
    if doc is None:
        return
    extra = {**doc.extra, "valid_to": end, "valid_to_inferred": True}
    changed = replace(doc, extra=extra, content_hash=validity_hash(doc.content_hash, extra))
    ingest_documents(index, [changed], IngestOptions(), cache)
