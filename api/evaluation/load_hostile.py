"""The hostile phase of `schutting bench load`: uploads that would stall a reader, kept in flight.

The reliability probe of issue #10 found that "an 18 KB PDF whose page holds a 5 MB text stream froze
/health for 4 min 44 s". ``hostile_pdf`` writes such a PDF (10 KB: a Flate-compressed stream of tiny
show-text operations; pypdf needs about 6 s a MB on it, the same PDF as tests/test_reliability.py), and during the phase HOSTILE_UPLOADS threads each send
it again as soon as the previous answer came: three anonymous drafts to ``POST /similar`` and one admin
upload to ``POST /documents``. The server reads each in a budgeted reader process; the answer must be
a 4xx with a Dutch ``melding`` (422 over budget, 429 while every reader is busy). A 2xx, a 5xx, a 4xx
without a ``melding`` or no answer within the read budget plus HANG_MARGIN seconds is an error.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.evaluation.load_traffic import ERROR_SAMPLES, Traffic, latency, measure

STREAM_MEGABYTES = 5.0  # the text stream of the probe's finding
HANG_MARGIN = 30.0  # seconds past the read budget after which an upload counts as hanging
MELDING_SAMPLES = 3  # distinct Dutch answers kept for the report


@dataclass(frozen=True)
class Upload:
    """One hostile sender: where it posts, with which form fields, and whether as the admin."""

    path: str
    fields: dict[str, str]
    admin: bool = False


DRAFT = Upload("/similar", {"municipality": "Wassenaar"})
DOCUMENT = Upload("/documents", {"municipality": "Wassenaar", "type": "beleidsregel"}, admin=True)
HOSTILE_UPLOADS = [DRAFT, DRAFT, DRAFT, DOCUMENT]  # in flight at once, all phase long


def hostile_pdf(megabytes: float = STREAM_MEGABYTES) -> bytes:
    """A one-page PDF (10 KB for 5 MB) whose page draws ``megabytes`` of ``(ab) Tj 0 -1 Td``."""
    content = b"BT /F1 12 Tf 72 700 Td " + b"(ab) Tj 0 -1 Td " * int(megabytes * 1_000_000 / 16) + b"ET"
    body = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (len(body), body),
    ]
    return assemble_pdf(objects)


def assemble_pdf(objects: list[bytes]) -> bytes:
    """Numbered objects (1, 2, ...; object 1 the catalog) with a correct xref table and trailer."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@dataclass
class Outcomes:
    """What the hostile uploads got back: status counts, milliseconds, Dutch answers and errors."""

    statuses: dict[str, Counter[str]] = field(default_factory=dict)  # by upload path
    times: dict[str, list[float]] = field(default_factory=dict)
    meldingen: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, status: str, ms: float, melding: str = "", problem: str = "") -> None:
        with self.lock:
            self.statuses.setdefault(path, Counter())[status] += 1
            self.times.setdefault(path, []).append(ms)
            if melding:
                self.meldingen[melding] += 1
            if problem:
                self.errors += 1
                if len(self.samples) < ERROR_SAMPLES:
                    self.samples.append(problem)

    def summary(self) -> dict[str, Any]:
        every = [ms for times in self.times.values() for ms in times]
        by_path = {path: {"requests": len(self.times[path]), "statuses": dict(sorted(counts.items())),
                          **latency(self.times[path])} for path, counts in sorted(self.statuses.items())}  # fmt: skip
        return {"uploads_in_flight": len(HOSTILE_UPLOADS), "requests": len(every),
                "statuses": dict(sorted(sum(self.statuses.values(), Counter()).items())), "errors": self.errors,
                **latency(every), "by_path": by_path,
                "meldingen": [m for m, _ in self.meldingen.most_common(MELDING_SAMPLES)],
                "error_samples": self.samples}  # fmt: skip


def judge(response: httpx.Response) -> tuple[str, str]:
    """The Dutch ``melding`` of a hostile upload's answer, and what is wrong with it ("" if nothing)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    melding = body.get("melding", "") if isinstance(body, dict) else ""
    where = f"{response.status_code} {response.request.url.path}"
    if not 400 <= response.status_code < 500:
        return melding, f"{where}: not refused: {response.text[:200]}"
    if not isinstance(melding, str) or not melding.strip():
        return "", f"{where}: no melding: {response.text[:200]}"
    return melding, ""


def keep_uploading(
    base_url: str, upload: Upload, pdf: bytes, token: str, timeout: float, stop: threading.Event,
    outcomes: Outcomes,
) -> None:  # fmt: skip
    """Post ``pdf`` to ``upload.path`` again and again until ``stop`` is set; record every answer."""
    headers = {"Authorization": f"Bearer {token}"} if upload.admin else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout, trust_env=False) as client:
        while not stop.is_set():
            files = {"file": ("concept.pdf", pdf, "application/pdf")}
            started = time.perf_counter()
            try:
                response = client.post(upload.path, files=files, data=upload.fields)
            except httpx.TimeoutException as exc:
                ms = (time.perf_counter() - started) * 1000
                outcomes.add(
                    upload.path,
                    "timeout",
                    ms,
                    problem=f"no answer from {upload.path} in {timeout:.0f} s: {exc}",
                )
                continue
            except httpx.HTTPError as exc:
                ms = (time.perf_counter() - started) * 1000
                outcomes.add(
                    upload.path, "connection", ms, problem=f"{type(exc).__name__} {upload.path}: {exc}"
                )
                stop.wait(1)
                continue
            melding, problem = judge(response)
            ms = (time.perf_counter() - started) * 1000
            outcomes.add(upload.path, str(response.status_code), ms, melding, problem)


class HostileUploads:
    """HOSTILE_UPLOADS sender threads, from ``with`` to its end; ``outcomes`` holds what they got."""

    def __init__(self, base_url: str, token: str, read_seconds: float) -> None:
        self.outcomes, self._stop = Outcomes(), threading.Event()
        self.timeout = read_seconds + HANG_MARGIN
        self.pdf = hostile_pdf()
        self._threads = [
            threading.Thread(
                target=keep_uploading,
                args=(base_url, upload, self.pdf, token, self.timeout, self._stop, self.outcomes),
                daemon=True,
            )
            for upload in HOSTILE_UPLOADS
        ]

    def __enter__(self) -> HostileUploads:
        for thread in self._threads:
            thread.start()
        time.sleep(1.0)  # the uploads (10 KB each) are in, the readers are busy
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)  # the answers to the last uploads are counted too


def hostile_phase(
    base_url: str, traffic: Traffic, clients: int, seconds: float, token: str, read_seconds: float
) -> dict[str, Any]:
    """The clients and /health measured for ``seconds`` while the hostile uploads are in flight;
    ``errors`` counts the hostile uploads' errors too, ``hostile`` says what they got."""
    with HostileUploads(base_url, token, read_seconds) as uploads:
        end = time.monotonic() + seconds
        phase = measure("hostile", base_url, traffic, clients, lambda: time.monotonic() >= end, seed=2)
    hostile = {**uploads.outcomes.summary(), "pdf_bytes": len(uploads.pdf), "read_seconds": read_seconds}
    return {**phase, "errors": phase["errors"] + hostile["errors"], "hostile": hostile}
