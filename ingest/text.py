"""Plain text, Markdown and BEIR-style corpus.jsonl readers."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from search.errors import UnreadableDocument
from search.markdown import strip_markdown
from search.types import Document, Section

# A heading line; linear time (the former "\s+(.+?)\s*#*\s*$" took 48 s on 2,000 spaces)
_HEADING = re.compile(r"^(#{1,4})[ \t]+([^\n]*[^\s#])[ \t#]*$", re.MULTILINE)


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


_PLAN_ROW = re.compile(r"^\|\s*(?:Plan|Titel|Naam)\s*:?\s*\|\s*([^|\n]+?)\s*\|", re.MULTILINE | re.IGNORECASE)
_SETEXT = re.compile(r"^([^\n|*#].*?)\s*\n\s*\n?={3,}\s*$", re.MULTILINE)


def document_title(text: str) -> str:
    """The title a reader would give the file: a plan's name from its metadata table ("| Plan: | X |"),
    else the first underlined (====) heading, else the first # heading; "" when there is none.
    Not "Hoofdstuk 1 Inleiding": a plan's chapters are # headings below its name."""
    for pattern, group in ((_PLAN_ROW, 1), (_SETEXT, 1), (_HEADING, 2)):
        found = pattern.search(text)
        if found and found.group(group).strip():
            return strip_markdown(found.group(group)).strip()
    return ""


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
    if not sections:
        raise UnreadableDocument(str(path), "the file has no text besides headings")
    title = document_title(text) or path.stem.replace("_", " ")
    return Document(
        id="",
        title=title,
        sections=sections,
        source=str(path),
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def read_corpus_jsonl(path: Path) -> Iterator[Document | UnreadableDocument]:
    """A BEIR corpus.jsonl: one document a line (``_id``, ``title``, ``text``, ``metadata``).

    Bad lines (not UTF-8, not JSON, not a record) are yielded as errors so the rest of the file still loads.
    """
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                yield corpus_record(json.loads(raw.decode("utf-8")), where)
            except UnicodeDecodeError as exc:
                yield UnreadableDocument(where, f"not a corpus record: the line is not UTF-8 ({exc.reason})")
            except (json.JSONDecodeError, RecursionError) as exc:
                yield UnreadableDocument(where, f"not a corpus record: {exc}")
            except UnreadableDocument as exc:
                yield exc


def corpus_record(record: Any, source: str) -> Document:
    """One corpus line as a Document; UnreadableDocument when it is not a record with an id and text."""
    if not isinstance(record, dict):
        raise UnreadableDocument(
            source, f"not a corpus record: a JSON {type(record).__name__}, not an object"
        )
    doc_id, text, metadata = record.get("_id"), record.get("text"), record.get("metadata")
    if not isinstance(doc_id, str | int) or isinstance(doc_id, bool) or not str(doc_id).strip():
        raise UnreadableDocument(source, "not a corpus record: no '_id' (a string)")
    if not isinstance(text, str) or not text.strip():
        raise UnreadableDocument(source, "the record has no text")
    if not isinstance(metadata, dict | None):
        raise UnreadableDocument(source, "not a corpus record: 'metadata' is not an object")
    sections = markdown_sections(text)
    if not sections:
        raise UnreadableDocument(source, "the record has no text besides headings")
    meta = {str(k): v for k, v in (metadata or {}).items()}
    doc_type = (
        _field(meta.pop("doc_type", "")) or _field(meta.pop("type", "")) or _field(meta.pop("plan_type", ""))
    )
    return Document(
        id=str(doc_id),
        title=_field(record.get("title"))
        or _field(meta.get("plan_name", ""))
        or text.strip().split("\n", 1)[0][:120],
        sections=sections,
        municipality=_field(meta.pop("municipality", "")),
        municipality_code=_field(meta.pop("municipality_code", "")),
        doc_type=doc_type.lower(),
        date=_field(meta.pop("date", "")),
        source=source,
        content_hash=hashlib.sha256(line_bytes(record)).hexdigest(),
        extra=meta,
    )


def _field(value: Any) -> str:
    """A metadata value as text: strings and numbers as they are, anything else (lists, objects) as ''."""
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def line_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")
