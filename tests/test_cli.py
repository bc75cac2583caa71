"""The `schutting` command as a user runs it: a real subprocess against a real data dir."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import FAST_MODEL, REPO, SHARED, shared_path


def run(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCHUTTING_DATA_DIR": str(data_dir), "SCHUTTING_MODEL": FAST_MODEL}
    proc = subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=900)  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}{proc.stdout}")
    return proc


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "data"
    run(data, "ingest", str(REPO / "data" / "demo"))
    return data


def test_ingest_reports_counts_and_is_idempotent(data_dir: Path) -> None:
    again = json.loads(run(data_dir, "ingest", str(REPO / "data" / "demo"), "--json").stdout)
    assert again["added"] == [] and again["failed"] == []
    assert len(again["skipped"]) == 19
    info = json.loads(run(data_dir, "info", "--json").stdout)
    assert info["documents"] == 19 and info["model"] == FAST_MODEL


def test_search_json_shape(data_dir: Path) -> None:
    out = json.loads(
        run(data_dir, "search", "bijzondere bijstand voor uitvaartkosten", "-k", "3", "--json").stdout
    )
    first = out["results"][0]
    assert first["id"] == "CVDR719087_3"
    assert {"id", "title", "municipality", "type", "date", "score", "passages"} <= set(first)
    assert first["passages"][0]["label"].startswith("Artikel")
    assert [r["score"] for r in out["results"]] == sorted((r["score"] for r in out["results"]), reverse=True)


def test_search_text_output_and_filters(data_dir: Path) -> None:
    out = run(data_dir, "search", "besluitenlijst college", "--municipality", "Wassenaar", "-k", "5").stdout
    assert "Wassenaar" in out and "Rotterdam" not in out
    empty = run(data_dir, "search", "bijstand", "--municipality", "GM0363", "--type", "besluitenlijst").stdout
    assert "no results" in empty


def test_similar_by_id_and_by_file(data_dir: Path) -> None:
    by_id = json.loads(run(data_dir, "similar", "CVDR719087_3", "--json").stdout)
    assert by_id["results"] and all(r["municipality_code"] != "GM0599" for r in by_id["results"])
    pdf = shared_path("pdf", "besluitenlijst_bw_vergadering_18_april_2023.pdf")
    by_file = json.loads(
        run(data_dir, "similar", "--file", str(pdf), "--municipality", "Leiden", "--json").stdout
    )
    assert by_file["results"][0]["municipality"] == "Wassenaar"  # the other besluitenlijsten are closest


def test_errors_have_exit_codes_and_messages(data_dir: Path) -> None:
    empty = run(data_dir, "search", "  ", check=False)
    assert empty.returncode == 2 and "empty query" in empty.stderr
    missing = run(data_dir, "similar", "CVDR0_0", check=False)
    assert missing.returncode == 3
    bad = run(data_dir, "search", "x", "--from", "morgen", check=False)
    assert bad.returncode == 2 and "date" in bad.stderr
    assert "example" in run(data_dir, "search", "--help").stdout


def test_usage_errors_exit_2_and_an_ingest_where_everything_failed_exits_non_zero(
    data_dir: Path, tmp_path: Path
) -> None:
    assert run(data_dir, "search", check=False).returncode == 2  # argparse: the question is missing
    both = run(data_dir, "similar", "CVDR0_0", "--file", str(tmp_path / "x.pdf"), check=False)
    assert both.returncode == 2 and "either a document id or --file" in both.stderr
    bad = tmp_path / "kapot"
    bad.mkdir()
    (bad / "leeg.pdf").write_bytes(b"")
    (bad / "html.pdf").write_bytes(b"<html><body>geen pdf</body></html>")
    failed = run(data_dir, "ingest", str(bad), "--municipality", "Wassenaar", "--json", check=False)
    assert failed.returncode == 7, failed.stderr
    report = json.loads(failed.stdout)
    assert len(report["failed"]) == 2 and report["added"] == []
    partly = tmp_path / "half"
    partly.mkdir()
    shutil.copy(bad / "leeg.pdf", partly)
    (partly / "besluit.txt").write_text(
        "Besluitenlijst\n\nHet college besluit de rioolheffing te verlagen.\n"
    )
    assert run(data_dir, "ingest", str(partly), "--municipality", "Wassenaar", check=False).returncode == 0


def test_eval_on_a_small_beir_set(tmp_path: Path) -> None:
    source = SHARED / "eval" / "vac-questions"
    if not source.exists():
        pytest.skip("shared eval sets not available")
    small = tmp_path / "vac-small"
    (small / "qrels").mkdir(parents=True)
    queries = [json.loads(line) for line in (source / "queries.jsonl").read_text().splitlines()[:15]]
    wanted = {q["_id"][2:] for q in queries}
    corpus = [
        line
        for line in (source / "corpus.jsonl").read_text().splitlines()
        if json.loads(line)["_id"] in wanted
    ]
    (small / "corpus.jsonl").write_text("\n".join(corpus) + "\n")
    (small / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (small / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q['_id']}\t{q['_id'][2:]}\t1\n" for q in queries)
    )
    metrics = json.loads(run(tmp_path / "data", "eval", str(small), "--json", "--mode", "lexical").stdout)
    assert {"ndcg@10", "mrr@10", "recall@10", "recall@100"} <= set(metrics)
    assert metrics["queries"] == 15 and metrics["recall@100"] == 1.0
    assert 0.5 < metrics["ndcg@10"] <= 1.0
    again = json.loads(run(tmp_path / "data", "eval", str(small), "--json", "--mode", "lexical").stdout)
    assert again["ndcg@10"] == metrics["ndcg@10"] and again["index_seconds"] < metrics["index_seconds"]


def test_serve_answers_over_real_http(data_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    env = {**os.environ, "SCHUTTING_DATA_DIR": str(copy)}
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        results = httpx.get(f"{base}/search", params={"q": "rioolheffing", "k": 2}, timeout=60).json()[
            "results"
        ]
        assert {r["municipality"] for r in results} == {"Almere", "Venlo"}
        assert httpx.get(f"{base}/openapi.json", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
