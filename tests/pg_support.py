"""A real PostgreSQL for the tests: $SCHUTTING_TEST_DATABASE_URL, or one started by `make postgres`.

CI (``.ci/run``) starts the server and exports the URL; a root shell starts it here on first
use (installing PostgreSQL 15 and building pgvector once). Without either the PostgreSQL tests
are skipped with one line saying how to run them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from search.engines import Place

REPO = Path(__file__).resolve().parents[1]
SKIP_REASON = "PostgreSQL engine tests need SCHUTTING_TEST_DATABASE_URL, or root to run `make postgres`"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_node(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`schutting serve` in a process of its own with ``env`` over this one's; (process, base URL)
    once /health answers. Its output goes to ``data_dir/server.log``."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=REPO,
                            env={**os.environ, "SCHUTTING_DATA_DIR": str(data_dir), **env},
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"node did not start: {(data_dir / 'server.log').read_text()[-2000:]}")


def start_local_postgres() -> str:
    """The URL of the local server (`scripts/postgres.sh start`: installs and starts as needed)."""
    done = subprocess.run(
        [str(REPO / "scripts" / "postgres.sh"), "start"], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"make postgres failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("SCHUTTING_TEST_DATABASE_URL", "")
    if url:
        return url
    if os.geteuid() != 0:
        if os.environ.get("SCHUTTING_REQUIRE_SYSTEM") == "1":  # CI: nothing is skipped there
            pytest.fail(f"no PostgreSQL but SCHUTTING_REQUIRE_SYSTEM=1: {SKIP_REASON}")
        pytest.skip(SKIP_REASON)
    url = start_local_postgres()
    os.environ["SCHUTTING_TEST_DATABASE_URL"] = url  # subprocesses (CLI, servers) find it too
    return url


def drop_space(url: str, space: str) -> None:
    """Remove every generation of a test's space and of the spaces beside it (``SPACE/name``)."""
    from search.pg import generations
    from search.pg.connection import Database

    db = Database(url)
    try:
        with db.primary() as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM generations WHERE space = %s OR starts_with(space, %s || '/')",
                    (space, space),
                )
            ]
        for name in names:
            generations.drop(db, name)
    finally:
        db.close()


@pytest.fixture(scope="module")
def fresh_database(database_url: str) -> Iterator[str]:
    """A database of its own for one test module (its jobs queue is its own too), dropped afterwards."""
    import psycopg

    name = f"test_{secrets.token_hex(5)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield psycopg.conninfo.make_conninfo(database_url, dbname=name)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_place(database_url: str, tmp_path: Path) -> Iterator[Place]:
    """A place of its own in the test database (a unique space), removed afterwards."""
    place = Place(tmp_path / "data", database_url, space=f"test_{secrets.token_hex(6)}")
    yield place
    drop_space(database_url, place.space)
