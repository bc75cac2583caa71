"""The national CVDR harvest against the local SRU stand-in of tests/test_harvest.py: a first pass over
every municipality (480 queries; the three recorded ones have regulations, the others none), versions
in force only unless asked, then one query for what changed; interrupted and resumed; per municipality."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main
from api.jobs import JobStore
from api.settings import Settings
from ingest.embedding import EmbeddingCache
from ingest.harvest import Politeness, harvest_cvdr
from ingest.harvest_report import HarvestReport
from ingest.national import harvest_nation, municipality_names
from ingest.sru import cql_string
from search.index import Index
from tests import test_harvest
from tests.test_harvest import QUERY, Service

# the stand-in of tests/test_harvest.py and its index and embedding cache, as fixtures of this module
service, cache, index = test_harvest.service, test_harvest.cache, test_harvest.index

NATION = {
    ('dcterms.creator="Kampen"', "1"): "search-kampen.xml",
    ('dcterms.creator="Someren"', "1"): "search-someren.xml",
    ('dcterms.creator="Spijkenisse"', "1"): "search-spijkenisse.xml",
}
FAST = Politeness(rate=1000, retries=3, backoff=0.01, page_size=2)
NAMES = municipality_names()
YESTERDAY = (dt.date.today() - dt.timedelta(days=1)).isoformat()
CHANGES = f"dcterms.modified>={YESTERDAY}"


@pytest.fixture
def nation(service: Service) -> Service:
    service.pages, service.national = dict(NATION), True
    return service


def run(index: Index, service: Service, cache: EmbeddingCache, **kwargs: Any) -> HarvestReport:
    return harvest_nation(index, service.endpoint, polite=FAST, cache=cache, **kwargs)


def counts(added: int = 0, unchanged: int = 0, not_in_force: int = 0, **more: Any) -> dict[str, int]:
    return {"added": added, "updated": 0, "unchanged": unchanged, "not_in_force": not_in_force, "failed": 0,
            **more}  # fmt: skip


def test_first_national_run_asks_every_municipality_and_fetches_versions_in_force(
    index: Index,
    nation: Service,
    cache: EmbeddingCache,
) -> None:
    report = run(index, nation, cache)
    assert (report.complete, report.error, report.national) == (True, "", "first pass")
    assert len(NAMES) == 480 and (report.municipalities_done, report.municipalities_total) == (480, 480)
    assert nation.searches == [(f"dcterms.creator={cql_string(name)}", "1") for name in NAMES]
    assert report.added == ["CVDR100394_2", "CVDR680781_1"]  # Kampen, Someren: in force
    assert report.not_in_force == ["CVDR112779_1"]  # Spijkenisse's ended in 2012: not downloaded
    assert nation.downloads == ["CVDR100394_2.xml", "CVDR680781_1.xml"]
    assert report.cursor == YESTERDAY  # the day before the pass began: nothing changed since is missed
    assert report.municipalities["Someren"] == {"code": "GM0847", **counts(added=1), "done": True}
    assert report.municipalities["Spijkenisse"] == {"code": "GM0612", **counts(not_in_force=1), "done": True}
    assert report.municipalities["'s-Gravenhage"] == {"code": "GM0518", **counts(), "done": True}
    assert len(report.municipalities) == 480
    assert index.catalog.document("CVDR112779_1") is None


def test_all_versions_fetches_the_ended_ones_too(
    index: Index,
    nation: Service,
    cache: EmbeddingCache,
) -> None:
    report = run(index, nation, cache, all_versions=True)
    assert report.complete and report.all_versions
    assert (report.added, report.not_in_force) == (["CVDR100394_2", "CVDR680781_1", "CVDR112779_1"], [])
    assert report.municipalities["Spijkenisse"] == {"code": "GM0612", **counts(added=1), "done": True}
    # versions in force keep their own cursor: that harvest still starts with its own first pass
    nation.searches = []
    again = run(index, nation, cache)
    assert again.national == "first pass" and len(nation.searches) == 480
    assert (again.added, again.skipped) == ([], ["CVDR100394_2", "CVDR680781_1", "CVDR112779_1"])


def test_second_national_run_fetches_only_what_changed(
    index: Index,
    nation: Service,
    cache: EmbeddingCache,
) -> None:
    run(index, nation, cache)
    nation.pages[(CHANGES, "1")] = "search-since.xml"  # a new version of Someren's, and the old one
    nation.searches, nation.downloads = [], []

    report = run(index, nation, cache)
    assert (report.complete, report.national, report.query) == (True, "changes", CHANGES)
    assert nation.searches == [(CHANGES, "1")]  # one query for the whole country
    assert nation.downloads == ["CVDR680781_2.xml"]
    assert (report.added, report.skipped, report.superseded) == (
        ["CVDR680781_2"],
        ["CVDR680781_1"],
        ["CVDR680781_1"],
    )
    assert report.municipalities == {"Someren": {"code": "GM0847", **counts(added=1, unchanged=1)}}
    assert report.cursor == YESTERDAY


def test_interrupted_first_pass_resumes_at_its_municipality_and_record(
    index: Index,
    nation: Service,
    cache: EmbeddingCache,
) -> None:
    def interrupt(report: HarvestReport, identifier: str) -> None:
        if report.seen == 1:  # Kampen's record, the first of the pass (alphabetical order)
            raise KeyboardInterrupt

    stopped = run(index, nation, cache, progress=interrupt)
    assert not stopped.complete
    assert (
        stopped.error
        == 'interrupted; run the harvest again to resume at record 2 of dcterms.creator="Kampen"'
    )
    assert (stopped.added, stopped.cursor) == (["CVDR100394_2"], "")
    assert stopped.municipalities_done == NAMES.index("Kampen")  # those before it are done
    nation.searches, nation.downloads = [], []

    resumed = run(index, nation, cache)
    assert resumed.complete and resumed.resumed_from == 1
    assert nation.searches[0] == ('dcterms.creator="Kampen"', "1")  # no municipality before it again
    assert len(nation.searches) == 480 - NAMES.index("Kampen")
    assert (resumed.added, nation.downloads) == (["CVDR680781_1"], ["CVDR680781_1.xml"])
    assert resumed.municipalities_done == 480 and resumed.cursor == YESTERDAY
    assert index.catalog.count_documents() == 2


def test_a_scoped_harvest_fetches_versions_in_force_too(
    index: Index,
    service: Service,
    cache: EmbeddingCache,
) -> None:
    report = harvest_cvdr(index, QUERY, service.endpoint, rate=1000, page_size=2, cache=cache)
    assert (report.added, report.not_in_force) == (["CVDR100394_2", "CVDR680781_1"], ["CVDR112779_1"])
    assert report.municipalities["Spijkenisse"] == {"code": "GM0612", **counts(not_in_force=1)}


def test_cli_without_filters_is_the_national_harvest_and_resumes_from_its_cursor(
    nation: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCHUTTING_MODEL", "use-multilingual")
    base = ["--data-dir", str(tmp_path / "data")]
    options = ["--endpoint", nation.endpoint, "--rate", "1000", "--page-size", "2"]
    nation.pages[("dcterms.modified>=2019-08-30", "1")] = "search-since.xml"
    nation.pages[("dcterms.modified>=2021-03-01", "1")] = "search-none.xml"
    assert main([*base, "harvest", "cvdr", "--since", "2019-08-30", *options, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["national"], first["cursor"]) == ("changes", "2021-03-01")
    assert first["added"] == ["CVDR680781_1", "CVDR680781_2"]

    assert main([*base, "harvest", "cvdr", *options]) == 0  # no filter, no --since: from its own cursor
    assert "CVDR dcterms.modified>=2021-03-01 (changes)" in capsys.readouterr().out
    assert nation.searches[-1] == ("dcterms.modified>=2021-03-01", "1")

    [_, since_job] = JobStore.for_settings(Settings(data_dir=tmp_path / "data")).recent()
    assert main([*base, "jobs", str(since_job.id)]) == 0
    shown = capsys.readouterr().out
    assert "Someren (GM0847): added 2, updated 0, unchanged 0, not in force 0, failed 0" in shown
