"""Load the corpus folder's .txt reports into cleaned, sectioned Documents; read JSONL rows for import."""
from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator

from ..text.clean import clean
from ..domain import Document, Sentence
from ..text.passages import split_sentences
from ..text.sections import guess_title, split_sections


log = logging.getLogger(__name__)

# A report (a .txt file, a JSONL row, or its decoded text) larger than this is refused with a
# per-report error instead of being read: it is not a case report, and the build stays bounded.
MAX_REPORT_BYTES = 16 * 1024 * 1024
# Text whose share of control characters (other than tab, line and page breaks) is above this is
# binary data, not a report.
MAX_CONTROL_SHARE = 0.05


@dataclass(frozen=True)
class LoadError:
    source: str
    message: str
    doc_id: str | None = None  # the report's id when it is known (file stem, JSONL 'id')

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"

    def to_dict(self) -> dict:
        """As listed in the index metadata and /api/health: {id, path, error}."""
        return {"id": self.doc_id, "path": self.source, "error": self.message}


class CorpusError(ValueError):
    """A report that cannot be read or parsed; the message names it."""


_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def title_from_filename(path: Path) -> str:
    words = path.stem.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else path.name


def build_document(doc_id: str, raw: str, title: str | None = None, source: str = "",
                   is_word: Callable[[str], bool] | None = None, fallback_title: str | None = None) -> Document:
    """Clean, section and sentence-split one report. CorpusError (naming the report) for text that
    cannot make a document: empty, too large, binary data, or no words left after cleaning."""
    where = source or doc_id
    if not raw.strip():
        raise CorpusError(f"{where}: the report is empty")
    if len(raw) > MAX_REPORT_BYTES:
        raise CorpusError(f"{where}: the report is too large ({len(raw):,} characters; "
                          f"at most {MAX_REPORT_BYTES:,})")
    share = control_share(raw)
    if share > MAX_CONTROL_SHARE:
        raise CorpusError(f"{where}: binary data, not text ({share:.0%} control characters)")
    if not is_encodable(raw):  # lone surrogates (from JSON escapes): one replacement character each
        raw = raw.encode("utf-8", "replace").decode("utf-8")
    ct = clean(raw, is_word)
    if not _ALNUM.search(ct.text):
        raise CorpusError(f"{where}: the report has no words after cleaning")
    sections = split_sections(ct.text)
    sentences = []
    for s in split_sentences(ct.text, sections):
        rs, re_ = ct.raw_span(s.start, s.end)
        sentences.append(Sentence(s.start, s.end, s.section, s.paragraph, rs, re_))
    return Document(
        id=doc_id,
        title=(title or "").strip() or guess_title(raw, fallback_title or doc_id),
        text=ct.text,
        sections=tuple(sections),
        sentences=tuple(sentences),
        source=source,
    )


_ALNUM = re.compile(r"[^\W_]")
_CONTROLS = "".join(map(chr, [*range(0, 9), 11, *range(14, 32), 127]))
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def control_share(text: str) -> float:
    """Share of control characters (not tab, line or page breaks) in text: binary data scores high."""
    if not text:
        return 0.0
    return sum(text.count(c) for c in _CONTROLS) / len(text)


def is_encodable(text: str) -> bool:
    """Whether text encodes as UTF-8 (no lone surrogates, which JSON escapes can carry)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def decode_report(data: bytes, where: str = "report") -> str:
    """The text of a report file's bytes. UTF-8 (with or without a BOM); UTF-16 / UTF-32 with a BOM,
    or UTF-16 without one when every other byte is NUL; anything else that is not UTF-8 is read as
    Windows-1252 (the usual encoding of such files; every byte decodes) with a logged warning.
    CorpusError for bytes that are binary data rather than text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{where}: invalid {encoding.upper()} text (bad bytes at offset "
                                  f"{exc.start + len(bom)})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if b"\0" in data and len(data) >= 2:
        sample = data[:65536]
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        half = len(sample) // 2
        for zeros, encoding in ((odd, "utf-16-le"), (even, "utf-16-be")):
            if zeros >= 0.3 * half and len(data) % 2 == 0:  # ASCII-heavy UTF-16 without a BOM
                try:
                    text = data.decode(encoding)
                except UnicodeDecodeError:
                    continue
                log.warning("%s: no byte-order mark; read as %s", where, encoding.upper())
                return text
        raise CorpusError(f"{where}: binary data, not text (NUL bytes and invalid UTF-8 at offset "
                          f"{utf8_error.start})")
    # Windows-1252 leaves five bytes undefined; those (rare) fall back to Latin-1's control characters.
    text = data.decode("cp1252", errors=_LATIN1_FALLBACK)
    log.warning("%s: not UTF-8 (invalid byte at offset %d); read as Windows-1252", where, utf8_error.start)
    return text


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)  # registered for decoding only
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


