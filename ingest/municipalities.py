"""Dutch municipalities (gemeenten): map any name, alias or CBS code to one identity.

The reference list lives in ``ingest/reference/municipalities.csv`` (342 current
gemeenten plus former ones merged since ~2010, each pointing at its successor) and
``ingest/reference/aliases.csv`` (common alternative names). See ``SOURCE.md`` there.

    >>> registry = load_municipalities()
    >>> registry.resolve("Den Haag").code
    'GM0518'
    >>> registry.current(registry.resolve("Delfzijl")).name
    'Eemsdelta'
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # package data
MUNICIPALITIES_CSV = REFERENCE_DIR / "municipalities.csv"
ALIASES_CSV_NAME = "aliases.csv"

_CODE = re.compile(r"(?:gm)?\s*(\d{1,4})")
_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Municipality:
    code: str  # CBS code, "GM" + 4 digits
    name: str  # official CBS spelling, e.g. "'s-Gravenhage"
    province: str  # province the municipality belonged to (while it existed)
    status: str  # "active" or "merged" (code discontinued: merger, split or rename)
    successor: str | None  # CBS code it went into; None when active


def normalize_name(text: str) -> str:
    """Fold a name for lookup: no accents, case, apostrophes, punctuation or "gemeente" prefix.

    "'s-Gravenhage", "s Gravenhage" and "Gemeente 's-Gravenhage" all become "s gravenhage".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = _NON_ALNUM.sub(" ", _APOSTROPHES.sub("", plain)).split()
    if len(words) > 1 and words[0] == "gemeente":
        words = words[1:]
    if len(words) > 1 and words[-1] == "gemeente":
        words = words[:-1]
    return " ".join(words)


def normalize_code(text: str) -> str | None:
    """Return "GM" + 4 digits for "GM0363", "gm363", "0363" or "363"; None if not a code."""
    match = _CODE.fullmatch(text.strip().casefold())
    return f"GM{int(match.group(1)):04d}" if match else None


class MunicipalityRegistry:
    """All known municipalities, indexed by code, normalized name and alias."""

    def __init__(self, municipalities: list[Municipality], aliases: dict[str, str]) -> None:
        self._by_code = {m.code: m for m in municipalities}
        self._check_successors()
        # Active municipalities win when a normalized name is shared with a former one.
        ordered = sorted(municipalities, key=lambda m: m.status == "active")
        self._by_name = {normalize_name(m.name): m for m in ordered}
        self._by_alias = {
            normalize_name(alias): self._by_code[code]
            for alias, code in aliases.items()
            if code in self._by_code
        }

    def __len__(self) -> int:
        return len(self._by_code)

    def resolve(self, text: str) -> Municipality | None:
        """Find the municipality for a CBS code, an official name or an alias; None if unknown."""
        if not text or not text.strip():
            return None
        code = normalize_code(text)
        if code is not None:
            return self._by_code.get(code)
        key = normalize_name(text)
        return self._by_name.get(key) or self._by_alias.get(key)

    def current(self, municipality: Municipality) -> Municipality:
        """Follow successor links to the municipality that exists today."""
        seen = {municipality.code}
        while municipality.successor is not None:
            municipality = self._by_code[municipality.successor]
            if municipality.code in seen:
                raise ValueError(f"successor cycle through {municipality.code}")
            seen.add(municipality.code)
        return municipality

    def province_of(self, text: str) -> str | None:
        """Province of the resolved municipality (for a former one: the province it was in)."""
        municipality = self.resolve(text)
        return municipality.province if municipality else None

    def all_active(self) -> list[Municipality]:
        """The current municipalities, sorted by code."""
        return sorted(
            (m for m in self._by_code.values() if m.status == "active"),
            key=lambda m: m.code,
        )

    def provinces(self) -> list[str]:
        """The provinces of the current municipalities, sorted."""
        return sorted({m.province for m in self._by_code.values() if m.status == "active"})

    def _check_successors(self) -> None:
        for m in self._by_code.values():
            if (m.status == "active") != (m.successor is None):
                raise ValueError(f"{m.code}: status {m.status!r} does not fit successor {m.successor!r}")
            if m.successor is not None and m.successor not in self._by_code:
                raise ValueError(f"{m.code}: successor {m.successor} is not in the list")
        for m in self._by_code.values():
            if self.current(m).status != "active":
                raise ValueError(f"{m.code}: successor chain does not end in an active municipality")


def read_municipalities(path: Path) -> list[Municipality]:
    """Read ``code,name,province,status,successor`` rows."""
    with path.open(encoding="utf-8", newline="") as f:
        return [
            Municipality(
                code=row["code"],
                name=row["name"],
                province=row["province"],
                status=row["status"],
                successor=row["successor"] or None,
            )
            for row in csv.DictReader(f)
        ]


def read_aliases(path: Path) -> dict[str, str]:
    """Read ``alias,code`` rows; a missing file means no aliases."""
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row["alias"]: row["code"] for row in csv.DictReader(f)}


def load_municipalities(path: Path | None = None) -> MunicipalityRegistry:
    """Load the registry (aliases from ``aliases.csv`` beside the csv); the default is cached."""
    if path is None:
        return _load_default()
    return _load(Path(path))


@functools.cache
def _load_default() -> MunicipalityRegistry:
    return _load(MUNICIPALITIES_CSV)


def _load(path: Path) -> MunicipalityRegistry:
    return MunicipalityRegistry(read_municipalities(path), read_aliases(path.with_name(ALIASES_CSV_NAME)))
