"""Uploads checked at the edge: size (before and while reading), type, the %PDF- header."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request, UploadFile

from search.errors import InvalidInput, TooLarge

ALLOWED_SUFFIXES = (".pdf", ".xml", ".txt", ".md", ".yaml", ".yml")


def safe_name(filename: str | None) -> str:
    name = Path(filename or "upload").name
    return re.sub(r"[^\w.\-]+", "_", name)[:120] or "upload"


async def read_upload(
    request: Request, upload: UploadFile, folder: Path, max_bytes: int, pdf_only: bool = False
) -> Path:
    """Write an upload to folder after checking it; returns the file's path."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise TooLarge(f"upload of {int(declared)} bytes exceeds the limit of {max_bytes} bytes")
    name = safe_name(upload.filename)
    suffix = Path(name).suffix.lower()
    if pdf_only and suffix != ".pdf":
        raise InvalidInput(f"{name}: only PDF files can be compared; got {suffix or 'no extension'}")
    if suffix not in ALLOWED_SUFFIXES:
        raise InvalidInput(f"{name}: unsupported file type; allowed: {', '.join(ALLOWED_SUFFIXES)}")
    path = folder / name
    size = 0
    with path.open("wb") as out:
        while block := await upload.read(1024 * 1024):
            size += len(block)
            if size > max_bytes:
                raise TooLarge(f"{name} exceeds the limit of {max_bytes} bytes")
            out.write(block)
    if size == 0:
        raise InvalidInput(f"{name} is empty")
    if suffix == ".pdf" and not path.read_bytes()[:1024].lstrip().startswith(b"%PDF-"):
        raise InvalidInput(f"{name} is not a PDF (no %PDF- header)")
    return path
