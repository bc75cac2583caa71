"""Structure-following chunking: articles and pages stay whole when they fit, else split on
paragraphs, then sentences, bounded in words."""

from __future__ import annotations

import re
from collections.abc import Iterator

from search.types import SECTION_SEPARATOR, Chunk, Document

MAX_WORDS = 200
MIN_WORDS = 40  # a trailing piece shorter than this joins the previous chunk of its section

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+(?=[A-Z0-9(\"'«])")


def chunk(document: Document, max_words: int = MAX_WORDS) -> list[Chunk]:
    """Split a document into passages; each keeps its section label, page and offsets."""
    chunks: list[Chunk] = []
    offset = 0
    for section in document.sections:
        label = section.label if not section.heading else f"{section.label} {section.heading}".strip()
        for start, end in _pieces(section.text, max_words):
            chunks.append(
                Chunk(
                    doc_id=document.id,
                    ordinal=len(chunks),
                    text=section.text[start:end].strip(),
                    label=label,
                    start=offset + start,
                    end=offset + end,
                    page=section.page,
                )
            )
        offset += len(section.text) + len(SECTION_SEPARATOR)
    return [c for c in chunks if c.text]


def _pieces(text: str, max_words: int) -> list[tuple[int, int]]:
    """(start, end) spans of text, each at most max_words words where the text allows."""
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    words = 0
    for start, end in _units(text, max_words):
        n = len(text[start:end].split())
        if current is not None and words + n > max_words:
            spans.append(current)
            current, words = None, 0
        current = (current[0], end) if current else (start, end)
        words += n
    if current:
        if spans and words < MIN_WORDS and len(text[spans[-1][0] : current[1]].split()) <= max_words * 1.25:
            spans[-1] = (spans[-1][0], current[1])
        else:
            spans.append(current)
    return spans


def _units(text: str, max_words: int) -> Iterator[tuple[int, int]]:
    """Paragraph spans; paragraphs too long are cut into sentence spans, then word windows."""
    for para in _spans(text, _PARAGRAPH):
        if len(text[para[0] : para[1]].split()) <= max_words:
            yield para
            continue
        for sent in _spans(text, _SENTENCE, *para):
            if len(text[sent[0] : sent[1]].split()) <= max_words:
                yield sent
            else:
                yield from _word_windows(text, sent, max_words)


def _spans(
    text: str, separator: re.Pattern[str], lo: int = 0, hi: int | None = None
) -> Iterator[tuple[int, int]]:
    hi = len(text) if hi is None else hi
    start = lo
    for match in separator.finditer(text, lo, hi):
        if text[start : match.start()].strip():
            yield start, match.start()
        start = match.end()
    if text[start:hi].strip():
        yield start, hi


def _word_windows(text: str, span: tuple[int, int], max_words: int) -> Iterator[tuple[int, int]]:
    matches = list(re.finditer(r"\S+", text[span[0] : span[1]]))
    for i in range(0, len(matches), max_words):
        part = matches[i : i + max_words]
        yield span[0] + part[0].start(), span[0] + part[-1].end()
