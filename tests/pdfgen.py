"""Minimal PDF writer for tests and benchmarks: text pages in Helvetica (one or two columns), a page
with only a drawn image-like rectangle (no text layer), so no third-party PDF is committed."""
from __future__ import annotations

import textwrap
import zlib

PAGE_W, PAGE_H = 612, 792
LINE = 12
TOP, BOTTOM = 740, 60


def _escape(text: str) -> bytes:
    data = text.encode("cp1252", "replace")
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _layout(paragraphs: list[str], columns: int) -> list[list[tuple[float, float, str]]]:
    """(x, y, line) per page: paragraphs wrapped to the column width, flowing down then across."""
    width = 95 if columns == 1 else 46
    xs = [50.0] if columns == 1 else [50.0, 320.0]
    lines: list[str] = []
    for para in paragraphs:
        lines.extend(textwrap.wrap(para, width) or [""])
        lines.append("")
    pages: list[list[tuple[float, float, str]]] = []
    page: list[tuple[float, float, str]] = []
    col, y = 0, TOP
    for line in lines:
        if y < BOTTOM:
            col += 1
            y = TOP
            if col == len(xs):
                pages.append(page)
                page, col = [], 0
        if line:
            page.append((xs[col], y, line))
        y -= LINE
    pages.append(page)
    return pages


def make_pdf(paragraphs: list[str] | None = None, columns: int = 1, title: str | None = None,
             text_layer: bool = True, compress: bool = True) -> bytes:
    """A valid PDF of the paragraphs; text_layer=False draws grey boxes instead (a 'scan')."""
    pages = _layout(paragraphs or [""], columns)
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for page in pages:
        if text_layer:
            ops = [b"BT /F1 10 Tf"]
            for x, y, line in page:
                ops.append(b"1 0 0 1 %.1f %.1f Tm (" % (x, y) + _escape(line) + b") Tj")
            ops.append(b"ET")
        else:
            ops = [b"0.6 g"] + [b"%.1f %.1f 250 9 re f" % (x, y) for x, y, _ in page]
        stream = b"\n".join(ops)
        if compress:
            stream = zlib.compress(stream)
            content = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
        else:
            content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, PAGE_W, PAGE_H, content, font)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                             + b"] /Count %d >>" % len(kids))
    info = add(b"<< /Title (" + _escape(title) + b") /Producer (casebook-qa tests) >>") if title else None
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        out += b" /Info %d 0 R" % info
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def report_paragraphs(text: str) -> list[str]:
    """A plain-text report as paragraphs for make_pdf: blocks split at blank lines, a short first line
    without a full stop (a heading) kept as its own paragraph."""
    out: list[str] = []
    for block in text.split("\n\n"):
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        if len(lines) > 1 and len(lines[0]) < 40 and not lines[0].endswith("."):
            out.append(lines.pop(0))
        out.append(" ".join(lines))
    return out
