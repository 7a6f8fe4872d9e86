"""`qa-service import FILE_OR_FOLDER…`: add .txt, .jsonl and .pdf reports to the corpus folder.

Every report is read, checked as the index build will read it (ingest.check_report), and stored by
ingest.store_report, the function POST /api/documents uses: the text as `<id>.txt`, and a sidecar
with its title, where it came from (file, JSONL row) and when it was added. One bad report (or row,
or file) becomes one entry of the error list and the others are still imported. The whole import
holds the writer lock, so it never interleaves with an API write or an index build.

Ids: a file's stem, a JSONL row's `id` (or `<file stem>-<row>` without one); an id that cannot name
a file (spaces, slashes, non-ASCII, too long) becomes a slug plus 8 hex digits of its hash, and the
original is kept in the sidecar. Ids are unique case-insensitively. An id already in the corpus is
skipped as a duplicate (reported), unless --replace; the same text again is "unchanged".
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..config import Settings
from ..corpus.store import (SIDECAR_SUFFIX, CorpusError, LoadError, corpus_files, iter_jsonl, printable_title, read_sidecar, read_text_file,
                     report_path, safe_id, valid_doc_id)
from .ingest import IngestError, check_report, clean_corpus_temp, make_sidecar, store_reports
from ..corpus.pdf import MAX_PDF_BYTES, PdfError, pdf_text

log = logging.getLogger(__name__)

FORMATS = {".txt": "txt", ".jsonl": "jsonl", ".pdf": "pdf"}
# Reports are stored in batches of at most this many (or BATCH_BYTES of text): ingest.store_reports
# fsyncs a batch's files together, then renames them, so a crash never leaves a partial report,
# only fewer of them.
BATCH_REPORTS = 128
BATCH_BYTES = 32 * 1024 * 1024
MAX_TITLE_CHARS = 500


@dataclass(frozen=True)
class Problem:
    """A report (or file, or row) that was not imported, and why."""
    where: str  # path, or path:row for JSONL
    message: str
    doc_id: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" + (f" (id {self.doc_id})" if self.doc_id else "")


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[Problem] = field(default_factory=list)  # skipped: the id is taken (no --replace)
    errors: list[Problem] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # files in folders that are not .txt/.jsonl/.pdf
    renamed: dict[str, str] = field(default_factory=dict)  # original id -> id given
    seconds: float = 0.0

    @property
    def stored(self) -> int:
        return len(self.added) + len(self.replaced)

    @property
    def exit_code(self) -> int:
        """0 unless reports failed and none was stored (duplicates and unchanged reports are no failure)."""
        return 1 if self.errors and not self.stored else 0


@dataclass(frozen=True)
class _Report:
    doc_id: str
    text: str
    title: str | None
    source: dict
    where: str
    original_id: str | None = None


def _clean_title(title: str | None) -> str | None:
    return printable_title(title, MAX_TITLE_CHARS)


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(files to import, files ignored) for the given files and folders (folders recursively, hidden
    entries skipped, in name order). FileNotFoundError names a path that does not exist."""
    files: list[Path] = []
    ignored: list[Path] = []
    for p in paths:
        if p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    f = Path(root) / name
                    if name.startswith(".") or name.endswith(SIDECAR_SUFFIX):  # e.g. importing a corpus folder
                        continue
                    (files if f.suffix.lower() in FORMATS else ignored).append(f)
        elif p.exists():
            files.append(p)  # a file named explicitly: an unsupported type is a per-file error
        else:
            raise FileNotFoundError(str(p))
    return files, ignored


def _reports(path: Path) -> Iterator[_Report | Problem]:
    """The reports of one input file, or a Problem per file or row that gives none."""
    fmt = FORMATS.get(path.suffix.lower())
    name = path.name
    base = {"kind": "import", "file": name, "path": str(path.resolve()), "format": fmt}
    if fmt is None:
        yield Problem(str(path), f"unsupported file type {path.suffix or '(none)'!r}; import .txt, .jsonl or .pdf")
        return
    if fmt == "jsonl":
        for item in iter_jsonl(path):
            if isinstance(item, LoadError):
                yield Problem(item.source, item.message, item.doc_id)
                continue
            raw_id, text, title, row = item
            raw_id = raw_id or f"{path.stem}-{row}"
            yield _named(raw_id, text, _clean_title(title), dict(base, row=row), f"{path}:{row}")
        return
    stem = path.stem
    try:
        if fmt == "txt":
            text, title = read_text_file(path), None
        else:
            size = path.stat().st_size
            if size > MAX_PDF_BYTES:
                raise PdfError("invalid_pdf", f"the PDF is too large ({size:,} bytes; at most {MAX_PDF_BYTES:,})")
            extracted = pdf_text(path.read_bytes())
            text, title = extracted.text, extracted.title
    except PdfError as exc:
        yield Problem(str(path), f"{exc} [{exc.code}]")
        return
    except CorpusError as exc:
        yield Problem(str(path), str(exc).removeprefix(f"{path}: "))
        return
    except OSError as exc:
        yield Problem(str(path), f"cannot be read ({exc.strerror or exc})")
        return
    yield _named(stem, text, title, base, str(path))


