"""Read regelrecht YAML (github.com/MinBZK/regelrecht-mvp) into a Document: one Section per
article. Only the official article text is read; `machine_readable` blocks are not."""

from __future__ import annotations

import datetime
import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from ingest.cvdr import regulation_type
from search.errors import UnreadableDocument
from search.types import Document, Section

LAYER_TYPES = {
    "UITVOERINGSBELEID": "beleidsregel",
    "BELEIDSREGEL": "beleidsregel",
    "GEMEENTELIJKE_VERORDENING": "verordening",
    "PROVINCIALE_VERORDENING": "verordening",
    "WATERSCHAPS_VERORDENING": "verordening",
    "MINISTERIELE_REGELING": "regeling",
    "AMVB": "amvb",
    "KONINKLIJK_BESLUIT": "besluit",
    "WET": "wet",
    "GRONDWET": "wet",
}

_UUID = re.compile(r"^cvdr(\d+)-(\d+)", re.IGNORECASE)  # cvdr719087-3, cvdr358905-0001-0001-...
_URL_WORK = re.compile(r"CVDR(\d+)(?:/(\d+))?", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]]+)\]\([^)\s]*\)")  # [artikel 34](1.0:v:BWBR0015703&artikel=34)
_BOLD_LINE = re.compile(r"^\*\*(.*?)\*\*$")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MAX_PLAIN_HEADING = 100  # a first line longer than this is text, not a heading


def read_regelrecht(path: Path) -> Document:
    """Read a regelrecht YAML file; raises UnreadableDocument when it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(str(path), f"cannot read the file: {exc.strerror}") from exc
    return parse_regelrecht(data, str(path))


def parse_regelrecht(data: bytes, source: str) -> Document:
    """Parse regelrecht YAML bytes; `source` is the path or URL they came from."""
    try:
        spec = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise UnreadableDocument(source, f"malformed YAML: {exc}") from exc
    except RecursionError as exc:  # PyYAML builds nested collections recursively
        raise UnreadableDocument(source, "malformed YAML: nested too deeply") from exc
    if not isinstance(spec, dict):
        raise UnreadableDocument(source, "not a regelrecht file: the YAML is not a mapping")
    articles = spec.get("articles")
    if not isinstance(articles, list):
        raise UnreadableDocument(source, "not a regelrecht file: no 'articles' list")
    sections = [s for a in articles if isinstance(a, dict) and (s := article_section(a))]
    if not sections:
        raise UnreadableDocument(source, "no article in the regelrecht file has text")
    title = _text(spec.get("officiele_titel")) or _text(spec.get("name"))
    layer = _text(spec.get("regulatory_layer")).upper()
    extra = _extra(spec)
    return Document(
        id=_document_id(spec, source),
        title=title,
        sections=tuple(sections),
        municipality_code=_text(spec.get("gemeente_code")).upper(),
        doc_type=regulation_type(title, _text(spec.get("name"))) or LAYER_TYPES.get(layer, "regeling"),
        date=extra["valid_from"] or extra["publication_date"],
        source=source,
        content_hash=hashlib.sha256(data).hexdigest(),
        extra=extra,
    )


def article_section(article: dict[str, Any]) -> Section | None:
    """One article as Section('Artikel <number>'); a first line '**Heading**' becomes the heading."""
    number = _text(article.get("number")).rstrip(".")
    heading, body = split_heading(_LINK.sub(r"\1", _text(article.get("text"))))
    text = _normalise(body.replace("**", ""))
    if not text:
        return None
    return Section(label=f"Artikel {number}" if number else "", heading=heading, text=text)


def split_heading(text: str) -> tuple[str, str]:
    """(heading, rest) when the first paragraph is a bold line or a short title line, else ('', text)."""
    parts = _BLANK_LINE.split(text.strip(), maxsplit=1)
    first, rest = parts[0].strip(), parts[1] if len(parts) > 1 else ""
    if "\n" in first:
        return "", text
    if bold := _BOLD_LINE.match(first):
        heading = " ".join(bold.group(1).split())
        return ("" if heading == "None" else heading), rest  # 'None': a converter artefact
    if rest.strip() and len(first) <= _MAX_PLAIN_HEADING and not first.endswith((".", ":", ";", ",")):
        return first, rest
    return "", text


def _document_id(spec: dict[str, Any], source: str) -> str:
    match = _UUID.match(_text(spec.get("uuid")))
    if match:
        return f"CVDR{match.group(1)}_{int(match.group(2))}"
    identifier = _text(spec.get("$id"))
    if not identifier:
        raise UnreadableDocument(source, "the regelrecht file has neither 'uuid' nor '$id'")
    return identifier


def _extra(spec: dict[str, Any]) -> dict[str, Any]:
    url = _text(spec.get("url"))
    work = _UUID.match(_text(spec.get("uuid"))) or _URL_WORK.search(url)
    return {
        "identifier": _text(spec.get("$id")),
        "uuid": _text(spec.get("uuid")),
        "work_id": f"CVDR{work.group(1)}" if work else "",
        "regulatory_layer": _text(spec.get("regulatory_layer")),
        "valid_from": _text(spec.get("valid_from")) or _text(spec.get("effective_date")),
        "publication_date": _text(spec.get("publication_date")),
        "url": url,
        "legal_basis": [_legal_basis(b) for b in _list(spec.get("legal_basis")) if isinstance(b, dict)],
    }


def _legal_basis(basis: dict[str, Any]) -> dict[str, str]:
    """Same keys as the CVDR reader's legal_basis, plus the regelrecht law_id ('participatiewet')."""
    return {
        "bwb": "",
        "cvdr": "",
        "law_id": _text(basis.get("law_id")),
        "artikel": _text(basis.get("article")),
        "lid": _text(basis.get("paragraph")),
        "text": _text(basis.get("description")),
    }


def _normalise(text: str) -> str:
    """Collapse spaces within lines and runs of blank lines; keep line and paragraph breaks."""
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    """A scalar YAML value as text; unquoted dates come back from PyYAML as date objects.

    A list or mapping where text belongs is no text: its str() could be gigabytes, since YAML
    aliases let a 400-byte file nest the same list a million times."""
    if value is None or isinstance(value, list | dict):
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()
