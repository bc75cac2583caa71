"""Finding source files and reading each into Documents with complete metadata.

Metadata comes from the file itself where the format has it (CVDR, regelrecht, corpus.jsonl),
else from a sidecar JSON next to the file (``name.pdf.json``), else from the caller's defaults.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingest.municipalities import MunicipalityRegistry, load_municipalities
from search.errors import OverLimit, UnreadableDocument
from search.types import Document

SUFFIXES = (".pdf", ".xml", ".yaml", ".yml", ".txt", ".md", ".jsonl")
SKIPPED_NAMES = {"source.md", "readme.md", "license.md", "queries.jsonl"}


@dataclass(frozen=True)
class Defaults:
    """Metadata for documents that do not carry their own (CLI options, upload form)."""

    municipality: str = ""  # name or CBS code
    doc_type: str = ""
    date: str = ""
    title: str = ""
    doc_id: str = ""


@dataclass(frozen=True)
class ReadOptions:
    ocr: bool = True
    ocr_page_limit: int | None = None
    max_pages: int | None = None
    max_bytes: int | None = None
    max_chars: int | None = None  # characters of text a document may have
    first_pages: int | None = None  # PDFs: read only the opening pages (drafts for find-similar)


def discover(paths: Sequence[Path]) -> Iterator[Path]:
    """Every readable source file under the given files and folders (recursive, sorted)."""
    return (found for found in survey(paths) if isinstance(found, Path))


def survey(paths: Sequence[Path]) -> Iterator[Path | UnreadableDocument]:
    """The source files under paths, and a reason for each file or hidden folder a folder scan skips.

    Named files are always yielded (an unsupported one fails when read, with its reason). In folders,
    files of other types, documentation (README.md) and hidden folders (.git) are skipped with a reason;
    sidecar metadata (``name.pdf.json``) is not a skip. Hidden files of a supported type are read.
    """
    for path in (p.resolve() for p in paths):
        if path.is_dir():
            yield from _walk(path)
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def _walk(folder: Path) -> Iterator[Path | UnreadableDocument]:
    for root, folders, files in os.walk(folder):
        here = Path(root)
        for name in sorted(f for f in folders if f.startswith(".")):
            yield UnreadableDocument(str(here / name), "skipped: a hidden folder is not searched")
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        names = set(files)
        for name in sorted(files):
            reason = _skip_reason(name, names)
            if reason is None:
                yield here / name
            elif reason:
                yield UnreadableDocument(str(here / name), reason)


def _skip_reason(name: str, siblings: set[str]) -> str | None:
    """None to read the file, "" to pass over it silently (a sidecar), else why it is skipped."""
    lowered = name.lower()
    if lowered in SKIPPED_NAMES:
        return "skipped: a documentation file of the folder, not a document"
    if lowered.endswith(SUFFIXES):
        return None
    if lowered.endswith(".meta.json") and any(Path(s).stem == name[:-10] != s for s in siblings):
        return ""  # name.meta.json: the metadata of name.pdf
    if lowered.endswith(".json") and name[:-5] in siblings:
        return ""  # name.pdf.json: the metadata of name.pdf
    return f"skipped: {unsupported_type(name)}"


def unsupported_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUFFIXES)}"


def source_suffix(path: Path) -> str:
    """The supported suffix the name ends with (also for ".pdf" or "..pdf"), else the file's own suffix."""
    lowered = path.name.lower()
    return next((s for s in SUFFIXES if lowered.endswith(s)), path.suffix.lower())


def read_source(
    path: Path, defaults: Defaults = Defaults(), options: ReadOptions = ReadOptions()
) -> Iterator[Document | UnreadableDocument]:
    """Documents in a file (one, or many for a corpus.jsonl), or the reason each failed."""
    registry = load_municipalities()
    try:
        raw = _read(path, options)
    except UnreadableDocument as exc:
        exc.source = exc.source or str(path)
        yield exc
        return
    except OSError as exc:
        yield UnreadableDocument(str(path), f"cannot read the file: {exc.strerror or exc}")
        return
    for item in raw:
        if isinstance(item, UnreadableDocument):
            yield item
            continue
        try:
            sidecar = _sidecar(path)
            if sidecar.get("title"):  # a title in the file's metadata beats its first heading
                item = replace(item, title=str(sidecar["title"]))
            yield _within_chars(complete(item, path, _merge(defaults, sidecar), registry), options)
        except UnreadableDocument as exc:
            yield exc


