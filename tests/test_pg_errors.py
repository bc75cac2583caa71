"""An unreachable database is a clear error at every edge: 503 with a Dutch melding in the API,
exit code 8 in the CLI; no PostgreSQL server is needed to check that."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient

from api.cli.main import main
from api.http import create_app
from api.settings import Settings


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/schutting"  # nothing listens there any more


def test_api_answers_503_with_a_dutch_melding(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=closed_port_url())
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answer = client.get("/search", params={"q": "rioolheffing"})
    assert answer.status_code == 503
    body = answer.json()
    assert body["error"] == "DatabaseUnavailable" and "unreachable" in body["detail"]
    assert body["melding"] == "De database is nu niet bereikbaar. Probeer het later opnieuw."


def test_cli_exits_with_code_8(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["--data-dir", str(tmp_path), "--database-url", closed_port_url(), "search", "rioolheffing"])
    assert code == 8
    assert "make postgres" in capsys.readouterr().err