def _named(raw_id: str, text: str, title: str | None, source: dict, where: str) -> _Report:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (JSON escapes): one replacement character each, as the loader did
        text = text.encode("utf-8", "replace").decode("utf-8")
    if valid_doc_id(raw_id):
        return _Report(raw_id, text, title, source, where)
    return _Report(safe_id(raw_id), text, title, source, where, original_id=raw_id)


def _existing(corpus: Path) -> dict[str, str]:
    """casefolded id -> id of every report in the corpus (read once: checking each report against the
    folder listing would make a large import quadratic)."""
    return {p.stem.casefold(): p.stem for p in corpus_files(corpus)}


def _same(corpus: Path, doc_id: str, data: bytes, title: str | None) -> bool:
    try:
        if report_path(corpus, doc_id).read_bytes() != data:
            return False
    except OSError:
        return False
    return (read_sidecar(report_path(corpus, doc_id)).get("title") or None) == title


def import_paths(settings: Settings, paths: Iterable[Path], replace: bool = False,
                 progress: Callable[[Iterable], Iterable] | None = None) -> ImportResult:
    """Import every report of `paths` (files or folders) into settings.corpus_dir; see the module doc.
    FileNotFoundError (before anything is stored) when a path does not exist."""
    from .locking import writer_lock

    t0 = time.perf_counter()
    files, ignored = collect([Path(p) for p in paths])
    result = ImportResult(ignored=ignored)
    corpus = settings.corpus_dir
    corpus.mkdir(parents=True, exist_ok=True)
    with writer_lock(settings):
        # Under the lock no other writer is running, so any temp file is an interrupted write's.
        clean_corpus_temp(corpus)
        existing = _existing(corpus)
        seen: dict[str, str] = {}  # casefolded id -> where this import took it
        batch = _Batch(corpus, result)
        items: Iterable = (item for f in files for item in _reports(f))
        for item in (progress(items) if progress else items):
            if isinstance(item, Problem):
                result.errors.append(item)
                continue
            try:
                _import_one(corpus, item, existing, seen, replace, result, batch)
            except (IngestError, CorpusError) as exc:
                result.errors.append(Problem(item.where, getattr(exc, "message", None) or str(exc), item.doc_id))
            except (RecursionError, MemoryError, ValueError, IndexError, KeyError, TypeError) as exc:
                # A bug a strange report triggers must not stop the others: record it and go on.
                log.debug("%s: failed to import", item.where, exc_info=True)
                result.errors.append(Problem(item.where, f"could not be processed ({type(exc).__name__})",
                                             item.doc_id))
        batch.flush()
    result.seconds = time.perf_counter() - t0
    return result


class _Batch:
    """Reports checked and waiting to be stored together (ingest.store_reports)."""

    def __init__(self, corpus: Path, result: ImportResult):
        self.corpus, self.result = corpus, result
        self.items: list[tuple[_Report, dict, bool]] = []  # (report, sidecar, replaces one)
        self.size = 0

    def add(self, r: _Report, sidecar: dict, replaces: bool) -> None:
        self.items.append((r, sidecar, replaces))
        self.size += len(r.text)
        if len(self.items) >= BATCH_REPORTS or self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        items, self.items, self.size = self.items, [], 0
        try:
            store_reports(self.corpus, [(r.doc_id, r.text, side) for r, side, _ in items])
        except OSError as exc:  # e.g. a full disk: these reports are not stored, and say why
            for r, _, _ in items:
                self.result.errors.append(Problem(r.where, f"could not be stored ({exc.strerror or exc})", r.doc_id))
            return
        for r, _, replaces in items:
            (self.result.replaced if replaces else self.result.added).append(r.doc_id)
            if r.original_id is not None:
                self.result.renamed[r.original_id] = r.doc_id


def _import_one(corpus: Path, r: _Report, existing: dict[str, str], seen: dict[str, str], replace: bool,
                result: ImportResult, batch: _Batch) -> None:
    """Queue one report for storing, or record why not."""
    key = r.doc_id.casefold()
    if key in seen:
        result.duplicates.append(Problem(r.where, f"id {r.doc_id!r} is used twice in this import "
                                                  f"(first at {seen[key]}); the first one was kept", r.doc_id))
        return
    data = r.text.encode("utf-8")
    other = existing.get(key)
    if other is not None:
        if other != r.doc_id:
            result.duplicates.append(Problem(r.where, f"id {r.doc_id!r} differs only in case from the corpus's "
                                                      f"{other!r} (ids are compared case-insensitively)", r.doc_id))
            return
        if _same(corpus, r.doc_id, data, r.title):
            seen[key] = r.where
            result.unchanged.append(r.doc_id)
            return
        if not replace:
            seen[key] = r.where
            result.duplicates.append(Problem(r.where, f"id {r.doc_id!r} is already in the corpus with other "
                                                      "content (skipped; --replace overwrites it)", r.doc_id))
            return
    check_report(r.doc_id, r.text, r.title)
    seen[key] = r.where
    existing[key] = r.doc_id
    batch.add(r, make_sidecar(data, r.title, r.source, r.original_id), other is not None)
