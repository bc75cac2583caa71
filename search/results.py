"""What question search and find-similar share: request checks, grouping chunks per document,
and turning groups into result rows with snippets."""

from __future__ import annotations

from collections.abc import Sequence

from search.engine import IndexEngine
from search.errors import InvalidInput
from search.ranking import group_by_document, snippet
from search.types import Hit, Result

MODES = ("hybrid", "dense", "lexical")
MAX_K = 100


def document_groups(
    index: IndexEngine, scored: Sequence[tuple[int, float]]
) -> list[tuple[str, float, list[tuple[int, float]]]]:
    """Scored chunks grouped per document (doc id, best score, its chunks best first)."""
    return group_by_document(scored, index.catalog.chunk_documents([c for c, _ in scored]))


def results(
    index: IndexEngine,
    groups: Sequence[tuple[str, float, list[tuple[int, float]]]],
    stems: set[str],
    passages: int,
) -> list[Result]:
    """Result rows: document metadata with its best `passages` hits and their snippets."""
    infos = index.catalog.documents([d for d, _, _ in groups])
    wanted = [cid for _, _, chunks in groups for cid, _ in chunks[:passages]]
    located = index.catalog.chunks_by_id(wanted)
    results = []
    for doc_id, score, chunks in groups:
        info = infos.get(doc_id)
        if info is None:
            continue
        hits = []
        for cid, chunk_score in chunks[:passages]:
            if cid not in located:
                continue
            c = located[cid][1]
            hits.append(
                Hit(cid, doc_id, chunk_score, c.text, c.label, c.start, c.end, c.page, snippet(c.text, stems))
            )
        results.append(Result(info, score, tuple(hits)))
    return results


def check_request(k: int, mode: str) -> None:
    """A known ranking mode and a k the API allows."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be between 1 and {MAX_K}")
