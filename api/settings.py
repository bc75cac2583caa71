"""Server settings: the index settings plus what only the server and its jobs need."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from ingest.sandbox import Budget
from ingest.sources import ReadOptions
from search.config import IndexSettings


class Settings(IndexSettings):
    """Every SCHUTTING_* variable; constructed only by the CLI entry point and ``create_app``."""

    admin_token: str = ""  # empty: admin endpoints are closed
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pages: int = 2000
    ocr: bool = True
    ocr_page_limit: int | None = None
    read_seconds: float = 120.0  # time budget to read one uploaded document (OCR included)
    read_memory_mb: int = 2048  # memory budget of the process reading it
    # keep uploaded originals under data_dir/uploads/, downloadable from the document page
    keep_uploads: bool = True
    ingest_roots: str = ""  # folders the admin may ingest from by path, os.pathsep-separated; "": off
    # PostgreSQL: a job whose node sent no heartbeat for this long (its process died) is interrupted
    job_lease_s: Annotated[float, Field(gt=0)] = 60.0

    def budget(self) -> Budget:
        """What reading one document for a web request or web job may cost."""
        return Budget(seconds=self.read_seconds, memory_bytes=self.read_memory_mb * 1024 * 1024)

    def allowed_roots(self) -> list[Path]:
        """The configured ingest roots, resolved (symlinks and ``..``); empty: path ingest is off."""
        return [Path(r).expanduser().resolve() for r in self.ingest_roots.split(os.pathsep) if r.strip()]

    def read_options(self) -> ReadOptions:
        """How uploaded and server-side files are read under this server's limits."""
        return ReadOptions(
            ocr=self.ocr,
            ocr_page_limit=self.ocr_page_limit,
            max_pages=self.max_pages,
            max_bytes=self.max_upload_bytes,
        )
