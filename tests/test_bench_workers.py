"""`make bench-workers`: real zoning plans queued on a real PostgreSQL, ingested by 1 and by 2
single-threaded worker processes; both runs index the same passages, every unit done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.evaluation import bench_workers


def test_plan_files_split_the_shared_plans(tmp_path: Path) -> None:
    files = bench_workers.plan_files(tmp_path, plans=5, per_file=2)
    rows = [[json.loads(line)["_id"] for line in f.read_text().splitlines()] for f in files]
    assert [len(r) for r in rows] == [2, 2, 1]
    assert len({i for r in rows for i in r}) == 5


def test_one_and_two_workers_ingest_the_same_plans(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the bench keeps its files under ./data/bench-workers
    assert bench_workers.main(["--database-url", fresh_database, "--plans", "3", "--per-file", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    one, two = report["runs"]
    assert (one["workers"], two["workers"], report["threads_per_worker"], report["files"]) == (1, 2, 1, 3)
    assert one["chunks"] == two["chunks"] > 3 * 5  # a plan is many passages
    assert one["units"] == two["units"] == {"done": 3}
    assert report["speedup"]["1x"] == 1.0 and report["speedup"]["2x"] > 0
