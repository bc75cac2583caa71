"""Connections to PostgreSQL: a pool to the primary (writes) and one to a read replica (searches).

Every use goes through ``Database.write()`` or ``Database.read()``: a lost or refused connection
becomes ``DatabaseUnavailable`` (HTTP 503, exit code 8), and a write is one transaction that lands
whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from search.errors import DatabaseUnavailable
from search.pg.migrate import migrate

CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 15.0


def _describe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured database"
    return f"postgresql://{info.get('user', '')}@{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname', '')}"


def unavailable(url: str, exc: BaseException) -> DatabaseUnavailable:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(
        f"database {_describe(url)} is unreachable ({first}); check that PostgreSQL runs "
        "(`make postgres` starts a local one) and SCHUTTING_DATABASE_URL"
    )


def _configure(conn: psycopg.Connection) -> None:
    register_vector(conn)
    # Searches are short; a plan whose cost estimate passes jit_above_cost (an exact vector scan,
    # find-similar's profile scan) spent 50-300 ms compiling before it ran.
    conn.execute("SET jit = off")


class Database:
    """Pools for one database; ``read_url`` (a streaming replica) serves searches when set."""

    def __init__(self, url: str, read_url: str = "", max_size: int = 4) -> None:
        self.url = url
        self.read_url = read_url or url
        self._ensure_schema()
        self._write = self._pool(url, max_size)
        self._read = self._pool(self.read_url, max_size) if self.read_url != url else self._write

    def _ensure_schema(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                migrate(conn)
        except psycopg.OperationalError as exc:
            raise unavailable(self.url, exc) from exc

    def _pool(self, url: str, max_size: int) -> ConnectionPool:
        return ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            timeout=POOL_TIMEOUT_S,
            open=True,
            name="schutting",
        )

    @contextmanager
    def write(self) -> Iterator[psycopg.Connection]:
        """A primary connection inside one transaction (committed on leaving, rolled back on error)."""
        with self._connection(self._write, self.url) as conn, conn.transaction():
            yield conn

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection]:
        """A connection for searches: the replica when one is configured."""
        with self._connection(self._read, self.read_url) as conn:
            yield conn

    @contextmanager
    def primary(self) -> Iterator[psycopg.Connection]:
        """A primary connection in autocommit (reads that must see the latest writes)."""
        with self._connection(self._write, self.url) as conn:
            yield conn

    @contextmanager
    def _connection(self, pool: ConnectionPool, url: str) -> Iterator[psycopg.Connection]:
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise unavailable(url, exc) from exc
        except psycopg.OperationalError as exc:
            raise unavailable(url, exc) from exc

    def close(self) -> None:
        self._write.close()
        if self._read is not self._write:
            self._read.close()
