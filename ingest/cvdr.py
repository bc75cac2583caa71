"""Read CVDR full XML (lokaleregelgeving.overheid.nl) into a Document: metadata from the
owmskern/owmsmantel/cvdripm blocks, one Section per artikel, plus aanhef, toelichting, bijlagen."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lxml import etree

from search.errors import UnreadableDocument
from search.types import Document, Section

CVDR_NS = "http://standaarden.overheid.nl/cvdr/terms/"
NAMESPACES = {
    "cvdr": CVDR_NS,
    "dcterms": "http://purl.org/dc/terms/",
    "overheid": "http://standaarden.overheid.nl/owms/terms/",
    "overheidrg": "http://standaarden.overheid.nl/cvdr/meta/",
}

_STRUCTURES = {"hoofdstuk", "afdeling", "paragraaf", "sub-paragraaf", "titeldeel"}
_APPENDICES = {"toelichting", "bijlage"}
_SKIPPED = {"lidnr", "li.nr", "meta-data", "plaatje", "illustratie"}
_IDENTIFIER = re.compile(r"^(?:CVDR)?(\d+)(?:_(\d+))?$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(?P<name>\D*?)\s*(?P<nr>\d+(?:[.:]\d+)*[a-z]?\.?)\s*(?P<rest>.*)$")
_VOID = re.compile(r"\[?\s*vervallen\s*\.?\s*\]?\.?", re.IGNORECASE)
_BWB = re.compile(r"BWB[RV]\d{7}")
_CVDR_REF = re.compile(r"CVDR(?::/+)?(\d+(?:_\d+)?)", re.IGNORECASE)


def read_cvdr(path: Path) -> Document:
    """Read a CVDR full-XML file; raises UnreadableDocument when it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(str(path), f"cannot read: {exc.strerror}") from exc
    return parse_cvdr(data, str(path))


def parse_cvdr(data: bytes, source: str) -> Document:
    """Parse CVDR full XML bytes; `source` is the path or URL they came from."""
    root = _parse_xml(data, source)
    meta = root.find("cvdr:meta", NAMESPACES)
    body = root.find("cvdr:body", NAMESPACES)
    if meta is None or body is None:
        raise UnreadableDocument(source, "not CVDR full XML: no <meta> or <body>")
    identifier = _meta_text(meta, "dcterms:identifier")
    if (match := _IDENTIFIER.match(identifier)) is None:
        raise UnreadableDocument(source, f"no usable identifier: {identifier!r}")
    if not (sections := read_body(body)):
        raise UnreadableDocument(source, "no article, preamble or appendix text")
    title = _meta_text(meta, "dcterms:title")
    extra = _extra(meta, match)
    doc_type = regulation_type(title, _meta_text(meta, "overheidrg:indeling"))
    return Document(
        id=f"CVDR{match.group(1)}" + (f"_{match.group(2)}" if match.group(2) else ""),
        title=title,
        sections=tuple(sections),
        municipality=_meta_text(meta, "dcterms:creator"),
        doc_type=doc_type or "regeling",  # dcterms:type is always "regeling"
        date=extra["issued"] or extra["valid_from"] or extra["modified"],
        source=source,
        content_hash=hashlib.sha256(data).hexdigest(),
        extra=extra,
    )


def regulation_type(*hints: str) -> str:
    """'beleidsregel' or 'verordening' when a title or type hint names one, else ''."""
    for hint in hints:
        lowered = hint.lower()
        if "beleidsregel" in lowered:
            return "beleidsregel"
        if "verordening" in lowered:
            return "verordening"
    return ""


def parse_legal_basis(resource: str, text: str) -> dict[str, str]:
    """One dcterms:source as {bwb, cvdr, artikel, lid, text}.

    `resource` is its resourceIdentifier, e.g. '1.0:c:BWBR0024779&artikel=2.1&lid=1'."""
    bwb = _BWB.search(resource)
    cvdr = _CVDR_REF.search(resource) if bwb is None else None
    return {
        "bwb": bwb.group(0) if bwb else "",
        "cvdr": f"CVDR{cvdr.group(1)}" if cvdr else "",
        "artikel": _query_value(resource, "artikel"),
        "lid": _query_value(resource, "lid"),
        "text": _squash(text),
    }


