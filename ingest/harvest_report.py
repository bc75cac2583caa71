"""What a CVDR harvest did: the records it handled by outcome, in all and per municipality.

``HarvestReport`` lists the version ids by outcome; ``municipalities`` counts them per municipality
(as CVDR names it in ``dcterms:creator``), so a national harvest shows where it is and what each
municipality brought: ``{"Someren": {"code": "GM0847", "added": 1, "updated": 0, "unchanged": 3,
"not_in_force": 2, "failed": 0, "done": true}}``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# the report's lists counted per municipality, and the name of each count
TALLIED = {"added": "added", "updated": "updated", "skipped": "unchanged", "not_in_force": "not_in_force",
           "failed": "failed"}  # fmt: skip


@dataclass
class HarvestReport:
    query: str = ""  # the CQL sent; a national first pass: one query per municipality
    endpoint: str = ""
    total: int = 0  # numberOfRecords (a national first pass: summed over the municipalities so far)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # a version whose metadata or text changed
    skipped: list[str] = field(default_factory=list)  # unchanged since the last harvest: not downloaded
    not_in_force: list[str] = field(default_factory=list)  # ended before today: not downloaded
    superseded: list[str] = field(default_factory=list)  # end date set to the next version's start
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (identifier, why): not a municipality
    failed: list[tuple[str, str]] = field(default_factory=list)  # (identifier, reason): retried next run
    resumed_from: int | None = None  # startRecord an interrupted run was resumed at
    cursor: str = ""  # the next run asks for dcterms.modified>=cursor
    complete: bool = False
    error: str = ""  # why the run stopped early; run it again to resume
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    all_versions: bool = False  # False: versions that ended before today are not fetched
    national: str = ""  # "first pass" (one query per municipality) or "changes" (one query); "" if scoped
    municipalities: dict[str, dict[str, Any]] = field(default_factory=dict)
    municipalities_done: int = 0  # of a national first pass, earlier runs of the pass included
    municipalities_total: int = 0

    @property
    def seen(self) -> int:
        lists = (self.added, self.updated, self.skipped, self.not_in_force, self.ignored, self.failed)
        return sum(len(x) for x in lists)

    def counts(self) -> tuple[int, ...]:
        return tuple(len(getattr(self, name)) for name in TALLIED)

    def municipality(self, name: str, code: str) -> dict[str, Any]:
        """The counts of one municipality, created at zero on first use."""
        if name not in self.municipalities:
            self.municipalities[name] = {"code": code, **dict.fromkeys(TALLIED.values(), 0)}
        return self.municipalities[name]

    def tally(self, name: str, code: str, before: tuple[int, ...]) -> None:
        """Count what happened since ``counts()`` was ``before`` under municipality ``name``."""
        change = [after - earlier for after, earlier in zip(self.counts(), before, strict=True)]
        if not any(change):
            return  # not a municipality's record (a province, a water board): not counted here
        entry = self.municipality(name, code)
        for label, delta in zip(TALLIED.values(), change, strict=True):
            entry[label] += delta

    def progress(self) -> dict[str, Any]:
        """The per-municipality part, small enough to save while the harvest runs."""
        keys = ("national", "all_versions", "municipalities_done", "municipalities_total", "municipalities")
        return {key: getattr(self, key) for key in keys}

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ignored"] = [{"id": i, "reason": r} for i, r in self.ignored]
        data["failed"] = [{"id": i, "reason": r} for i, r in self.failed]
        data["seconds"] = round(self.seconds, 2)
        data["seen"] = self.seen
        return data
