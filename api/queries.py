"""What the CLI and the HTTP API share: turning user input into Filters, results into JSON."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from api.errors import with_melding
from ingest.municipalities import load_municipalities
from search.errors import InvalidInput
from search.markdown import strip_markdown
from search.types import Filters, Result


def municipality_codes(values: Sequence[str]) -> tuple[str, ...]:
    """CBS codes for names or codes (comma-separated values allowed); unknown ones are an error."""
    registry = load_municipalities()
    codes = []
    for value in (v.strip() for raw in values for v in raw.split(",")):
        if not value:
            continue
        found = registry.resolve(value)
        if found is None:
            raise InvalidInput(f"unknown municipality {value!r}: use a name (Amsterdam) or CBS code (GM0363)")
        codes.append(found.code)
        current = registry.current(found)
        if current.code != found.code:
            codes.append(current.code)
    return tuple(dict.fromkeys(codes))


def provinces(values: Sequence[str]) -> tuple[str, ...]:
    known = {p.lower(): p for p in load_municipalities().provinces()}
    known["friesland"] = known.get("fryslân", "Fryslân")
    out = []
    for value in (v.strip() for raw in values for v in raw.split(",")):
        if value and value.lower() not in known:
            raise InvalidInput(f"unknown province {value!r}; known: {', '.join(sorted(set(known.values())))}")
        if value:
            out.append(known[value.lower()])
    return tuple(out)


def iso_date(value: str | None, name: str) -> str:
    """A YYYY, YYYY-MM or YYYY-MM-DD date, checked; empty stays empty."""
    if not value:
        return ""
    for fmt, size in (("%Y-%m-%d", 10), ("%Y-%m", 7), ("%Y", 4)):
        try:
            dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        if len(value) == size:
            return value
    raise InvalidInput(f"{name} must be a date like 2024-01-31, got {value!r}")


def build_filters(
    municipality: Sequence[str] = (),
    exclude_municipality: Sequence[str] = (),
    province: Sequence[str] = (),
    doc_type: Sequence[str] = (),
    date_from: str | None = None,
    date_to: str | None = None,
    all_versions: bool = False,
    valid_on: str | None = None,
    legal_basis: str | None = None,
) -> Filters:
    date_to_value = iso_date(date_to, "to")
    if len(date_to_value) in (4, 7):  # an open end includes the whole year or month
        date_to_value += "-12-31" if len(date_to_value) == 4 else "-31"
    return Filters(
        municipalities=municipality_codes(municipality),
        exclude_municipalities=municipality_codes(exclude_municipality),
        provinces=provinces(province),
        doc_types=tuple(t.strip().lower() for raw in doc_type for t in raw.split(",") if t.strip()),
        date_from=iso_date(date_from, "from"),
        date_to=date_to_value,
        current_only=not all_versions,
        valid_on=iso_date(valid_on, "valid-on"),
        legal_basis=(legal_basis or "").strip(),
    )


MONTH_NAMES = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
               "oktober", "november", "december")  # fmt: skip
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
MONTHS.update({name[:3]: number for name, number in list(MONTHS.items())})
MONTHS["sept"] = 9
_DUTCH_DATE = re.compile(r"(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})")
_DAY_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")


def metadata_date(value: str) -> str:
    """A document date as an admin types it, normalised to ISO: 2024-07-09, 2024-07, 2024,
    "9 juli 2024", "9-7-2024" or "09/07/2024"; refused (with a Dutch melding) otherwise."""
    text = value.strip().lower()
    if not text:
        return ""
    found = _DUTCH_DATE.fullmatch(text)
    day_first = _DAY_FIRST.fullmatch(text)
    try:
        if found and found[2] in MONTHS:
            return dt.date(int(found[3]), MONTHS[found[2]], int(found[1])).isoformat()
        if day_first:
            return dt.date(int(day_first[3]), int(day_first[2]), int(day_first[1])).isoformat()
        return iso_date(text, "date")
    except (ValueError, InvalidInput):
        raise with_melding(
            InvalidInput(f"date {value!r} is not a date: use 2024-07-09 or '9 juli 2024'"),
            f"‘{value}’ is geen datum die we kennen. Schrijf bijvoorbeeld 2024-07-09 of 9 juli 2024.",
        ) from None


MAX_QUERY_CHARS = 2000


def question(text: str) -> str:
    """A question as asked, refused when longer than a question can reasonably be (its cost grows with it)."""
    if len(text) > MAX_QUERY_CHARS:
        raise with_melding(
            InvalidInput(f"the question has {len(text):,} characters, over the limit of {MAX_QUERY_CHARS:,}"),
            f"Uw vraag is te lang ({len(text):,} tekens). Gebruik hoogstens {MAX_QUERY_CHARS:,} tekens.".replace(
                ",", "."
            ),
        )
    return text


def public_source(source: str) -> str:
    """Where a document came from, as the public may see it: a web address, or only the file's name
    (never a path on the server)."""
    if source.startswith(("https://", "http://")):
        return source
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def result_dicts(results: Sequence[Result], matches: Sequence[str]) -> list[dict[str, Any]]:
    """Result rows with their match strength ("strong" or "weak", see search/strength.py)."""
    return [{**result_dict(r), "match": m} for r, m in zip(results, matches, strict=True)]


def result_dict(result: Result) -> dict[str, Any]:
    doc = result.document
    return {
        "id": doc.id,
        "title": strip_markdown(doc.title),
        "municipality": doc.municipality,
        "municipality_code": doc.municipality_code,
        "province": doc.province,
        "type": doc.doc_type,
        "date": doc.date,
        "source": public_source(doc.source),
        "score": round(result.score, 6),
        "passages": [
            {
                "text": h.text,
                "snippet": strip_markdown(h.snippet),
                "label": h.label,
                "page": h.page,
                "start": h.start,
                "end": h.end,
                "score": round(h.score, 6),
            }
            for h in result.hits
        ],
    }