def _parse_xml(data: bytes, source: str) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UnreadableDocument(source, f"malformed XML: {exc}") from exc
    if root is None or etree.QName(root).localname != "cvdr":
        found = etree.QName(root).localname if root is not None else "nothing"
        raise UnreadableDocument(source, f"not CVDR: root element is <{found}>")
    return root


def _extra(meta: Any, identifier: re.Match[str]) -> dict[str, Any]:
    subjects = [
        _inline(el)
        for name in ("dcterms:subject", "overheidrg:onderwerp")
        for el in meta.iterfind(f".//{name}", NAMESPACES)
    ]
    return {
        "identifier": _meta_text(meta, "dcterms:identifier"),
        "work_id": f"CVDR{identifier.group(1)}",
        "version": int(identifier.group(2)) if identifier.group(2) else None,
        "subject": [s for s in dict.fromkeys(subjects) if s],
        "issued": _meta_text(meta, "dcterms:issued"),
        "modified": _meta_text(meta, "dcterms:modified"),
        "valid_from": _meta_text(meta, "overheidrg:inwerkingtredingDatum"),
        "valid_to": _meta_text(meta, "overheidrg:uitwerkingtredingDatum"),
        "legal_basis": [
            parse_legal_basis(el.get("resourceIdentifier", ""), _inline(el))
            for el in meta.iterfind(".//dcterms:source", NAMESPACES)
        ],
        "ratified_by": _meta_text(meta, "overheid:isRatifiedBy"),
        "publication": _meta_text(meta, "dcterms:isFormatOf"),
        "publication_url": _meta_text(meta, "dcterms:isFormatOf/@resourceIdentifier"),
        "creator_scheme": _meta_text(meta, "dcterms:creator/@scheme"),
    }


def _meta_text(meta: Any, path: str) -> str:
    """The text of the first match of `path` under <meta>, or ''."""
    return _squash(meta.xpath(f"string(.//{path})", namespaces=NAMESPACES))


def _query_value(resource: str, key: str) -> str:
    match = re.search(rf"[&?]{key}=([^&#]+)", resource)
    return unquote(match.group(1)) if match else ""


# --- body ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Kop:
    label: str  # "Artikel 4", "Hoofdstuk 1", "" when unnumbered
    title: str

    @property
    def full_label(self) -> str:
        return f"{self.label}. {self.title}" if self.label and self.title else self.label


@dataclass(frozen=True)
class _Context:
    label: str = ""  # the innermost numbered structure, e.g. "Hoofdstuk 1. Inleiding"
    heading: str = ""  # the title of an unnumbered structure below it

    def enter(self, kop: _Kop) -> _Context:
        if kop.label:
            return _Context(label=kop.full_label)
        return _Context(label=self.label, heading=kop.title or self.heading)


def read_body(body: Any) -> list[Section]:
    """Sections of a CVDR <body>: Aanhef, one per artikel (or loose structure text), appendices."""
    sections: list[Section] = []
    for aanhef in body.iter(f"{{{CVDR_NS}}}aanhef"):
        sections.append(Section(label="Aanhef", text=_join(_children_blocks(aanhef))))
    for regeling_tekst in body.iter(f"{{{CVDR_NS}}}regeling-tekst"):
        _walk(regeling_tekst, _Context(), sections)
    for appendix in _appendices(body):
        kop = _kop(appendix)
        text = _join(_children_blocks(appendix))
        sections.append(Section(kop.label or _local(appendix).capitalize(), text, kop.title))
    return [s for s in sections if s.text and not _VOID.fullmatch(s.text)]


def _walk(element: Any, context: _Context, out: list[Section]) -> None:
    loose: list[str] = []
    for child in element:
        tag = _local(child)
        if tag == "kop":
            continue
        if tag not in {"artikel", *_STRUCTURES}:
            loose.extend(_blocks(child))
            continue
        _flush(loose, context, out)
        kop = _kop(child)
        if tag != "artikel":
            _walk(child, context.enter(kop), out)
            continue
        text = _join(_children_blocks(child))
        if kop.label:
            out.append(Section(kop.label, text, kop.title))
        else:  # unnumbered: named after the structure it stands in
            out.append(Section(context.label, text, kop.title or context.heading))
    _flush(loose, context, out)