def _within_chars(doc: Document, options: ReadOptions) -> Document:
    size = sum(len(section.text) for section in doc.sections)
    if options.max_chars is not None and size > options.max_chars:
        raise OverLimit(
            doc.source,
            f"{size:,} characters of text, over the limit of {options.max_chars:,} characters; "
            "split the document",
            limit="characters", value=size, maximum=options.max_chars,
        )  # fmt: skip
    return doc


def _read(path: Path, options: ReadOptions) -> Iterator[Document | UnreadableDocument]:
    suffix = source_suffix(path)
    if suffix == ".jsonl":
        from ingest.text import read_corpus_jsonl

        return read_corpus_jsonl(path)
    return iter([READERS.get(suffix, _unsupported)(path, options)])


def _read_pdf(path: Path, options: ReadOptions) -> Document:
    from ingest.pdf import read_pdf

    return read_pdf(
        path,
        ocr=options.ocr,
        max_pages=options.max_pages,
        max_bytes=options.max_bytes,
        ocr_page_limit=options.ocr_page_limit,
        first_pages=options.first_pages,
    )


def _read_cvdr(path: Path, options: ReadOptions) -> Document:
    from ingest.cvdr import read_cvdr

    return read_cvdr(path)


def _read_regelrecht(path: Path, options: ReadOptions) -> Document:
    from ingest.regelrecht import read_regelrecht

    return read_regelrecht(path)


def _read_text(path: Path, options: ReadOptions) -> Document:
    from ingest.text import read_text

    return read_text(path)


def _unsupported(path: Path, options: ReadOptions) -> Document:
    raise UnreadableDocument(str(path), unsupported_type(path.name))


READERS: dict[str, Callable[[Path, ReadOptions], Document]] = {
    ".pdf": _read_pdf,
    ".xml": _read_cvdr,
    ".yaml": _read_regelrecht,
    ".yml": _read_regelrecht,
    ".txt": _read_text,
    ".md": _read_text,
}


def _sidecar(path: Path) -> dict[str, Any]:
    for candidate in (
        path.with_name(path.name + ".json"),
        path.with_suffix(".meta.json"),
    ):
        if candidate.is_file() and candidate != path:
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise UnreadableDocument(
                    str(candidate), f"sidecar metadata is not valid JSON: {exc}"
                ) from exc
            return data if isinstance(data, dict) else {}
    return {}


def _merge(defaults: Defaults, sidecar: dict[str, Any]) -> Defaults:
    return Defaults(
        municipality=str(
            sidecar.get("municipality_code") or sidecar.get("municipality") or defaults.municipality
        ),
        doc_type=str(sidecar.get("type") or sidecar.get("doc_type") or defaults.doc_type),
        date=str(sidecar.get("date") or defaults.date),
        title=str(sidecar.get("title") or defaults.title),
        doc_id=str(sidecar.get("id") or defaults.doc_id),
    )


def complete(doc: Document, path: Path, meta: Defaults, registry: MunicipalityRegistry) -> Document:
    """Fill in what the reader could not know, and resolve the municipality to its CBS code."""
    wanted = doc.municipality_code or doc.municipality or meta.municipality
    found = registry.resolve(wanted) if wanted else None
    if wanted and found is None:
        raise UnreadableDocument(
            str(path),
            f"unknown municipality {wanted!r}: use a name or CBS code such as GM0363",
        )
    title = doc.title or meta.title or path.stem.replace("_", " ")
    doc = replace(
        doc,
        title=title,
        municipality=found.name if found else "",
        municipality_code=found.code if found else "",
        province=found.province if found else "",
        doc_type=(doc.doc_type or meta.doc_type or guess_type(title)).lower(),
        date=doc.date or meta.date,
    )
    return replace(doc, id=doc.id or meta.doc_id or default_id(doc, path))


TYPE_WORDS = (
    ("beleidsregel", "beleidsregel"),
    ("verordening", "verordening"),
    ("bestemmingsplan", "bestemmingsplan"),
    ("besluitenlijst", "besluitenlijst"),
    ("besluit", "besluit"),
    ("begroting", "begroting"),
    ("jaarstukken", "jaarstukken"),
    ("jaarrekening", "jaarstukken"),
    ("nota", "beleidsnota"),
    ("beleidsplan", "beleidsnota"),
    ("visie", "beleidsnota"),
)


def guess_type(title: str) -> str:
    lowered = title.lower()
    return next((kind for word, kind in TYPE_WORDS if word in lowered), "")


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or "document"


def default_id(doc: Document, path: Path) -> str:
    """Stable per municipality and file name: re-ingesting the file replaces the document."""
    prefix = doc.municipality_code or "onbekend"
    return f"{prefix}-{slug(path.stem)}"
