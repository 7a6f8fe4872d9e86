"""Text of a PDF case report, with pypdf (measured against pdfminer.six: benchmarks/README.md, "PDF").

Pages are joined by a blank line, so the cleaner (clean.py) sees each page break as a block break and
rejoins a sentence that runs across pages; hyphenation, ligatures and running heads are the cleaner's
job too. A PDF whose pages carry no text (a scan) is refused: there is no OCR here.
"""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from .store import MAX_REPORT_BYTES, CorpusError, printable_title

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 64 * 1024 * 1024
# A PDF with fewer letters or digits than this in all its pages has no usable text layer.
MIN_TEXT_CHARS = 20
_ALNUM = re.compile(r"[^\W_]")
_FILE_NAME_TITLE = re.compile(r"\.(docx?|pdf|tex|rtf|odt|indd)\b|^Microsoft Word", re.IGNORECASE)


class PdfError(CorpusError):
    """A PDF that gives no report text; `code` is "invalid_pdf" or "no_text_layer"."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PdfText:
    text: str
    title: str | None  # the document's metadata title, when it looks like one
    pages: int


def is_pdf(data: bytes) -> bool:
    # The header may follow up to 1 KB of junk (the PDF reference allows it, readers accept it).
    return b"%PDF-" in data[:1024]


def pdf_text(data: bytes) -> PdfText:
    """The text layer of a PDF's pages. PdfError("invalid_pdf") for bytes that are not a readable PDF
    (or an encrypted one), PdfError("no_text_layer") for a PDF without text (scanned pages)."""
    if len(data) > MAX_PDF_BYTES:
        raise PdfError("invalid_pdf", f"the PDF is too large ({len(data):,} bytes; at most {MAX_PDF_BYTES:,})")
    if not is_pdf(data):
        raise PdfError("invalid_pdf", "not a PDF file (no %PDF- header)")
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its per-object warnings on sloppy files are noise
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfError("invalid_pdf", "the PDF is encrypted (a password is needed to read it)")
        pages = list(reader.pages)
    except PdfError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files; any of them means "unreadable"
        raise PdfError("invalid_pdf", f"not a readable PDF ({type(exc).__name__})") from exc
    texts: list[str] = []
    failed = 0
    size = 0
    for page in pages:
        try:
            text = page.extract_text() or ""
        except Exception:  # one damaged page must not lose the others
            failed += 1
            continue
        texts.append(text)
        size += len(text)
        if size > MAX_REPORT_BYTES:
            raise PdfError("invalid_pdf", f"the PDF's text is too large (more than {MAX_REPORT_BYTES:,} characters)")
    text = "\n\n".join(t.strip("\n") for t in texts)
    if not _has_text(text):
        if failed and failed == len(pages):
            raise PdfError("invalid_pdf", "no page of the PDF could be read")
        raise PdfError("no_text_layer", "the PDF has no text layer (scanned pages?); OCR is not supported")
    if failed:
        log.warning("%d of %d PDF pages could not be read and were left out", failed, len(pages))
    return PdfText(text, _metadata_title(reader), len(pages))


def _has_text(text: str) -> bool:
    for n, _ in enumerate(_ALNUM.finditer(text), 1):
        if n >= MIN_TEXT_CHARS:
            return True
    return False


def _metadata_title(reader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    title = printable_title(title, 300)
    # A file name or a one-word label ("untitled", "Microsoft Word - x.doc") is not a report's title.
    if title is None or len(title) < 3 or " " not in title or _FILE_NAME_TITLE.search(title):
        return None
    return title