def _flush(loose: list[str], context: _Context, out: list[Section]) -> None:
    if loose:
        out.append(Section(context.label, _join(loose), context.heading))
        loose.clear()


def _appendices(body: Any) -> list[Any]:
    """Toelichting and bijlage elements outside the regulation text, not nested in one another."""
    enclosing = {"regeling-tekst", "aanhef", *_APPENDICES}
    return [
        el
        for el in body.iter(f"{{{CVDR_NS}}}toelichting", f"{{{CVDR_NS}}}bijlage")
        if not any(_local(a) in enclosing for a in el.iterancestors())
    ]


def _kop(element: Any) -> _Kop:
    """The number and title of an artikel or structure; '1.Parkeren' labels are split too."""
    kop = element.find("cvdr:kop", NAMESPACES)
    if kop is None:
        return _Kop(label="", title="")
    return _read_kop(kop, _local(element).capitalize())


def _read_kop(kop: Any, default_name: str) -> _Kop:
    name, nr, title = (_child_text(kop, tag) for tag in ("label", "nr", "titel"))
    if not nr and (match := _NUMBERED.match(name)):
        name, nr, title = match["name"], match["nr"], title or match["rest"]
    number = nr.rstrip(".")
    if not number:
        return _Kop(label="", title=title or name)
    return _Kop(label=f"{name or default_name} {number}".strip(), title=title)


def _children_blocks(element: Any) -> list[str]:
    if _has_own_text(element):
        return [text] if (text := _inline(element)) else []
    return [b for child in element if _local(child) != "kop" for b in _blocks(child)]


def _blocks(element: Any) -> list[str]:
    """The paragraphs of one element: leden numbered, list items and table rows as lines."""
    tag = _local(element)
    if tag in _SKIPPED:
        return []
    if tag == "kop":  # a heading inside a toelichting or bijlage
        kop = _read_kop(element, "")
        return [text] if (text := kop.full_label or kop.title) else []
    if tag in {"al", "tussenkop"} or len(element) == 0 or _has_own_text(element):
        return [text] if (text := _inline(element)) else []
    if tag == "lid":
        return _numbered(_child_text(element, "lidnr"), _children_blocks(element))
    if tag == "lijst":
        lines = [line for li in element for line in _list_item(li)]
        return ["\n".join(lines)] if lines else []
    if tag == "table":
        rows = [r for el in element.iter(f"{{{CVDR_NS}}}row") if (r := _table_row(el))]
        return ["\n".join(rows)] if rows else []
    return [block for child in element for block in _blocks(child)]


def _list_item(li: Any) -> list[str]:
    """One <li> as lines: its number first, items of a nested list indented below it."""
    nr = li.get("nr") or _child_text(li, "li.nr")
    if _has_own_text(li):
        return _numbered(nr, [_inline(li)])
    lines: list[str] = []
    for child in li:
        indent = "  " if _local(child) == "lijst" else ""
        lines.extend(indent + ln for b in _blocks(child) for ln in b.split("\n"))
    return _numbered(nr, lines)


def _numbered(nr: str, blocks: list[str]) -> list[str]:
    if not blocks:
        return []
    first = f"{_squash(nr)} {blocks[0]}".strip()
    return ["\n".join([first, *blocks[1:]])]


def _table_row(row: Any) -> str:
    cells = [_squash(" ".join(_children_blocks(entry))) for entry in row]
    return " | ".join(cell for cell in cells if cell)


def _has_own_text(element: Any) -> bool:
    texts = [element.text, *(child.tail for child in element)]
    return any(text and text.strip() for text in texts)


def _child_text(element: Any, tag: str) -> str:
    child = element.find(f"cvdr:{tag}", NAMESPACES)
    return _inline(child) if child is not None else ""


def _inline(element: Any) -> str:
    return _squash("".join(element.itertext()))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _join(blocks: list[str]) -> str:
    return "\n\n".join(block for block in blocks if block)


def _local(element: Any) -> str:
    return etree.QName(element).localname
