"""Uploads checked at the edge: size (before and while reading), type, the %PDF- header."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request, UploadFile

from api.errors import with_melding
from search.errors import InvalidInput, TooLarge

ALLOWED_SUFFIXES = (".pdf", ".xml", ".txt", ".md", ".yaml", ".yml")


MAX_NAME = 120


def safe_name(filename: str | None) -> str:
    """A file name safe to save: no folders, no leading dots (``.hidden.pdf`` -> ``hidden.pdf``,
    ``..pdf`` -> ``upload.pdf``), odd characters replaced, at most 120 characters with the
    extension kept."""
    name = re.sub(r"[^\w.\-]+", "_", Path((filename or "").replace("\\", "/")).name)
    suffix = Path(name).suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", Path(name).suffix) else ""
    if not suffix and re.fullmatch(r"\.[A-Za-z0-9]{1,8}", name):  # ".pdf": a bare extension
        suffix = name
    stem = name[: len(name) - len(suffix)].strip("._ ") or "upload"
    return stem[: MAX_NAME - len(suffix)] + suffix.lower()


async def read_upload(
    request: Request, upload: UploadFile, folder: Path, max_bytes: int, pdf_only: bool = False
) -> Path:
    """Write an upload to folder after checking it; returns the file's path. Every refusal carries a
    Dutch melding that names the problem (and the limit)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise too_large(f"upload of {int(declared):,} bytes", max_bytes)
    name = safe_name(upload.filename)
    suffix = Path(name).suffix.lower()
    if pdf_only and suffix != ".pdf":
        raise with_melding(
            InvalidInput(f"{name}: only PDF files can be compared; got {suffix or 'no extension'}"),
            "Dit is geen PDF. Alleen PDF-bestanden kunnen worden vergeleken; kies een bestand dat eindigt op .pdf.",
        )
    if suffix not in ALLOWED_SUFFIXES:
        raise with_melding(
            InvalidInput(f"{name}: unsupported file type; allowed: {', '.join(ALLOWED_SUFFIXES)}"),
            f"Bestanden van type {suffix or '(zonder extensie)'} worden niet gelezen. "
            f"Toegestaan: {', '.join(ALLOWED_SUFFIXES)}.",
        )
    path = folder / name
    size = 0
    with path.open("wb") as out:
        while block := await upload.read(1024 * 1024):
            size += len(block)
            if size > max_bytes:
                raise too_large(name, max_bytes)
            out.write(block)
    if size == 0:
        raise with_melding(
            InvalidInput(f"{name} is empty"), "Het bestand is leeg (0 bytes). Kies het volledige bestand."
        )
    if suffix == ".pdf" and not path.read_bytes()[:1024].lstrip().startswith(b"%PDF-"):
        raise with_melding(
            InvalidInput(f"{name} is not a PDF (no %PDF- header)"),
            "Dit bestand is geen PDF, ook al eindigt de naam op .pdf. Kies de PDF zelf.",
        )
    return path


def too_large(what: str, max_bytes: int) -> TooLarge:
    """Over the upload limit, with the limit named in English and Dutch."""
    mb = f"{max_bytes / (1024 * 1024):.1f}".removesuffix(".0").replace(".", ",")
    return with_melding(  # type: ignore[return-value]
        TooLarge(f"{what} exceeds the limit of {max_bytes:,} bytes"),
        f"Het bestand is te groot: een bestand mag hoogstens {mb} MB zijn.",
    )
