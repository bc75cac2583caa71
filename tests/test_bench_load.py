"""`schutting bench load`'s hostile phase: it sends the reliability probe's PDF, judges answers the way
issue #10 asks (a 4xx with a Dutch melding, nothing else), and checks its targets on the phases that ran.
The figures themselves come from running the bench (README), not from here."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.evaluation.bench_load import add_arguments, report
from api.evaluation.load_hostile import Outcomes, hostile_pdf, judge
from api.evaluation.load_report import target
from tests.pdf_bytes import pdf_with_content, stalling_content


def test_the_hostile_pdf_is_the_one_of_the_reliability_finding() -> None:
    pdf = hostile_pdf(5)
    assert pdf == pdf_with_content(stalling_content(5))
    assert len(pdf) < 18_000  # a file smaller than the finding's 18 KB that holds a 5 MB text stream


def answer(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", "http://127.0.0.1/similar"))


def test_only_a_4xx_with_a_dutch_melding_is_a_good_answer_to_a_hostile_upload() -> None:
    melding = "Het lezen van dit document kostte te veel tijd."
    assert judge(answer(422, {"error": "OverBudget", "melding": melding})) == (melding, "")
    assert judge(answer(429, {"melding": "Het is nu te druk."})) == ("Het is nu te druk.", "")
    assert judge(answer(422, {"detail": "over budget"}))[1].startswith("422 /similar: no melding")
    assert judge(answer(500, {"melding": "Er ging iets mis."}))[1].startswith("500 /similar: not refused")
    assert judge(answer(200, {"results": []}))[1].startswith("200 /similar: not refused")


def phase(name: str, errors: int, p95: float, search_p95: float, health_p95: float) -> dict[str, Any]:
    return {"name": name, "errors": errors, "p95_ms": p95, "by_kind": {"search": {"p95_ms": search_p95}},
            "health": {"p95_ms": health_p95}}  # fmt: skip


def test_targets_are_checked_on_the_phases_that_ran() -> None:
    quick = target([phase("idle", 0, 400, 450, 20), phase("hostile", 0, 800, 990, 30)])
    assert quick["checks"] == {"no_errors": True, "hostile_p95_under_1s": True} and quick["met"]
    assert quick["hostile_p95_ms"] == {"clients": 800, "search": 990, "health": 30}
    slow_search = target([phase("idle", 0, 400, 450, 20), phase("hostile", 0, 800, 1000, 30)])
    assert slow_search["checks"]["hostile_p95_under_1s"] is False and not slow_search["met"]
    every = [phase("idle", 0, 400, 0, 0), phase("hostile", 1, 500, 500, 50), phase("reindex", 0, 1300, 0, 0)]
    full = target(every)
    assert full["errors"] == 1 and full["reindex_p95_over_idle_p95"] == 3.25
    assert full["checks"] == {"no_errors": False, "reindex_p95_at_most_3x_idle": False,
                              "hostile_p95_under_1s": True}  # fmt: skip


@pytest.mark.parametrize("phases", ["reindex", "idle,reindex", "idle,hostiel", ","])
def test_phases_that_cannot_run_are_refused_before_anything_starts(phases: str, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--phases", phases, "--data-dir", str(tmp_path / "data")])
    with pytest.raises(SystemExit, match="--phases"):
        report(args)
    assert not (tmp_path / "data").exists()


def test_hostile_outcomes_are_counted_by_status_and_by_upload_path() -> None:
    outcomes = Outcomes()
    outcomes.add("/similar", "422", 10_000, "Het lezen duurde langer dan 10 seconden en is gestopt.")
    outcomes.add("/similar", "429", 2_000, "Het is nu te druk.")
    outcomes.add("/documents", "timeout", 40_000, problem="no answer from /documents in 40 s")
    summary = outcomes.summary()
    assert summary["statuses"] == {"422": 1, "429": 1, "timeout": 1} and summary["errors"] == 1
    assert summary["by_path"]["/similar"]["statuses"] == {"422": 1, "429": 1}
    assert summary["by_path"]["/documents"]["requests"] == 1
    assert summary["error_samples"] == ["no answer from /documents in 40 s"]
