"""OCR for PDF pages without a usable text layer: render with pdfium, read with the Tesseract CLI."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from search.errors import SchuttingError

DEFAULT_DPI = 300  # Tesseract reads body text best from about 300 dpi
MAX_PIXELS = 40_000_000  # render large pages (posters, A0 maps) at a lower resolution than DEFAULT_DPI
PAGE_TIMEOUT_S = 180.0
_POINTS_PER_INCH = 72


def tesseract_available(lang: str = "nld") -> bool:
    """True when the tesseract binary and the language data for `lang` ("nld", "nld+eng") are installed."""
    return ocr_missing(lang) is None


def ocr_missing(lang: str = "nld") -> str | None:
    """What is missing for OCR in `lang`, phrased with the command that installs it; None if nothing is."""
    if shutil.which("tesseract") is None:
        return f"OCR is not installed: apt-get install tesseract-ocr {_apt_packages(_languages(lang))}"
    installed = installed_languages()
    missing = [code for code in _languages(lang) if code not in installed]
    if missing:
        names = "+".join(missing)
        return f"the OCR language data for {names} is not installed: apt-get install {_apt_packages(missing)}"
    return None


def installed_languages() -> frozenset[str]:
    """Language codes Tesseract can use, from `tesseract --list-langs`; empty when tesseract is absent."""
    try:
        done = subprocess.run(
            ["tesseract", "--list-langs"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    # The first line is a header ('List of available languages in "...":'), the rest are codes.
    lines = (done.stdout + done.stderr).splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("List of"))


def require_tesseract(lang: str = "nld") -> None:
    """Raise SchuttingError, naming the apt packages to install, when OCR in `lang` is not possible."""
    missing = ocr_missing(lang)
    if missing is not None:
        raise SchuttingError(missing)


def ocr_image(
    image: bytes,
    lang: str = "nld",
    *,
    dpi: int | None = None,
    timeout: float = PAGE_TIMEOUT_S,
) -> str:
    """The text Tesseract reads in an encoded image (PNG, PNM, TIFF, JPEG, ...).

    `dpi` tells Tesseract the resolution when the image format does not carry it (PNM).
    Raises SchuttingError when tesseract or the language data is missing, fails, or times out.
    """
    require_tesseract(lang)
    command = ["tesseract", "stdin", "stdout", "-l", lang]
    if dpi is not None:
        command += ["--dpi", str(dpi)]
    # Tesseract's OpenMP threads make one page about twice as slow on small machines: one thread a page.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            command,
            input=image,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SchuttingError(
            f"OCR took longer than {timeout:.0f} s on one page; the page may be too large"
        ) from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SchuttingError(
            f"tesseract failed (exit {done.returncode}): {detail[-1] if detail else 'no message'}"
        )
    return done.stdout.decode("utf-8", "replace")


def ocr_pdf_page(path: Path, page_index: int, lang: str = "nld", dpi: int = DEFAULT_DPI) -> str:
    """OCR one page (0-based `page_index`) of the PDF at `path`, rendered at `dpi` (less for huge pages)."""
    require_tesseract(lang)  # fail before rendering
    image, used_dpi = render_page(path, page_index, dpi)
    return ocr_image(image, lang, dpi=used_dpi)


_PDFIUM = threading.Lock()  # PDFium is not thread-safe; the web app and jobs share a process


def render_page(path: Path, page_index: int, dpi: int = DEFAULT_DPI) -> tuple[bytes, int]:
    """One PDF page as a greyscale PGM image, and the dpi it was rendered at."""
    with _PDFIUM:
        return _render_page(path, page_index, dpi)


def _render_page(path: Path, page_index: int, dpi: int) -> tuple[bytes, int]:
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise SchuttingError(f"{path}: cannot open the PDF for OCR ({exc})") from exc
    try:
        page = document[page_index]
        width, height = page.get_size()  # in points
        used_dpi = _fitting_dpi(width, height, dpi)
        bitmap = page.render(scale=used_dpi / _POINTS_PER_INCH, grayscale=True)
        pixels = bitmap.to_numpy()
    except (pdfium.PdfiumError, IndexError) as exc:
        raise SchuttingError(f"{path}: cannot render page {page_index + 1} for OCR ({exc})") from exc
    finally:
        document.close()
    return _pgm(pixels), used_dpi


def _fitting_dpi(width_pt: float, height_pt: float, dpi: int) -> int:
    """`dpi`, lowered so that the rendered page stays under MAX_PIXELS."""
    area_in2 = max(width_pt * height_pt, 1.0) / _POINTS_PER_INCH**2
    return max(72, min(dpi, int(math.sqrt(MAX_PIXELS / area_in2))))


def _pgm(pixels: np.ndarray) -> bytes:
    """Encode an 8-bit greyscale array as binary PGM, a format Tesseract (Leptonica) reads from stdin."""
    grey = np.ascontiguousarray(pixels[:, :, 0] if pixels.ndim == 3 else pixels, dtype=np.uint8)
    height, width = grey.shape
    return f"P5\n{width} {height}\n255\n".encode("ascii") + grey.tobytes()


def _languages(lang: str) -> list[str]:
    return [code for code in lang.split("+") if code]


def _apt_packages(codes: list[str]) -> str:
    """Debian package names for Tesseract language codes: nld -> tesseract-ocr-nld."""
    return " ".join(f"tesseract-ocr-{code.replace('_', '-').lower()}" for code in codes)
