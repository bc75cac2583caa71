"""The CVDR search service: SRU 2.0 searchRetrieve at ``repository.overheid.nl/sru``, ``x-connection=cvdr``.

``build_cql`` turns a ``HarvestQuery`` into CQL; every clause names an index (the service has no
default index), clauses are joined with `` and ``:

    --municipality Someren                  dcterms.creator="Someren"
    --municipality "Den Haag" --municipality Kampen
                                            (dcterms.creator="'s-Gravenhage" or dcterms.creator="Kampen")
    --subject "openbare orde en veiligheid" overheidrg.onderwerp="openbare orde en veiligheid"
    --type beleidsregel                     overheidrg.indeling="beleidsregel"
    --since 2024-01-01 (or stored cursor)   dcterms.modified>=2024-01-01

``parse_page`` reads one page: ``numberOfRecords``, the records (``recordData/gzd`` with
``originalData/meta`` and ``enrichedData``) and ``nextRecordPosition``. Elements are found by local
name, so SRU 1.2 (``zing/srw``) and 2.0 (``oasis``) envelopes both parse. ``PoliteClient`` does the
HTTP: a request rate limit, and retries with exponential backoff on 5xx, 429 and timeouts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from lxml import etree

from ingest.municipalities import load_municipalities
from search.errors import InvalidInput, SchuttingError

DEFAULT_ENDPOINT = "https://repository.overheid.nl/sru"
CONNECTION = "cvdr"
DOC_TYPES = ("verordening", "beleidsregel")
USER_AGENT = "over-de-schutting/0.1 (CVDR harvester; polite: rate-limited, retries with backoff)"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_DELAY = 60.0  # seconds; a longer Retry-After is cut to this


class FetchFailed(SchuttingError):
    """A URL could not be fetched: a 4xx answer, or still failing after every retry."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class SruDiagnostic(InvalidInput):
    """The SRU service rejected the query (unknown index, bad syntax, ...)."""


@dataclass(frozen=True)
class SruRecord:
    """One search result: the metadata of one version of a regulation, and where its XML is."""

    position: int
    identifier: str  # "CVDR680781_1", sometimes without the prefix: "112779_1"
    title: str
    creator: str  # the organisation by name: "'s-Gravenhage"
    creator_scheme: str  # "overheid:Gemeente", "overheid:Provincie", ...
    modified: str
    issued: str
    valid_from: str  # inwerkingtredingDatum
    valid_to: str  # uitwerkingtredingDatum
    subjects: tuple[str, ...]  # dcterms:subject and overheidrg:onderwerp
    indeling: str  # "beleidsregel", ... (reliable from 2023-11-20 on)
    rubriek: str  # dcterms:type with an overheidop:Rubriek scheme
    organisatietype: str  # "Gemeente", "Provincie", "Waterschap", ...
    sources: tuple[tuple[str, str], ...]  # dcterms:source as (resourceIdentifier, text): legal basis
    xml_url: str  # enrichedData/publicatieurl_xml
    url: str  # enrichedData/preferred_url: the page for people


@dataclass(frozen=True)
class SruPage:
    total: int  # numberOfRecords
    records: tuple[SruRecord, ...]
    next_position: int | None  # nextRecordPosition; None on the last page


def cql_string(value: str) -> str:
    """A CQL quoted string: backslashes and double quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class HarvestQuery:
    """What to harvest; every field narrows the query."""

    municipalities: tuple[str, ...] = ()  # names, aliases or CBS codes; sent as the official (CVDR) name
    subject: str = ""  # overheidrg.onderwerp, e.g. "openbare orde en veiligheid"
    doc_type: str = ""  # "verordening" or "beleidsregel" (overheidrg.indeling)
    since: str = ""  # YYYY-MM-DD; empty: the stored cursor of these filters, or everything


def build_cql(query: HarvestQuery, since: str = "") -> str:
    """The CQL for a harvest; every clause names an index (the service has no default index)."""
    clauses = []
    names = creator_names(query.municipalities)
    if names:
        ors = " or ".join(f"dcterms.creator={cql_string(n)}" for n in names)
        clauses.append(f"({ors})" if len(names) > 1 else ors)
    if query.subject.strip():
        clauses.append(f"overheidrg.onderwerp={cql_string(query.subject.strip())}")
    if query.doc_type:
        if query.doc_type not in DOC_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(DOC_TYPES)}, got {query.doc_type!r}")
        clauses.append(f"overheidrg.indeling={cql_string(query.doc_type)}")
    if since:
        clauses.append(f"dcterms.modified>={_check_date(since)}")
    if not clauses:
        raise InvalidInput(
            "name a municipality, subject or type, or give --since YYYY-MM-DD: all of CVDR is "
            "over 300,000 versions, and the SRU service needs an index in every query"
        )
    return " and ".join(clauses)


def creator_names(values: tuple[str, ...]) -> tuple[str, ...]:
    """Official municipality names (as CVDR writes dcterms:creator) for names, aliases or CBS codes."""
    registry = load_municipalities()
    names = []
    for value in (v.strip() for v in values if v.strip()):
        found = registry.resolve(value)
        if found is None:
            raise InvalidInput(
                f"unknown municipality {value!r}: use a name ('s-Gravenhage, Den Haag) or CBS code"
            )
        names.append(found.name)
    return tuple(dict.fromkeys(names))


def _check_date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"since must be a date like 2024-01-31, got {value!r}") from None
    if len(value) != 10:
        raise InvalidInput(f"since must be a date like 2024-01-31, got {value!r}")
    return value


def search_retrieve(
    client: PoliteClient, endpoint: str, cql: str, start: int, size: int, connection: str = CONNECTION
) -> SruPage:
    """One page of results for a CQL query, starting at record ``start`` (1-based)."""
    params = {
        "x-connection": connection,
        "operation": "searchRetrieve",
        "version": "2.0",
        "query": cql,
        "startRecord": str(start),
        "maximumRecords": str(size),
    }
    return parse_page(client.get(endpoint, params), endpoint)


def parse_page(data: bytes, source: str = "SRU response") -> SruPage:
    """Parse a searchRetrieveResponse; raises SruDiagnostic when the service reports one."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FetchFailed(source, f"not an SRU response (malformed XML: {exc})") from exc
    if (diagnostic := _first(root, "diagnostic")) is not None:
        message = " — ".join(t for t in (_text(diagnostic, "message"), _text(diagnostic, "details")) if t)
        raise SruDiagnostic(f"the SRU service refused the query: {message or 'no message'}")
    if etree.QName(root).localname != "searchRetrieveResponse":
        raise FetchFailed(source, f"not an SRU response: root element is <{etree.QName(root).localname}>")
    total = _number(_text(root, "numberOfRecords", deep=False) or "0")
    if total is None:
        raise FetchFailed(source, "not an SRU response: numberOfRecords is not a number")
    return SruPage(
        total=total,
        records=tuple(_record(el) for el in _children(root, "records", "record")),
        next_position=_number(_text(root, "nextRecordPosition", deep=False)),
    )


