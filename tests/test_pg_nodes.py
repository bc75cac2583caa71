"""Stateless API nodes on one PostgreSQL: a document ingested through node A is found through
node B, and through node C whose searches go to a streaming replica (all real processes)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests import pg_support
from tests.pg_support import REPO

TOKEN = "nodes-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = (
    "Verordening precariobelasting terrassen\n\n"
    "Artikel 1. Voor het hebben van een terras op de openbare weg wordt precariobelasting geheven.\n"
)


def with_dbname(url: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=name)


@pytest.fixture(scope="module")
def node_database(fresh_database: str) -> str:
    return fresh_database


def start_node(data_dir: Path, url: str, read_url: str = "") -> tuple[subprocess.Popen[bytes], str]:
    return pg_support.start_node(data_dir, {"SCHUTTING_DATABASE_URL": url, "SCHUTTING_DATABASE_READ_URL": read_url,
                                            "SCHUTTING_MODEL": "use-multilingual", "SCHUTTING_ADMIN_TOKEN": TOKEN})  # fmt: skip


@pytest.fixture
def nodes(node_database: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two API nodes with data dirs of their own (jobs, uploads) and the one database."""
    started = [start_node(tmp_path / name, node_database) for name in ("a", "b")]
    yield [base for _, base in started]
    for proc, _ in started:
        proc.terminate()
        proc.wait(timeout=30)


def search_ids(base: str, q: str, log: Path | None = None) -> list[str]:
    answer = httpx.get(f"{base}/search", params={"q": q}, timeout=120)
    assert answer.status_code == 200, (answer.text, log.read_text()[-3000:] if log else "")
    return [r["id"] for r in answer.json()["results"]]


def ingest_through(base: str, tmp_path: Path) -> None:
    files = {"files": ("precario.txt", TEXT.encode(), "text/plain")}
    answer = httpx.post(
        f"{base}/admin/ingest", headers=AUTH, files=files, data={"municipality": "Wassenaar"}, timeout=60
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/admin/jobs/{job_id}", headers=AUTH, timeout=30).json()
        if job["state"] in ("done", "failed"):
            assert job["state"] == "done", job
            return
        time.sleep(0.2)
    raise AssertionError("ingest job did not finish")


def test_ingested_through_one_node_found_through_another_and_the_replica(
    nodes: list[str], node_database: str, tmp_path: Path
) -> None:
    node_a, node_b = nodes
    assert httpx.get(f"{node_b}/health", timeout=30).json()["status"] == "empty"
    ingest_through(node_a, tmp_path)
    found = search_ids(node_b, "belasting voor terrassen op straat")
    assert len(found) == 1 and found[0].endswith("precario")
    health = httpx.get(f"{node_b}/health", timeout=30).json()
    assert (health["status"], health["documents"]) == ("ok", 1)

    replica = subprocess.run(
        [str(REPO / "scripts" / "postgres.sh"), "replica"], capture_output=True, text=True, timeout=300
    )
    assert replica.returncode == 0, replica.stderr
    read_url = with_dbname(
        replica.stdout.strip().splitlines()[-1], psycopg.conninfo.conninfo_to_dict(node_database)["dbname"]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # streaming replication is asynchronous: wait for the write to arrive
        try:  # the test database itself may not have reached the standby yet
            with psycopg.connect(read_url, autocommit=True) as conn:
                if conn.execute("SELECT count(*) FROM generations WHERE state = 'live'").fetchone() == (1,):
                    break
        except psycopg.Error:
            pass
        time.sleep(0.2)
    proc, node_c = start_node(tmp_path / "c", node_database, read_url)
    try:
        assert search_ids(node_c, "precariobelasting terras", tmp_path / "c" / "server.log") == found
        with psycopg.connect(read_url, autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)  # node C reads a standby
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_deleted_through_one_node_is_gone_through_another(nodes: list[str], tmp_path: Path) -> None:
    node_a, node_b = nodes
    ingest_through(node_a, tmp_path)
    found = search_ids(node_b, "belasting voor terrassen op straat")
    assert len(found) == 1
    answer = httpx.delete(f"{node_b}/admin/documents/{found[0]}", headers=AUTH, timeout=60)
    assert answer.status_code == 200, answer.text
    assert search_ids(node_a, "belasting voor terrassen op straat") == []
    assert httpx.get(f"{node_a}/documents/{found[0]}", timeout=30).status_code == 404
    again = httpx.delete(f"{node_a}/admin/documents/{found[0]}", headers=AUTH, timeout=60)
    assert again.status_code == 404 and again.json()["melding"], again.text
