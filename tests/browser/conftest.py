"""A real server on 127.0.0.1 with a small real index, and Debian's headless Chromium driving it.

The index holds the regelrecht regulations and the CVDR samples of ../shared/corpus, embedded
with the fast USE model. Screenshots go to test-artifacts/screenshots/<page>-<width>.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx
import pytest

from tests.conftest import require_system

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ADMIN_TOKEN = "browsertest-beheer-token"
WIDTHS = (1280, 390)


def _schutting() -> str:
    script = Path(sys.executable).parent / "schutting"
    return str(script) if script.exists() else shutil.which("schutting") or "schutting"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regelrecht and CVDR regulations ingested through the real CLI."""
    regelrecht, cvdr = CORPUS / "regelrecht", sorted((CORPUS / "cvdr").glob("CVDR*.xml"))
    if not regelrecht.exists() or not cvdr:
        pytest.skip(f"shared corpus not available under {CORPUS}")
    data = tmp_path_factory.mktemp("browser") / "data"
    env = {**os.environ, "SCHUTTING_MODEL": "use-multilingual", "SCHUTTING_DATA_DIR": str(data)}
    subprocess.run(
        [_schutting(), "ingest", str(regelrecht), *map(str, cvdr)], env=env, check=True, capture_output=True
    )
    return data


@pytest.fixture(scope="session")
def admin_token() -> str:
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def server(data_dir: Path) -> Iterator[str]:
    """`schutting serve` on a free port; yields its base URL and stops it afterwards."""
    port = _free_port()
    env = {**os.environ, "SCHUTTING_MODEL": "use-multilingual", "SCHUTTING_DATA_DIR": str(data_dir),
           "SCHUTTING_ADMIN_TOKEN": ADMIN_TOKEN}  # fmt: skip
    log = (data_dir.parent / "server.log").open("wb")
    process = subprocess.Popen(
        [_schutting(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base, process, data_dir.parent / "server.log")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for_health(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server stopped (exit {process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer /health within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    require_system(CHROMIUM.exists(), "Debian's chromium")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh page on the server; fails the test on a request elsewhere, a broken asset or a JS error."""
    context = browser.new_context(
        base_url=server, viewport={"width": WIDTHS[0], "height": 900}, locale="nl-NL"
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    outside: list[str] = []
    problems: list[str] = []
    tab.on("request", lambda r: None if r.url.startswith((server, "data:")) else outside.append(r.url))
    tab.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and
           r.request.resource_type in ("stylesheet", "script", "image", "font") else None)  # fmt: skip
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" and
           not m.text.startswith("Failed to load resource") else None)  # fmt: skip
    tab.on("pageerror", lambda e: problems.append(str(e)))
    yield tab
    context.close()
    assert not outside, f"requests outside the app (no CDN allowed): {outside}"
    assert not problems, f"broken assets or errors in the browser console: {problems}"


class Shoot(Protocol):
    def __call__(self, tab: Page, name: str) -> None: ...


@pytest.fixture
def shoot() -> Shoot:
    """shoot(page, name): full-page screenshots at 1280 and 390 px wide, for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(tab: Page, name: str) -> None:
        for width in WIDTHS:
            tab.set_viewport_size({"width": width, "height": 900 if width > 600 else 844})
            overflow = tab.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{name} is {overflow} px wide at a {width} px screen"
            tab.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        tab.set_viewport_size({"width": WIDTHS[0], "height": 900})

    return take