def _number(text: str) -> int | None:
    """A count or position: digits only, at most 18 of them (None otherwise)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _record(record: Any) -> SruRecord:
    meta = _first(record, "originalData")
    enriched = _first(record, "enrichedData")
    meta = meta if meta is not None else record
    return SruRecord(
        position=_number(_text(record, "recordPosition", deep=False)) or 0,
        identifier=_text(meta, "identifier"),
        title=_text(meta, "title"),
        creator=_text(meta, "creator"),
        creator_scheme=_attribute(meta, "creator", "scheme"),
        modified=_text(meta, "modified"),
        issued=_text(meta, "issued"),
        valid_from=_text(meta, "inwerkingtredingDatum"),
        valid_to=_text(meta, "uitwerkingtredingDatum"),
        subjects=tuple(dict.fromkeys(t for el in _all(meta, "subject", "onderwerp") if (t := _inline(el)))),
        indeling=_text(meta, "indeling"),
        rubriek=next(
            (_inline(el) for el in _all(meta, "type") if "rubriek" in el.get("scheme", "").lower()), ""
        ),
        organisatietype=_text(enriched, "organisatietype") if enriched is not None else "",
        sources=tuple((el.get("resourceIdentifier", ""), _inline(el)) for el in _all(meta, "source")),
        xml_url=_text(enriched, "publicatieurl_xml") if enriched is not None else "",
        url=_text(enriched, "preferred_url") if enriched is not None else "",
    )


def _all(element: Any, *names: str) -> list[Any]:
    test = " or ".join(f"local-name()='{n}'" for n in names)
    return list(element.xpath(f".//*[{test}]"))


def _first(element: Any, name: str) -> Any:
    found = element.xpath(".//*[local-name()=$name][1]", name=name)
    return found[0] if found else None


def _children(element: Any, *path: str) -> list[Any]:
    nodes = [element]
    for name in path:
        nodes = [c for n in nodes for c in n if isinstance(c.tag, str) and etree.QName(c).localname == name]
    return nodes


def _text(element: Any, name: str, deep: bool = True) -> str:
    if not deep:
        found = _children(element, name)
        return _inline(found[0]) if found else ""
    found = _first(element, name)
    return _inline(found) if found is not None else ""


def _attribute(element: Any, name: str, attribute: str) -> str:
    found = _first(element, name)
    return str(found.get(attribute, "")) if found is not None else ""


def _inline(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


# --- HTTP ----------------------------------------------------------------------


class Throttle:
    """At most ``rate`` requests per second: each call waits until its slot has come."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise InvalidInput(f"rate must be above 0 requests per second, got {rate}")
        self.interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._next = float("-inf")

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class PoliteClient:
    """GET with a rate limit and retries (exponential backoff, Retry-After honoured up to a minute)."""

    def __init__(
        self, rate: float = 1.0, retries: int = 4, backoff: float = 2.0, timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        if retries < 0:
            raise InvalidInput(f"retries must be 0 or more, got {retries}")
        self.retries, self.backoff = retries, backoff
        self.requests = 0  # HTTP requests sent, retries included
        self.retried = 0  # of which retries
        self._sleep = sleep
        self._throttle = Throttle(rate, sleep=sleep)
        self._http = httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT})

    def get(self, url: str, params: dict[str, str] | None = None) -> bytes:
        """The body of a 2xx answer; raises FetchFailed on a 4xx or when every attempt failed."""
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            self._throttle.wait()
            self.requests += 1
            try:
                response = self._http.get(url, params=params)
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections
                problem, delay = f"{type(exc).__name__}: {exc}", self._delay(attempt, None)
            else:
                if response.status_code < 300:
                    return response.content
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUS:
                    raise FetchFailed(str(response.request.url), problem)
                delay = self._delay(attempt, response.headers.get("Retry-After"))
            if attempt < self.retries:
                self._sleep(delay)
        raise FetchFailed(url, f"{problem} (gave up after {self.retries + 1} attempts)")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), MAX_DELAY)
        return min(self.backoff * 2**attempt, MAX_DELAY)

    def close(self) -> None:
        self._http.close()
