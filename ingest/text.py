"""Plain text, Markdown and BEIR-style corpus.jsonl readers."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from search.errors import UnreadableDocument
from search.types import Document, Section

_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def markdown_sections(text: str) -> tuple[Section, ...]:
    """Sections split at Markdown headings; text before the first heading is its own section."""
    sections: list[Section] = []
    matches = list(_HEADING.finditer(text))
    if not matches or matches[0].start() > 0:
        head = text[: matches[0].start() if matches else len(text)].strip()
        if head:
            sections.append(Section(label="", text=head))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        heading = match.group(2).strip()
        if body:
            sections.append(Section(label="", heading=heading, text=body))
    return tuple(sections)


def read_text(path: Path) -> Document:
    """A .txt or .md file: sections at Markdown headings, title from the first heading."""
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableDocument(str(path), "the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    sections = markdown_sections(text.replace("\r\n", "\n"))
    first = _HEADING.search(text)
    title = first.group(2).strip() if first else path.stem.replace("_", " ")
    return Document(
        id="",
        title=title,
        sections=sections,
        source=str(path),
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def read_corpus_jsonl(path: Path) -> Iterator[Document | UnreadableDocument]:
    """A BEIR corpus.jsonl: one document a line (``_id``, ``title``, ``text``, ``metadata``).

    Bad lines are yielded as errors so the rest of the file still loads.
    """
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
                yield corpus_record(record, where)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                yield UnreadableDocument(where, f"not a corpus record: {exc}")
            except UnreadableDocument as exc:
                yield exc


def corpus_record(record: dict[str, Any], source: str) -> Document:
    meta = dict(record.get("metadata") or {})
    text = str(record.get("text") or "")
    if not text.strip():
        raise UnreadableDocument(source, "the record has no text")
    doc_type = str(meta.pop("doc_type", "") or meta.pop("type", "") or meta.pop("plan_type", ""))
    return Document(
        id=str(record["_id"]),
        title=str(record.get("title") or "") or text.strip().split("\n", 1)[0][:120],
        sections=markdown_sections(text),
        municipality=str(meta.pop("municipality", "") or ""),
        municipality_code=str(meta.pop("municipality_code", "") or ""),
        doc_type=doc_type.lower(),
        date=str(meta.pop("date", "") or ""),
        source=source,
        content_hash=hashlib.sha256(line_bytes(record)).hexdigest(),
        extra=meta,
    )


def line_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")
