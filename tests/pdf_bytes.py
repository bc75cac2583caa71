"""Small PDFs written byte by byte, for tests that need a PDF with one precise property."""

from __future__ import annotations

import zlib

# the one PDF assembler: the load bench's hostile PDF is built by it too
from api.evaluation.load_hostile import assemble_pdf as assemble


def pdf_with_content(content: bytes, *, compress: bool = True, pages: int = 1) -> bytes:
    """A PDF of `pages` pages that all draw the same content stream with Helvetica as /F1."""
    body = zlib.compress(content, 9) if compress else content
    stream_filter = b"/Filter /FlateDecode " if compress else b""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + n) for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    contents = first_page + pages
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % contents
    ] * pages
    objects.append(b"<< %s/Length %d >>\nstream\n%s\nendstream" % (stream_filter, len(body), body))
    return assemble(objects)


def text_page(lines: list[str]) -> bytes:
    """A content stream that writes each line in Helvetica, top to bottom."""
    shown = b" ".join(b"(%s) Tj 0 -14 Td" % line.encode("latin-1") for line in lines)
    return b"BT /F1 12 Tf 72 780 Td " + shown + b" ET"


def stalling_content(megabytes: float) -> bytes:
    """A text stream of `megabytes` of tiny show-text operations: pypdf needs ~6 s a MB on it."""
    return b"BT /F1 12 Tf 72 700 Td " + b"(ab) Tj 0 -1 Td " * int(megabytes * 1_000_000 / 16) + b"ET"
