"""The title of a PDF: its metadata title where that is informative, else the first heading on page 1."""

from __future__ import annotations

import re
from pathlib import Path

_GENERIC_TITLES = frozenset(["naamloos", "untitled", "document", "titel", "title", "presentatie", "sjabloon"])
_HEADING_LINES = 8  # a title is among the first lines of page 1
_HEADING_MAX_CHARS = 100  # longer lines are body text
_PAGE_MARKER = re.compile(r"(?:pagina|page|blz\.?)\s*\d+", re.IGNORECASE)


def choose_title(metadata_title: str, first_page: str, path: Path) -> str:
    """The metadata title if informative and not contradicted by page 1, else page 1's first heading line,
    else the metadata title, else the file name with spaces for underscores.

    Metadata is often stale: Wassenaar's besluitenlijsten say "Vertrouwelijk" where the page says "Openbaar".
    """
    metadata = _clean_title(metadata_title)
    heading = _first_heading(first_page)
    informative = len(metadata.split()) >= 2 and metadata.casefold() not in _GENERIC_TITLES
    if informative and (not heading or _words(metadata) <= _words(first_page)):
        return metadata
    if heading:
        return _with_metadata_tail(heading, metadata)
    return (metadata if informative else path.stem.replace("_", " ").strip()) or path.name


def _with_metadata_tail(heading: str, metadata: str) -> str:
    """The heading plus what the metadata title adds after the heading's last word (often a date)."""
    words, meta = heading.casefold().split(), metadata.split()
    folded = [word.casefold() for word in meta]
    if not words or words[-1] not in folded:
        return heading
    cut = len(folded) - folded[::-1].index(words[-1])
    tail = " ".join(meta[cut:])
    return f"{heading} {tail}" if tail and 2 * len(set(words) & set(folded[:cut])) >= len(words) else heading


def _clean_title(title: str) -> str:
    """Strip what word processors add: "Microsoft Word - ", a file extension, a "(1)" copy number."""
    title = re.sub(r"^Microsoft (?:Word|PowerPoint|Excel) - ", "", title.strip())
    title = re.sub(r"\.(?:docx?|pdf|odt|rtf|pptx?|xlsx?)$", "", title, flags=re.IGNORECASE)
    return re.sub(r"\s*\(\d+\)$", "", title).replace("_", " ").strip()


def _first_heading(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return next((line.rstrip(":;,. ") for line in lines[:_HEADING_LINES] if _is_heading(line)), "")


def _is_heading(line: str) -> bool:
    """A title-like line: 2+ words, mostly letters, short, not "Pagina 3 van 120"."""
    words = [w for w in line.split() if any(c.isalpha() for c in w)]
    letters = sum(c.isalpha() for c in line)
    return (
        len(words) >= 2
        and letters >= 0.6 * len(line.replace(" ", ""))
        and len(line) <= _HEADING_MAX_CHARS
        and not _PAGE_MARKER.match(line)
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))
