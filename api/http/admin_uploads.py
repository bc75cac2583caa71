"""Files uploaded for an admin ingest job, checked at the edge before anything is parsed.

Size (declared and while copying), file type and a PDF's page count are checked; a file over a
limit refuses the whole request with 413 and nothing is kept. Damaged or non-PDF content is not
refused here: the job reads each file and records why one cannot be read, and the batch goes on.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.errors import with_melding
from api.settings import Settings
from api.uploads import ALLOWED_SUFFIXES, safe_name, too_large
from search.errors import InvalidInput, TooLarge

MAX_FILES = 200  # per upload request
COPY_BLOCK = 1024 * 1024


async def save_uploads(request: Request, settings: Settings) -> tuple[Path, dict[str, str]]:
    """Save a multipart request's files in a new folder under data_dir/uploads/, after the edge checks
    (size, type, page count); returns that folder and the request's text fields. Nothing stays on error."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_upload_bytes * MAX_FILES:
        raise with_melding(
            TooLarge(
                f"upload of {int(declared)} bytes exceeds {MAX_FILES} files of {settings.max_upload_bytes}"
            ),
            f"Dit zijn te veel gegevens in één keer: hoogstens {MAX_FILES} bestanden van elk "
            f"{settings.max_upload_bytes // (1024 * 1024)} MB.",
        )
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex[:12]
    form = await request.form(max_files=MAX_FILES)
    try:
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            raise InvalidInput("no files: send multipart/form-data with one or more `files` fields")
        folder.mkdir(parents=True)
        for upload in files:
            await run_in_threadpool(_save_checked, upload, folder, settings)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        await form.close()
    return folder, fields


def _save_checked(upload: UploadFile, folder: Path, settings: Settings) -> None:
    _check_pages(_save(upload, folder, settings.max_upload_bytes), settings.max_pages)


def _save(upload: UploadFile, folder: Path, max_bytes: int) -> Path:
    name = safe_name(upload.filename)
    if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
        raise InvalidInput(f"{name}: unsupported file type; allowed: {', '.join(ALLOWED_SUFFIXES)}")
    path = folder / name
    if path.exists():
        path = folder / f"{path.stem}-{uuid.uuid4().hex[:6]}{path.suffix}"
    size = 0
    with path.open("wb") as out:
        while block := upload.file.read(COPY_BLOCK):
            size += len(block)
            if size > max_bytes:
                raise too_large(name, max_bytes)
            out.write(block)
    return path


def _check_pages(path: Path, max_pages: int) -> None:
    """Refuse a PDF over the page limit before any text is extracted; damaged ones are left to the job."""
    if path.suffix.lower() != ".pdf":
        return
    from pypdf import PdfReader

    try:
        pages = len(PdfReader(path).pages)
    except Exception:  # damaged or encrypted: the job records why it cannot be read
        return
    if pages > max_pages:
        raise with_melding(
            TooLarge(
                f"{path.name}: {pages} pages, over the limit of {max_pages}; split it into smaller PDFs"
            ),
            f"{path.name} heeft {pages} pagina's; een PDF mag hoogstens {max_pages} pagina's hebben. "
            "Splits het bestand in kleinere PDF's.",
        )
