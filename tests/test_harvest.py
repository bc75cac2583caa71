"""CVDR harvest against a local stand-in for the SRU service: recorded real responses, real CVDR XML.

The stand-in (http.server on 127.0.0.1) answers the exact SRU requests recorded in
tests/fixtures/sru/ and serves the regulations' XML; record URLs pointing at the real repository
are rewritten to it. Nothing here reaches the internet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

from api.cli.main import main
from ingest.embedding import EmbeddingCache
from ingest.harvest import HarvestReport, harvest_cvdr
from ingest.sru import (
    FetchFailed,
    HarvestQuery,
    PoliteClient,
    SruDiagnostic,
    Throttle,
    build_cql,
    cql_string,
    parse_page,
    search_retrieve,
)
from search.errors import InvalidInput
from search.index import Index
from search.retrieval import search
from search.types import Filters

S = TypeVar("S", bound="Service")

FIXTURES = Path(__file__).parent / "fixtures" / "sru"
REPOSITORY = "https://repository.officiele-overheidspublicaties.nl"
QUERY = HarvestQuery(municipalities=("Spijkenisse", "Kampen", "Someren"))
CQL = '(dcterms.creator="Spijkenisse" or dcterms.creator="Kampen" or dcterms.creator="Someren")'
SINCE_CQL = CQL + " and dcterms.modified>=2019-08-30"
FIRST = {(CQL, "1"): "search-page1.xml", (CQL, "3"): "search-page2.xml"}
LATER = {(SINCE_CQL, "1"): "search-since.xml"}
ALL_THREE = ["CVDR112779_1", "CVDR100394_2", "CVDR680781_1"]


@dataclass
class Service:
    """What the stand-in answers, and what it was asked."""

    base: str = ""
    pages: dict[tuple[str, str], str] = field(default_factory=lambda: dict(FIRST))
    unavailable: int = 0  # answer this many SRU requests with 503 first
    missing: set[str] = field(default_factory=set)  # XML files answered with 404
    searches: list[tuple[str, str]] = field(default_factory=list)  # (query, startRecord)
    downloads: list[str] = field(default_factory=list)
    national: bool = False  # answer a municipality query with no recording by "no records"

    @property
    def endpoint(self) -> str:
        return f"{self.base}/sru"


class Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        service: Service = self.server.service
        url = urlsplit(self.path)
        if url.path == "/sru":
            self._search(service, {k: v[0] for k, v in parse_qs(url.query).items()})
        elif url.path.startswith("/cvdr/"):
            name = url.path.rsplit("/", 1)[1]
            service.downloads.append(name)
            missing = name in service.missing or not (FIXTURES / name).is_file()
            self._answer(404, b"not found") if missing else self._answer(200, (FIXTURES / name).read_bytes())
        else:
            self._answer(404, b"not found")

    def _search(self, service: Service, params: dict[str, str]) -> None:
        assert (params["x-connection"], params["operation"], params["version"]) == (
            "cvdr",
            "searchRetrieve",
            "2.0",
        )
        service.searches.append((params["query"], params["startRecord"]))
        if service.unavailable:
            service.unavailable -= 1
            return self._answer(503, b"Service Unavailable")
        recorded = service.pages.get((params["query"], params["startRecord"]))
        if recorded is None and service.national and params["query"].startswith("dcterms.creator="):
            recorded = "search-none.xml"  # the municipalities with no regulations in the recordings
        if recorded is None or params["maximumRecords"] != "2":
            return self._answer(404, f"no recorded response for {params}".encode())
        body = (FIXTURES / recorded).read_text(encoding="utf-8").replace(REPOSITORY, service.base)
        self._answer(200, body.encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/xml" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[Handler], make: Callable[[str], S]) -> Iterator[S]:
    """The stand-in ``handler`` on a free loopback port, with the service ``make(base URL)`` gives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    service = make(f"http://127.0.0.1:{server.server_address[1]}")
    server.service = service  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    with serving(Handler, lambda base: Service(base=base)) as service:
        yield service


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> EmbeddingCache:
    return EmbeddingCache(tmp_path_factory.mktemp("embeddings") / "cache.sqlite")


