"""Read a PDF into a Document: validate the file, extract text page by page, OCR pages without usable text."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import zlib
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from ingest.ocr import DEFAULT_DPI, ocr_missing, ocr_pdf_page
from ingest.pdf_title import choose_title
from search.errors import OverLimit, SchuttingError, UnreadableDocument
from search.types import Document, Section

log = logging.getLogger(__name__)

MIN_LETTERS = 40  # fewer letters on a page: only a page number or a running head, or a scan
MAX_GLYPH_ID_SHARE = 0.2  # more of the text as "/12" or "(cid:12)" tokens: a font without a Unicode map
AES_REASON = (
    "encrypted with AES, which needs the package cryptography (pip install cryptography); remove the password"
)
PDF_MAGIC = b"%PDF-"
HEADER_WINDOW = 1024  # readers accept the %PDF- header anywhere in the first KiB
# pypdf raises its own errors on most damage, but plain Python errors on some; all mean "cannot parse".
# NotImplementedError: pypdf's answer to a stream filter it does not know (e.g. a damaged /FlateDecode)
PARSE_ERRORS = (
    PyPdfError, ValueError, LookupError, TypeError, AttributeError, RecursionError, ArithmeticError, zlib.error,
    NotImplementedError,
)  # fmt: skip

_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive or Office document (.docx, .xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.doc, .xls)"),
    (b"{\\rtf", "an RTF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_DAMAGE = re.compile(r"decompress|not defined|invalid|corrupt|unexpected|eof|error|could not|cannot", re.I)
_GLYPH_ID = re.compile(r"/\d+|\(cid:\d+\)")
_LEADER = re.compile(r"(?:\.\s?){3,}|…+|_{3,}")  # dot leaders in tables of contents are not garbage
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_CHAR_MAP = str.maketrans({**_LIGATURES, "\xad": None, "\x00": None})  # soft hyphens and NULs go
_LOWER = "a-zà-öø-ÿ"
_HYPHEN_BEFORE_CONJUNCTION = re.compile(r"(?<=\w)-\n(?=(?:en|of|tot|t/m)\b)")  # "organisatie- en uitvoering"
_HYPHENATED_WORD = re.compile(rf"(?<=[{_LOWER}])-\n(?=[{_LOWER}])")  # "beleids-\nregel" -> "beleidsregel"
_HYPHENATED_COMPOUND = re.compile(r"(?<=[^\W\d_])-\n(?=[A-Z])")  # "Leidschendam-\nVoorburg" keeps its hyphen


def read_pdf(
    path: Path,
    *,
    ocr: bool = True,
    max_pages: int | None = None,
    max_bytes: int | None = None,
    ocr_page_limit: int | None = None,
    lang: str = "nld",
    first_pages: int | None = None,
) -> Document:
    """One Section per page with usable text ("p. 3"); pages without a usable text layer are OCR'd.

    `ocr_page_limit` caps how many pages are OCR'd (None: all). `Document.extra` records `pages` (total),
    `ocr_pages` (pages whose text comes from OCR), `empty_pages` (no usable text, even after OCR),
    `damaged_pages` (of those, the ones pypdf found damaged), `unread_pages` (why scanned pages were not
    OCR'd: OCR off, not installed, or over its limit) and `pdf_title` (the metadata title, if any). Raises OverLimit (a TooLarge) over `max_bytes` or `max_pages`,
    UnreadableDocument for empty, non-PDF, damaged or encrypted files and when no page has usable text.
    `first_pages` reads only the opening pages (a draft compared by its leading passages).
    """
    data = _read_checked(path, max_bytes)
    reader = _open_reader(path, data)
    total = len(reader.pages)
    if max_pages is not None and total > max_pages:
        raise OverLimit(
            str(path),
            f"{total:,} pages, over the limit of {max_pages:,} pages; split it into smaller PDFs",
            limit="pages", value=total, maximum=max_pages,
        )  # fmt: skip
    layer, damage = _text_layer(path, reader, min(total, first_pages or total))
    texts, ocr_pages, reason = _ocr_unusable(path, layer, ocr=ocr, limit=ocr_page_limit, lang=lang)
    sections = tuple(Section(label=f"p. {n}", text=t, page=n) for n, t in texts.items() if is_usable_text(t))
    damaged = [n for n in damage if not is_usable_text(texts[n])]
    if not sections and damaged:
        where, what = page_ranges(damaged), damage[damaged[0]]
        raise UnreadableDocument(
            str(path), f"the PDF is damaged: {where} cannot be read ({what}); download or export it again"
        )
    if not sections:
        raise UnreadableDocument(str(path), reason or "no page has readable text")
    metadata_title = _metadata_title(reader)
    extra: dict[str, object] = {
        "pages": total,
        "ocr_pages": ocr_pages,
        "empty_pages": [n for n, t in texts.items() if not is_usable_text(t)],
        "damaged_pages": damaged,
    }
    if metadata_title:
        extra["pdf_title"] = metadata_title
    if "OCR found no readable text" not in reason and extra["empty_pages"] != damaged:
        extra["unread_pages"] = reason  # scanned pages left unread: OCR off, not installed or over its limit
    first_page = texts[1] if 1 not in ocr_pages and is_usable_text(texts[1]) else ""  # OCR text is too noisy
    return Document(
        id="",
        title=choose_title(metadata_title, first_page, path),
        sections=sections,
        source=str(path),
        content_hash=hashlib.sha256(data).hexdigest(),
        extra=extra,
    )


def is_usable_text(text: str) -> bool:
    """True for real text; False for empty or near-empty pages, glyph ids (`/0 /1 /2`) and symbol soup."""
    chars = [c for c in _LEADER.sub(" ", text) if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    if letters < MIN_LETTERS:
        return False
    glyph_ids = sum(len(token) for token in _GLYPH_ID.findall(text))
    if glyph_ids > MAX_GLYPH_ID_SHARE * len(chars):
        return False
    symbols = len(chars) - letters - sum(c.isdigit() for c in chars)  # digits are fine: tables of figures
    return letters >= symbols


def normalise_text(text: str) -> str:
    """Join hyphenated words, collapse spaces; keep line breaks and one blank line between paragraphs."""
    text = text.translate(_CHAR_MAP).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = re.sub(r"[^\S\n]+", " ", text)  # tabs, no-break and thin spaces, runs of spaces
    text = re.sub(r" *\n *", "\n", text)
    text = _HYPHEN_BEFORE_CONJUNCTION.sub("- ", text)
    text = _HYPHENATED_WORD.sub("", text)
    text = _HYPHENATED_COMPOUND.sub("-", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _read_checked(path: Path, max_bytes: int | None) -> bytes:
    """The file's bytes, after the checks that need no parsing: exists, not empty, not too large, a PDF."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise UnreadableDocument(str(path), "the file is empty (0 bytes); upload the complete PDF again")
        if max_bytes is not None and size > max_bytes:
            raise OverLimit(
                str(path),
                f"{_size(size)}, over the limit of {_size(max_bytes)}; split it into smaller PDFs",
                limit="bytes", value=size, maximum=max_bytes,
            )  # fmt: skip
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UnreadableDocument(str(path), "the file does not exist") from exc
    except OSError as exc:
        raise UnreadableDocument(str(path), f"cannot read the file ({exc.strerror or exc})") from exc
    if PDF_MAGIC not in data[:HEADER_WINDOW]:
        raise UnreadableDocument(str(path), f"not a PDF: the file is {_sniff(data)}; upload the PDF itself")
    return data


def _sniff(data: bytes) -> str:
    """What a non-PDF file probably is, for the error message."""
    head = data[:HEADER_WINDOW].lstrip()
    if head[:14].lower().startswith((b"<!doctype html", b"<html")) or b"<html" in head.lower():
        return "an HTML page (often an error page saved with a .pdf name)"
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    return "something else (it does not start with %PDF-)"


def _open_reader(path: Path, data: bytes) -> PdfReader:
    """A parsed, decrypted reader with at least one page; UnreadableDocument when that is not possible."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _decrypt(path, reader)
        count = len(reader.pages)
    except PARSE_ERRORS as exc:
        reason = (
            f"the PDF is damaged or incomplete ({type(exc).__name__}: {exc}); download or export it again"
        )
        raise UnreadableDocument(str(path), reason) from exc
    if count == 0:
        raise UnreadableDocument(str(path), "the PDF has no pages; export it again")
    return reader


def _decrypt(path: Path, reader: PdfReader) -> None:
    """Open an encrypted PDF with the empty user password (a PDF with only an owner password opens so)."""
    try:
        result = reader.decrypt("")
    except DependencyError as exc:
        raise UnreadableDocument(str(path), AES_REASON) from exc
    if result == PasswordType.NOT_DECRYPTED:
        raise UnreadableDocument(str(path), "encrypted; remove the password and upload again")


class _DamageLog(logging.Handler):
    """pypdf's warnings of damage in this thread: a stream that does not decompress, a missing object."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if threading.get_ident() == self.thread and _DAMAGE.search(message := record.getMessage()):
            self.seen.append(message)


def _text_layer(path: Path, reader: PdfReader, total: int) -> tuple[dict[int, str], dict[int, str]]:
    """The text of every page, and for each page pypdf found damaged what it reported."""
    layer: dict[int, str] = {}
    damage: dict[int, str] = {}
    handler, pypdf_log = _DamageLog(), logging.getLogger("pypdf")
    pypdf_log.addHandler(handler)
    try:
        for number in range(1, total + 1):
            handler.seen.clear()
            text, problem = _page_text(path, reader, number)
            layer[number] = normalise_text(text)
            if problem or handler.seen:
                damage[number] = problem or handler.seen[0]
    finally:
        pypdf_log.removeHandler(handler)
    return layer, damage


def _page_text(path: Path, reader: PdfReader, number: int) -> tuple[str, str]:
    """The text layer of page `number` (1-based), and what went wrong ("" if nothing); a page pypdf
    cannot read has no text, so it goes to OCR."""
    try:
        return reader.pages[number - 1].extract_text() or "", ""
    except DependencyError as exc:  # AES-128 passes the password check; decrypting the objects fails
        raise UnreadableDocument(str(path), AES_REASON) from exc
    except PARSE_ERRORS as exc:
        log.warning("page %d: cannot extract text (%s: %s)", number, type(exc).__name__, exc)
        return "", f"{type(exc).__name__}: {exc}"


def _ocr_unusable(
    path: Path, layer: dict[int, str], *, ocr: bool, limit: int | None, lang: str
) -> tuple[dict[int, str], list[int], str]:
    """OCR the pages of `layer` without usable text: the new page texts, the pages OCR gave text to,
    and why the pages still without text have none ("" when every page has text)."""
    missing = [n for n, text in layer.items() if not is_usable_text(text)]
    if not missing:
        return layer, [], ""
    kind = "no text layer" if all(not layer[n] for n in missing) else "no usable text layer"
    where = f"{kind} on {page_ranges(missing)}"
    if not ocr:
        return layer, [], f"{where}; OCR is switched off: turn it on to read scanned pages"
    unavailable = ocr_missing(lang)
    if unavailable is not None:
        return layer, [], f"{where}; {unavailable}"
    todo = missing if limit is None else missing[: max(limit, 0)]
    texts = dict(layer)
    done: list[int] = []
    for number in todo:
        text = _ocr_page(path, number, lang)
        if is_usable_text(text):
            texts[number] = text
            done.append(number)
    if len(todo) < len(missing):
        return texts, done, f"{where}; OCR is limited to {len(todo)} page(s) a document: raise the limit"
    return texts, done, f"{where}; OCR found no readable text on them either: the scan may be blank or poor"


def _ocr_page(path: Path, number: int, lang: str) -> str:
    """OCR text of one page; "" (the page counts as empty) when Tesseract fails on it."""
    try:
        return normalise_text(ocr_pdf_page(path, number - 1, lang, DEFAULT_DPI))
    except SchuttingError as exc:
        log.warning("%s page %d: OCR failed: %s", path, number, exc)
        return ""


def page_ranges(pages: list[int], most: int = 8) -> str:
    """[1, 2, 3, 7] -> "pages 1-3, 7"; [4] -> "page 4"; long lists end in ", ..."."""
    ranges: list[list[int]] = []
    for page in pages:
        if ranges and page == ranges[-1][1] + 1:
            ranges[-1][1] = page
        else:
            ranges.append([page, page])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges]
    shown = ", ".join(parts[:most]) + (", ..." if len(parts) > most else "")
    return f"page {shown}" if len(pages) == 1 else f"pages {shown}"


def _metadata_title(reader: PdfReader) -> str:
    try:
        title = reader.metadata.title if reader.metadata else None
    except PARSE_ERRORS:
        return ""
    return " ".join(str(title).split()) if title else ""


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"