_LATIN1_FALLBACK = "casebook-latin1-fallback"
codecs.register_error(_LATIN1_FALLBACK, _latin1_fallback)


def read_text_file(path: Path) -> str:
    """The text of a report file (see decode_report); CorpusError naming the file when it cannot be read."""
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise CorpusError(f"{path}: the file is too large ({size:,} bytes; at most {MAX_REPORT_BYTES:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return decode_report(data, str(path))


def jsonl_text(row: dict) -> str:
    """A JSONL row's text: `text`, or `sections: [{name, text}]` joined with their headings."""
    if isinstance(row.get("text"), str):
        return row["text"]
    sections = row.get("sections")
    if isinstance(sections, list):
        parts = []
        for sec in sections:
            if isinstance(sec, dict) and isinstance(sec.get("text"), str):
                name = str(sec.get("name") or "").strip()
                parts.append(f"{name.title()}\n{sec['text']}" if name else sec["text"])
        return "\n\n".join(parts)
    raise CorpusError("row has neither 'text' (string) nor 'sections' (list)")


def _jsonl_lines(handle, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) per line of a binary file; None for a line longer than `limit` bytes,
    which is skipped without being held in memory."""
    n = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        n += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # skip to the end of this line
                chunk = handle.readline(1 << 20)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield n, None
            continue
        yield n, line


def _row_id(row: dict) -> str | None:
    """A row's 'id' as given (str or int), stripped; None when absent or empty. Whether it can name a
    file is the importer's business: an id that cannot keeps its original in the sidecar."""
    value = row.get("id")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CorpusError("'id' must be a string or an integer")
    doc_id = str(value).strip()
    return doc_id or None


def iter_jsonl(path: Path) -> Iterator[tuple[str | None, str, str | None, int] | LoadError]:
    """(id or None, text, title, row number) per row of a JSONL file, or a LoadError for a bad row. A
    bad row (invalid JSON or UTF-8, nested too deeply, too large, missing text) never stops the others."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield LoadError(str(path), f"cannot be read ({exc.strerror or exc})")
        return
    with handle:
        for n, line in _jsonl_lines(handle, MAX_REPORT_BYTES):
            where = f"{path}:{n}"
            if line is None:
                yield LoadError(where, f"row is too large (more than {MAX_REPORT_BYTES:,} bytes)")
                continue
            if not line.strip():
                continue
            doc_id = None
            try:
                row = json.loads(line.decode("utf-8"))
                if not isinstance(row, dict):
                    raise CorpusError("row is not a JSON object")
                doc_id = _row_id(row)
                text = jsonl_text(row)
            except UnicodeDecodeError as exc:
                yield LoadError(where, f"not UTF-8 text (invalid byte at offset {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield LoadError(where, f"invalid JSON ({exc.msg})")
                continue
            except RecursionError:
                yield LoadError(where, "invalid JSON (nested too deeply)")
                continue
            except CorpusError as exc:
                yield LoadError(where, str(exc), doc_id)
                continue
            title = row.get("title") if isinstance(row.get("title"), str) else None
            if title is not None and (len(title) > 1000 or not is_encodable(title)):
                title = None
            yield doc_id, text, title, n


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in corpus_dir.glob("*.txt") if p.is_file()) if corpus_dir.is_dir() else []


def printable_title(title: object, max_chars: int) -> str | None:
    """`title` with its whitespace collapsed, or None when it is not a string, is empty, longer than
    `max_chars`, or holds control or unencodable characters."""
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    if not title or len(title) > max_chars or not title.isprintable():
        return None
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return title


def hash_file(h, path: Path) -> None:
    """Feed a file's bytes to the hash `h` in 1 MiB blocks (a huge file is never held in memory);
    an unreadable file hashes as a marker."""
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        h.update(b"<unreadable>")


def _message(exc: CorpusError, where: str) -> str:
    text = str(exc)
    return text[len(where) + 2:] if text.startswith(where + ": ") else text


def load_corpus(corpus_dir: Path, is_word: Callable[[str], bool] | None = None,
                progress: Callable[[Iterable], Iterable] | None = None) -> tuple[list[Document], list[LoadError]]:
    """Every readable report of the corpus folder (JSONL and PDF files come in through `qa-service
    import`, which stores their reports there); each one that cannot be read or built becomes a
    LoadError (with its id and path) and the rest still load. Files are read one at a time."""
    items = corpus_files(corpus_dir)
    docs: list[Document] = []
    errors: list[LoadError] = []
    seen: set[str] = set()
    for item in (progress(items) if progress else items):
        doc_id, source, fallback = item.stem, str(item), title_from_filename(item)
        try:
            text = read_text_file(item)
        except CorpusError as exc:
            errors.append(LoadError(source, _message(exc, source), doc_id))
            continue
        if doc_id in seen:
            errors.append(LoadError(source, f"duplicate document id {doc_id!r} skipped", doc_id))
            continue
        try:
            doc = build_document(doc_id, text, None, source, is_word, fallback)
        except CorpusError as exc:
            errors.append(LoadError(source, _message(exc, source), doc_id))
            continue
        except (RecursionError, MemoryError, ValueError, IndexError, KeyError, TypeError) as exc:
            # A bug a strange report triggers must not stop the others: record it and go on.
            log.exception("%s: failed to build the report", source)
            errors.append(LoadError(source, f"could not be processed ({type(exc).__name__})", doc_id))
            continue
        seen.add(doc_id)
        docs.append(doc)
    return docs, errors


# ---------------------------------------------------------------- stored reports (ingest)
#
# The corpus folder is the one store of reports. A report is `<corpus>/<id>.txt` (its text, UTF-8:
# as sent to the API, as decoded from an imported file or JSONL row, or as extracted from a PDF)
# and, when it came through `qa-service import` or the API, `<corpus>/<id>.meta.json`, a sidecar:
# {"title"?, "source": {"kind": "import"|"api", "file"?, "path"?, "row"?, "format"}, "added": UTC ISO
# time, "original_id"?, "sha256": of the .txt bytes}. A .txt dropped in by hand has no sidecar.
# The loaders read only *.txt, so sidecars and `.`-prefixed temp files never become documents.

DOC_ID_MAX = 200
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(www\.)?")
SIDECAR_SUFFIX = ".meta.json"


def valid_doc_id(doc_id: object) -> bool:
    """An id that is a plain file stem: ASCII letters, digits, '.', '_', '-'; starts with a letter or
    digit (so never '.', '..' or a hidden file); no slashes or control characters; at most 200 chars."""
    return (isinstance(doc_id, str) and 0 < len(doc_id) <= DOC_ID_MAX
            and _DOC_ID.fullmatch(doc_id) is not None)


def safe_id(raw: str) -> str:
    """An id that names a file, for one that cannot (a URL, spaces, non-ASCII, too long): an ASCII slug
    of it plus 8 hex digits of its hash. Deterministic, so the original id still finds the report."""
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    ascii_ = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    ascii_ = _URL_SCHEME.sub("", ascii_.strip())
    slug = _SLUG.sub("-", ascii_).strip("-._").lower()[:60].strip("-._")
    return f"{slug}-{digest}" if slug else f"id-{digest}"


def resolve_doc_id(known: Collection[str], doc_id: str) -> str:
    """`doc_id` if known, else the id an import gave it (safe_id) when that is known, else `doc_id`:
    a report imported under a URL id is found by its original id too."""
    if doc_id in known or valid_doc_id(doc_id):
        return doc_id
    alias = safe_id(doc_id)
    return alias if alias in known else doc_id


def report_path(corpus_dir: Path, doc_id: str) -> Path:
    if not valid_doc_id(doc_id):
        raise CorpusError(f"{doc_id!r} is not a valid document id")
    return corpus_dir / f"{doc_id}.txt"


def sidecar_path(corpus_dir: Path, doc_id: str) -> Path:
    return corpus_dir / f"{doc_id}{SIDECAR_SUFFIX}"


def read_sidecar(report: Path) -> dict:
    """A report's sidecar ({title?, source?, added?, original_id?, sha256?}), or {} when it has none
    or it is unreadable."""
    try:
        data = json.loads((report.parent / f"{report.stem}{SIDECAR_SUFFIX}").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def sidecar_title(report: Path) -> str | None:
    """The title kept in a report's sidecar, or None (no sidecar, unreadable, or no title)."""
    title = read_sidecar(report).get("title")
    return title if isinstance(title, str) and title.strip() else None

