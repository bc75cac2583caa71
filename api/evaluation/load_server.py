"""A real `schutting serve` subprocess for the load bench: 127.0.0.1, a free port, an admin token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

START_SECONDS = 120  # the server answers /health within this, or the bench stops


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(
    data_dir: Path, token: str, model: str, log: Path, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """Serve ``data_dir`` until the block ends; yields the base URL. The server's output goes to ``log``;
    ``settings`` are more SCHUTTING_* variables for it."""
    port = free_port()
    env = {
        **os.environ,
        "SCHUTTING_ADMIN_TOKEN": token,
        "SCHUTTING_MODEL": model,
        "SCHUTTING_INGEST_ROOTS": "",
        **(settings or {}),
    }
    command = [sys.executable, "-m", "api.cli", "--data-dir", str(data_dir), "serve",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_healthy(base, process, log)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"schutting serve exited with {process.returncode}: {_tail(log)}")
        try:
            if httpx.get(f"{base}/health", timeout=2, trust_env=False).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"schutting serve did not answer /health within {START_SECONDS} s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-2000:]
