"""Side by side: align two documents' sections by article number or heading, mark differing words."""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from search.types import Section

Pair = tuple[Section | None, Section | None]
Token = tuple[str, bool]  # (text, differs from the other side)

_KINDS = {
    "artikel": "artikel",
    "art": "artikel",
    "hoofdstuk": "hoofdstuk",
    "paragraaf": "paragraaf",
    "par": "paragraaf",
    "§": "paragraaf",
    "afdeling": "afdeling",
    "bijlage": "bijlage",
    "titel": "titel",
}
_NUMBERED = re.compile(
    r"^\s*(artikel|art|hoofdstuk|paragraaf|par|§|afdeling|bijlage|titel)\.?\s*"
    r"([0-9]+(?:\s?[a-z](?![a-z]))?(?:[.:][0-9]+[a-z]?)*|[ivxlc]+(?![a-z]))\.?\s*(.*)$",
    re.IGNORECASE,
)
_PAGE = re.compile(r"^\s*(p\.|pagina|blz\.?)\s*\d+\s*$", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^\w]+")
_MAX_DIFF_WORDS = 4000
_SOFT_WRAP = re.compile(r"(?<=[^\s.;:!?])\n(?=[a-z(€]|\d(?![\d]*[.)]))")


def numbered_key(label: str) -> str:
    """ "Artikel 3a" -> "artikel:3a", "Art. 4.2" -> "artikel:4.2", "§ 2" -> "paragraaf:2"; else ""."""
    found = _NUMBERED.match(label)
    if not found:
        return ""
    number = "".join(found.group(2).split()).lower()
    return f"{_KINDS[found.group(1).lower()]}:{number}"


def heading_key(section: Section) -> str:
    """The heading folded for comparison: no case, accents, punctuation or leading numbers."""
    text = section.heading
    if not text:
        found = _NUMBERED.match(section.label)
        text = found.group(3) if found else ("" if _PAGE.match(section.label) else section.label)
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", folded).strip().lstrip("0123456789 ").strip()


def align(left_sections: Sequence[Section], right_sections: Sequence[Section]) -> list[Pair]:
    """Rows for a side-by-side view: matched sections next to each other, the rest opposite nothing.

    Sections match on the same number and heading first, then on a heading that is unique on
    both sides, then on the same article (or chapter, paragraph) number. Matches that would
    cross others are dropped, so both documents keep their own order; unmatched sections
    between two matches are merged by number where both have one.
    """
    left, right = list(left_sections), list(right_sections)
    numbers = ([numbered_key(s.label) for s in left], [numbered_key(s.label) for s in right])
    headings = ([heading_key(s) for s in left], [heading_key(s) for s in right])
    both = tuple(
        [f"{n}|{h}" if n and h else "" for n, h in zip(ns, hs, strict=True)]
        for ns, hs in zip(numbers, headings, strict=True)
    )
    matches: dict[int, int] = {}
    for keys in (both, headings, numbers):
        _match_unique(keys[0], keys[1], matches)
    chain = _increasing_chain(sorted(matches.items()))
    return _rows(left, right, chain, numbers)


def _match_unique(left: list[str], right: list[str], matches: dict[int, int]) -> None:
    """Pair still unmatched sections whose key occurs exactly once on each side."""
    taken = set(matches.values())
    free_left = [(k, i) for i, k in enumerate(left) if k and i not in matches]
    free_right = [(k, j) for j, k in enumerate(right) if k and j not in taken]
    counts: dict[str, list[int]] = {}
    for k, _ in free_left:
        counts.setdefault(k, [0, 0])[0] += 1
    for k, _ in free_right:
        counts.setdefault(k, [0, 0])[1] += 1
    where = {k: j for k, j in free_right}
    for k, i in free_left:
        if counts[k] == [1, 1]:
            matches[i] = where[k]


def _increasing_chain(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of (left, right) pairs increasing on both sides (pairs sorted by left)."""
    tails: list[int] = []  # right index ending the best chain of each length
    ends: list[int] = []  # position in pairs of that chain's end
    parent = [-1] * len(pairs)
    for pos, (_, j) in enumerate(pairs):
        size = bisect.bisect_left(tails, j)
        parent[pos] = ends[size - 1] if size else -1
        if size == len(tails):
            tails.append(j)
            ends.append(pos)
        else:
            tails[size], ends[size] = j, pos
    chain, pos = [], ends[-1] if ends else -1
    while pos != -1:
        chain.append(pairs[pos])
        pos = parent[pos]
    return chain[::-1]


def _rows(
    left: list[Section], right: list[Section], chain: list[tuple[int, int]], numbers: tuple[list[str], ...]
) -> list[Pair]:
    rows: list[Pair] = []
    i = j = 0
    for mi, mj in [*chain, (len(left), len(right))]:
        rows.extend(_merge_gap(left, right, range(i, mi), range(j, mj), numbers))
        if mi < len(left):
            rows.append((left[mi], right[mj]))
        i, j = mi + 1, mj + 1
    return rows


def _merge_gap(
    left: list[Section], right: list[Section], li: range, rj: range, numbers: tuple[list[str], ...]
) -> list[Pair]:
    """Unmatched sections between two matches, in order; by number where both sides have one."""
    out: list[Pair] = []
    a, b = list(li), list(rj)
    while a or b:
        if a and b and _order(numbers[1][b[0]]) < _order(numbers[0][a[0]]):
            out.append((None, right[b.pop(0)]))
        elif a:
            out.append((left[a.pop(0)], None))
        else:
            out.append((None, right[b.pop(0)]))
    return out


def _order(key: str) -> tuple[int, ...]:
    """A sortable form of "artikel:4.2a"; keys without a number sort last."""
    digits = re.findall(r"\d+", key.partition(":")[2])
    return tuple(int(d) for d in digits) if digits else (1 << 30,)


def unwrap(text: str) -> str:
    """Join lines broken mid-sentence (a newline before a lowercase word); keeps the length."""
    return _SOFT_WRAP.sub(" ", text)


def side_by_side(left_sections: Sequence[Section], right_sections: Sequence[Section]) -> list[dict[str, Any]]:
    """Aligned rows for the page: both sections, their words flagged where they differ, a status."""
    rows = []
    for left, right in align(left_sections, right_sections):
        if left is not None and right is not None:
            tokens = word_diff(unwrap(left.text), unwrap(right.text))
            same = " ".join(left.text.split()) == " ".join(right.text.split())
            status = "gelijk" if same else "verschilt"
        else:
            tokens = (
                [(unwrap(left.text), False)] if left else [],
                [(unwrap(right.text), False)] if right else [],
            )
            status = "alleen-links" if left else "alleen-rechts"
        rows.append({"left": left, "right": right, "tokens": tokens, "status": status})
    return rows


def word_diff(left: str, right: str) -> tuple[list[Token], list[Token]]:
    """Both texts as tokens (words with their trailing space), flagged where they differ."""
    a, b = re.findall(r"\S+\s*", left), re.findall(r"\S+\s*", right)
    if len(a) + len(b) > _MAX_DIFF_WORDS:
        return [(left, False)], [(right, False)]
    matcher = difflib.SequenceMatcher(None, [w.strip() for w in a], [w.strip() for w in b], autojunk=False)
    out_a: list[Token] = []
    out_b: list[Token] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        out_a.extend(_joined(a[i1:i2], changed))
        out_b.extend(_joined(b[j1:j2], changed))
    return out_a, out_b


def _joined(words: list[str], changed: bool) -> list[Token]:
    return [("".join(words), changed)] if words else []