@pytest.fixture
def index(empty_index: Index) -> Index:
    """The shared empty index (conftest.py), under the name these tests use."""
    return empty_index


def harvest(index: Index, service: Service, cache: EmbeddingCache, **kwargs: Any) -> HarvestReport:
    return harvest_cvdr(
        index, QUERY, service.endpoint, rate=1000, retries=3, backoff=0.01, page_size=2, cache=cache,
        **{"all_versions": True, **kwargs},
    )  # fmt: skip


def found(index: Index, **filters: Any) -> set[str]:
    """Ids of the documents a search may return under these filters (dense: every allowed one ranks)."""
    results = search(index, "regels van de gemeente", Filters(**filters), k=20, mode="dense")
    return {r.document.id for r in results}


# --- queries and responses ----------------------------------------------------------------------------


def test_cql_names_an_index_in_every_clause() -> None:
    assert build_cql(QUERY) == CQL
    assert build_cql(HarvestQuery(("Den Haag", "GM0166")), "2024-01-01") == (
        '(dcterms.creator="\'s-Gravenhage" or dcterms.creator="Kampen") and dcterms.modified>=2024-01-01'
    )
    assert build_cql(HarvestQuery(subject="openbare orde en veiligheid", doc_type="beleidsregel")) == (
        'overheidrg.onderwerp="openbare orde en veiligheid" and overheidrg.indeling="beleidsregel"'
    )
    assert build_cql(HarvestQuery(), "2019-08-30") == "dcterms.modified>=2019-08-30"
    assert cql_string('Beleidsregel "Bibob" \\ 2019') == '"Beleidsregel \\"Bibob\\" \\\\ 2019"'


