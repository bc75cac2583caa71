"""A real PostgreSQL for the tests: $SCHUTTING_TEST_DATABASE_URL, or one started by `make postgres`.

CI (``.ci/run``) starts the server and exports the URL; a root shell starts it here on first
use (installing PostgreSQL 15 and building pgvector once). Without either the PostgreSQL tests
are skipped with one line saying how to run them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.engines import Place

REPO = Path(__file__).resolve().parents[1]
SKIP_REASON = "PostgreSQL engine tests need SCHUTTING_TEST_DATABASE_URL, or root to run `make postgres`"


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
    """Remove every generation of a test's space."""
    from search.pg import generations
    from search.pg.connection import Database

    db = Database(url)
    try:
        with db.primary() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM generations WHERE space = %s", (space,))]
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
