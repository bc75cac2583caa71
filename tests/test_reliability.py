"""Regression tests for the findings of the reliability probe (issue #10), against a real
`schutting serve` on 127.0.0.1: hostile uploads do not stall the server, path ingest stays inside
its roots, bad uploads get Dutch 4xx answers and leave nothing behind, the token is checked before
a body is read, and public answers never show server paths."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FAST_MODEL, REPO, shared_path
from tests.pdf_bytes import pdf_with_content, stalling_content

TOKEN = "betrouwbaar"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BYTES = 3 * 1024 * 1024

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("betrouwbaar")
    data, allowed = root / "data", root / "toegestaan"
    allowed.mkdir()
    (allowed / "rioolheffing.txt").write_text(
        "Verordening rioolheffing\n\nArtikel 1\nDe gemeente heft rioolheffing.\n"
    )
    env = {**os.environ, "SCHUTTING_DATA_DIR": str(data), "SCHUTTING_MODEL": FAST_MODEL,
           "SCHUTTING_ADMIN_TOKEN": TOKEN, "SCHUTTING_INGEST_ROOTS": str(allowed), "SCHUTTING_OCR": "false",
           "SCHUTTING_MAX_UPLOAD_BYTES": str(MAX_BYTES), "SCHUTTING_READ_SECONDS": "4"}  # fmt: skip
    ingest = subprocess.run([sys.executable, "-m", "api.cli", "ingest", str(REPO / "data" / "demo" / "cvdr")],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        httpx.get(f"{base}/search", params={"q": "rioolheffing"}, timeout=120)  # loads the model once
        yield base, root
    finally:
        proc.terminate()
        proc.wait(30)


def test_hostile_uploads_do_not_stall_health_or_search(server: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = server
    hostile = pdf_with_content(stalling_content(5))  # 18 KB, 5 MB text stream: 30 s of pypdf
    answers: list[httpx.Response] = []

    def upload() -> None:
        files = {"file": ("concept.pdf", hostile, "application/pdf")}
        answers.append(httpx.post(f"{base}/similar", files=files, timeout=120))

    threads = [threading.Thread(target=upload) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    rounds = 0
    while any(t.is_alive() for t in threads):  # the server keeps answering while the uploads run
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        assert httpx.get(f"{base}/search", params={"q": "rioolheffing"}, timeout=10).status_code == 200
        rounds += 1
    for t in threads:
        t.join()
    # Not a latency target (that is `make bench-load`): the 4 s read budget ends them, not pypdf's 30 s+,
    # and searches were answered in between.
    assert time.monotonic() - started < 25 and rounds >= 2
    assert sorted({a.status_code for a in answers}) in ([422], [422, 429], [429])
    for answer in answers:
        body = answer.json()
        assert body["melding"] and "concept.pdf" not in body["melding"] and "/tmp" not in body["detail"]


def test_path_ingest_only_below_the_roots_with_one_answer_for_missing_and_forbidden(
    server: tuple[str, Path],
) -> None:
    base, root = server
    answers = {
        name: httpx.post(f"{base}/admin/ingest", json={"paths": [name]}, headers=AUTH, timeout=30)
        for name in (
            "/etc/X11/rgb.txt",
            "/etc/passwd",
            "/bestaat/niet.txt",
            str(root / "toegestaan" / ".." / "data"),
        )
    }
    assert {a.status_code for a in answers.values()} == {400}
    assert (
        len({a.json()["detail"].split("'", 2)[-1] for a in answers.values()}) == 1
    )  # same words after the name
    assert all(a.json()["melding"] for a in answers.values())
    docs = httpx.get(f"{base}/documents", params={"limit": 1000}, timeout=30).json()["documents"]
    assert not [d for d in docs if "rgb" in d["id"] or "passwd" in d["id"]]
    ok = httpx.post(f"{base}/admin/ingest", json={"path": str(root / "toegestaan")}, headers=AUTH, timeout=30)
    assert ok.status_code == 202
    for _ in range(600):
        job = httpx.get(f"{base}{ok.json()['url']}", headers=AUTH, timeout=30).json()
        if job["state"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert job["state"] == "done" and job["added"] == 1


@pytest.mark.parametrize(
    ("name", "content", "status", "melding"),
    [
        ("leeg.pdf", b"", 400, "leeg"),
        ("notitie.pdf", b"gewone tekst, geen pdf", 400, "geen PDF"),
        ("pagina.pdf", b"<html><body>Niet gevonden</body></html>", 400, "geen PDF"),
        ("pagina.html", b"<html></html>", 400, "niet gelezen"),
        ("a" * 300 + ".txt", b"", 400, "leeg"),
        ("groot.pdf", b"%PDF-1.4\n" + b"0" * (MAX_BYTES + 10), 413, "3 MB"),
    ],
)  # fmt: skip
def test_bad_document_uploads_get_a_dutch_4xx_and_leave_nothing(
    server: tuple[str, Path], name: str, content: bytes, status: int, melding: str
) -> None:
    base, root = server
    answer = httpx.post(f"{base}/documents", files={"file": (name, content)}, headers=AUTH, timeout=60)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) >= {"error", "detail", "melding"} and melding in body["melding"]
    uploads = root / "data" / "uploads"
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]


def test_anonymous_uploads_are_refused_before_the_body_is_read(server: tuple[str, Path]) -> None:
    base, _ = server
    host, port = base.removeprefix("http://").split(":")
    for path, headers in [("/documents", ""), ("/admin/ingest", "Authorization: Bearer fout\r\n")]:
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {150 * 1024 * 1024}\r\n\r\n".encode()
            )  # the body never comes: an answer proves it was not waited for
            head = conn.recv(4096).decode("latin-1")
        assert head.split(" ", 2)[1] in ("401", "403"), head


def test_a_huge_query_is_refused_quickly_in_dutch(server: tuple[str, Path]) -> None:
    base, _ = server
    started = time.monotonic()
    answer = httpx.get(f"{base}/search", params={"q": "rioolheffing " * 700}, timeout=30)
    assert answer.status_code == 400 and "te lang" in answer.json()["melding"]
    assert time.monotonic() - started < 2.0


def test_uploaded_names_keep_their_document_and_no_server_path_is_shown(server: tuple[str, Path]) -> None:
    base, _ = server
    pdf = shared_path("pdf", "besluitenlijst_bw_vergadering_11_oktober_2023.pdf").read_bytes()
    for name in (".verborgen.pdf", "..pdf", "b" * 200 + ".pdf"):
        answer = httpx.post(f"{base}/documents", files={"file": (name, pdf)}, data={"municipality": "Wassenaar"},
                            headers=AUTH, timeout=300)  # fmt: skip
        assert answer.status_code == 201, answer.text
        doc = httpx.get(f"{base}{answer.json()['url']}", timeout=30).json()
        assert doc["source"].endswith(".pdf") and "/" not in doc["source"], doc["source"]
    found = httpx.get(f"{base}/search", params={"q": "besluitenlijst"}, timeout=30).json()["results"]
    assert found and all("/" not in r["source"] or r["source"].startswith("http") for r in found)


def test_unknown_addresses_answer_in_dutch(server: tuple[str, Path]) -> None:
    base, _ = server
    page = httpx.get(f"{base}/bestaat-niet", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 404 and "Pagina niet gevonden" in page.text and "<html" in page.text
    api = httpx.get(f"{base}/bestaat-niet", timeout=30)
    assert api.status_code == 404 and json.loads(api.text)["melding"]