@pytest.mark.parametrize(
    ("query", "since", "message"),
    [
        (HarvestQuery(), "", "name a municipality"),
        (HarvestQuery(("Atlantis",)), "", "unknown municipality"),
        (HarvestQuery(doc_type="nota"), "", "type must be one of"),
        (HarvestQuery(("Someren",)), "2024-1-1", "since must be a date"),
        (HarvestQuery(("Someren",)), "2024", "since must be a date"),
    ],
)
def test_bad_queries_are_refused_before_any_request(query: HarvestQuery, since: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_cql(query, since)


def test_recorded_page_is_parsed() -> None:
    page = parse_page((FIXTURES / "search-page1.xml").read_bytes())
    assert (page.total, page.next_position) == (3, 3)
    spijkenisse, kampen = page.records
    assert (spijkenisse.position, spijkenisse.identifier, spijkenisse.creator) == (
        1,
        "112779_1",
        "Spijkenisse",
    )
    assert (spijkenisse.modified, spijkenisse.valid_from, spijkenisse.valid_to) == (
        "2011-09-15",
        "2011-09-14",
        "2012-04-25",
    )
    assert kampen.xml_url == f"{REPOSITORY}/cvdr/CVDR100394/2/xml/CVDR100394_2.xml"
    assert kampen.url == "https://lokaleregelgeving.overheid.nl/CVDR100394/2"
    assert (kampen.organisatietype, kampen.creator_scheme) == ("Gemeente", "overheid:Gemeente")
    assert kampen.subjects == ("ruimtelijke ordening, verkeer en vervoer",)
    assert kampen.sources[0] == (
        "http://wetten.overheid.nl/BWBR0004825/",
        "Reglement verkeersregels en verkeertekens 1990",
    )
    assert parse_page((FIXTURES / "search-page2.xml").read_bytes()).next_position is None


def test_diagnostic_is_an_invalid_query() -> None:
    with pytest.raises(SruDiagnostic, match=r"Unsupported index — cql\.serverChoice"):
        parse_page((FIXTURES / "diagnostic-unsupported-index.xml").read_bytes())


def test_throttle_spaces_requests() -> None:
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        throttle.wait()
    assert slept == [0.25, 0.25]
    with pytest.raises(InvalidInput):
        Throttle(0)


# --- harvests against the stand-in ---------------------------------------------------------------------


def test_first_harvest_indexes_every_version_with_its_metadata(
    index: Index, service: Service, cache: EmbeddingCache
) -> None:
    report = harvest(index, service, cache)
    assert (report.complete, report.error, report.total) == (True, "", 3)
    assert report.added == ALL_THREE
    assert (report.updated, report.skipped, report.failed) == ([], [], [])
    assert report.cursor == "2019-08-30"
    assert service.searches == [(CQL, "1"), (CQL, "3")]
    assert service.downloads == [f"{doc_id}.xml" for doc_id in ALL_THREE]

    someren = index.catalog.document("CVDR680781_1")
    assert someren is not None
    assert (someren.municipality, someren.municipality_code, someren.province) == (
        "Someren",
        "GM0847",
        "Noord-Brabant",
    )
    assert (someren.doc_type, someren.date) == ("beleidsregel", "2019-05-28")
    assert someren.source == f"{service.base}/cvdr/CVDR680781/1/xml/CVDR680781_1.xml"
    extra = someren.extra
    assert (extra["work_id"], extra["version"], extra["valid_from"], extra["valid_to"]) == (
        "CVDR680781",
        1,
        "2019-08-30",
        "",
    )
    assert extra["url"] == "https://lokaleregelgeving.overheid.nl/CVDR680781/1"
    assert [(b["bwb"], b["artikel"]) for b in extra["legal_basis"]] == [
        ("BWBR0013798", ""),
        ("BWBR0024779", "2.1"),
    ]
    spijkenisse = index.catalog.document("CVDR112779_1")
    assert spijkenisse is not None and spijkenisse.municipality_code == "GM0612"  # merged into Nissewaard

    assert found(index, legal_basis="BWBR0024779:2.1") == {"CVDR680781_1"}
    assert found(index, legal_basis="bwbr0013798") == {"CVDR680781_1"}
    assert found(index, legal_basis="BWBR0004825") == {"CVDR100394_2"}
    assert found(index, legal_basis="BWBR0015703:8") == set()  # Participatiewet art. 8: none of these


def test_incremental_harvest_fetches_only_the_changed(
    index: Index, service: Service, cache: EmbeddingCache
) -> None:
    harvest(index, service, cache)
    service.pages, service.searches, service.downloads = dict(LATER), [], []

    report = harvest(index, service, cache)
    assert report.query == SINCE_CQL
    assert (report.added, report.skipped, report.updated) == (["CVDR680781_2"], ["CVDR680781_1"], [])
    assert report.superseded == ["CVDR680781_1"]
    assert service.searches == [(SINCE_CQL, "1")]
    assert service.downloads == ["CVDR680781_2.xml"]  # the unchanged version is not downloaded again
    assert report.cursor == "2021-03-01"

    old, new = index.catalog.document("CVDR680781_1"), index.catalog.document("CVDR680781_2")
    assert old is not None and new is not None
    assert (old.extra["valid_to"], old.extra["valid_to_inferred"]) == ("2021-03-02", True)
    assert (new.extra["work_id"], new.extra["valid_from"], new.extra["valid_to"]) == (
        "CVDR680781",
        "2021-03-02",
        "",
    )

    assert found(index) == {"CVDR112779_1", "CVDR100394_2", "CVDR680781_2"}  # the version in force
    assert found(index, municipalities=("GM0847",), valid_on="2020-06-01") == {"CVDR680781_1"}
    assert found(index, municipalities=("GM0847",), valid_on="2021-03-02") == {"CVDR680781_2"}
    assert found(index, legal_basis="BWBR0024779:2.1") == {"CVDR680781_2"}
    assert found(index, legal_basis="BWBR0024779:2.1", current_only=False) == {"CVDR680781_1", "CVDR680781_2"}


@pytest.mark.parametrize(("stop_after", "resume_at"), [(2, "3"), (1, "1")])
def test_interrupted_harvest_resumes_where_it_stopped(
    index: Index, service: Service, cache: EmbeddingCache, stop_after: int, resume_at: str
) -> None:
    def interrupt(report: HarvestReport, identifier: str) -> None:
        if report.seen == stop_after:
            raise KeyboardInterrupt

    stopped = harvest(index, service, cache, progress=interrupt)
    assert not stopped.complete and "interrupted" in stopped.error
    assert stopped.added == ALL_THREE[:stop_after]
    assert stopped.cursor == ""  # no cursor until a run completes
    service.searches, service.downloads = [], []

    resumed = harvest(index, service, cache)
    assert resumed.complete and resumed.resumed_from == int(resume_at)
    assert service.searches[0] == (CQL, resume_at)
    assert resumed.added == ALL_THREE[stop_after:]
    assert resumed.skipped == []  # records done before the interruption are not looked at again
    assert service.downloads == [f"{doc_id}.xml" for doc_id in ALL_THREE[stop_after:]]
    assert resumed.cursor == "2019-08-30"
    assert index.catalog.count_documents() == 3


def test_unavailable_service_is_retried_with_backoff(
    index: Index, service: Service, cache: EmbeddingCache
) -> None:
    service.unavailable = 2
    report = harvest(index, service, cache)
    assert report.complete and report.added == ALL_THREE
    assert report.retries == 2
    assert service.searches == [(CQL, "1"), (CQL, "1"), (CQL, "1"), (CQL, "3")]


def test_service_that_stays_down_stops_the_run_resumably(
    index: Index, service: Service, cache: EmbeddingCache
) -> None:
    service.unavailable = 4  # one request and three retries
    report = harvest(index, service, cache)
    assert not report.complete and "HTTP 503 (gave up after 4 attempts)" in report.error
    assert (report.added, report.cursor) == ([], "")
    assert harvest(index, service, cache).added == ALL_THREE


def test_failed_download_keeps_the_cursor_before_it(
    index: Index, service: Service, cache: EmbeddingCache
) -> None:
    service.missing = {"CVDR112779_1.xml"}
    report = harvest(index, service, cache)
    assert report.complete and report.added == ALL_THREE[1:]
    assert [(doc_id, "HTTP 404" in reason) for doc_id, reason in report.failed] == [("CVDR112779_1", True)]
    assert report.cursor == "2011-09-15"  # the next run asks again from the failed record's date on


def test_client_gives_up_on_a_4xx_without_retrying(service: Service) -> None:
    client = PoliteClient(rate=1000, retries=3, backoff=0.01)
    with pytest.raises(FetchFailed, match="HTTP 404"):
        search_retrieve(client, service.endpoint, 'dcterms.creator="Nergens"', 1, 2)
    assert (client.requests, client.retried) == (1, 0)
    client.close()


def test_cli_harvest_then_search_by_legal_basis(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCHUTTING_MODEL", "use-multilingual")
    base = ["--data-dir", str(tmp_path / "data")]
    towns = [arg for town in QUERY.municipalities for arg in ("--municipality", town)]
    options = [
        "--endpoint",
        service.endpoint,
        "--rate",
        "1000",
        "--page-size",
        "2",
        "--all-versions",
        "--json",
    ]
    assert main([*base, "harvest", "cvdr", *towns, *options]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["added"], report["cursor"], report["complete"]) == (ALL_THREE, "2019-08-30", True)

    assert main([*base, "search", "Bibob integriteit", "--legal-basis", "BWBR0013798", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["id"] for r in results] == ["CVDR680781_1"]
