"""Store reports in the corpus folder (shared by `qa-service import` and the API), and add and remove
reports while the service runs.

Storage (store_reports): a report is `<corpus>/<id>.txt` (its text exactly as sent, UTF-8) plus its
sidecar `<corpus>/<id>.meta.json` ({title?, source, added, original_id?, sha256}, see corpus.py);
both are written atomically (temp file in the same folder, made durable, os.replace, fsync of the
folder), the sidecar first, so the .txt's rename is the moment the report exists. Through the API,
the index then takes the change incrementally (live.py): the one report is indexed into a new delta
segment folder (or its id added to the delta's deleted ids) and models/CURRENT is switched to it
atomically, so readers keep answering from the old index until the switch and no other report is
read again. (`qa-service import` stores many reports, then rebuilds.) Every write runs under the
writer lock (flock on models/.lock), so two workers never write at once.

Crash safety: if the process dies before the report's os.replace, only a `.`-prefixed temp file (and
perhaps its sidecar) is left, which start-up removes (the ingest did not happen); if it dies after it
but before the switch, the corpus no longer matches the index fingerprint and start-up rebuilds (the
ingest fully happened). Deletion moves the file aside to a temp name first, with the same two outcomes.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Callable, Collection

from ..config import Settings
from ..corpus.store import (SIDECAR_SUFFIX, CorpusError, build_document, corpus_files, decode_report, report_path,
                     sidecar_path, valid_doc_id)
from ..clinical.rarity import is_word

TEMP_MARK = ".tmp-"


class ReportSkipped(Exception):
    """The stored report cannot make a document (the message says why); the index did not change."""


class IngestError(Exception):
    """A write refused for a reason the client can act on; carries an HTTP status and a code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(path: Path, tag: str = "") -> Path:
    return path.parent / f".{path.name}{TEMP_MARK}{tag}{secrets.token_hex(6)}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers (and a crash) see either the old file or the new one."""
    tmp = _temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def clean_corpus_temp(corpus_dir: Path) -> list[Path]:
    """Remove what an interrupted write left in the corpus folder: temp files, and sidecars whose
    report was never renamed into place. Call under the writer lock; returns what it removed."""
    removed = []
    if corpus_dir.is_dir():
        for p in corpus_dir.glob(f".*{TEMP_MARK}*"):
            if p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
        for p in corpus_dir.glob(f"*{SIDECAR_SUFFIX}"):
            report = p.with_name(p.name[:-len(SIDECAR_SUFFIX)] + ".txt")
            if p.is_file() and not report.exists():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def make_sidecar(data: bytes, title: str | None, source: dict, original_id: str | None = None) -> dict:
    """The sidecar of a report whose .txt holds `data`: where it came from and when it was stored."""
    side: dict = {}
    if title:
        side["title"] = title
    side["source"] = source
    side["added"] = utc_now()
    if original_id is not None:
        # Kept as readable text even when it holds lone surrogates (from JSON escapes).
        side["original_id"] = original_id.encode("utf-8", "backslashreplace").decode("utf-8")
    side["sha256"] = hashlib.sha256(data).hexdigest()
    return side


def store_reports(corpus: Path, reports: list[tuple[str, str, dict]]) -> None:
    """Write reports (id, text, sidecar from make_sidecar) into the corpus folder, replacing reports of
    the same ids: the one store function of `qa-service import` and POST /api/documents. The caller
    holds the writer lock and has checked each report (check_report), its id and whether it may replace.

    Every file is written to a temp name and made durable before it is renamed into place (the
    sidecar first; the .txt's rename is the moment the report exists), then the folder is fsynced.
    One report: atomic_write per file (an fsync each). A batch: one os.sync() for all its temp files, since an fsync per
    file cost 3.9 ms here (ext4 on a virtual disk) against 1.1 ms per file for 256 files under one
    sync (benchmarks/README.md, "Import"). On any error the batch's temp files are removed, and
    of a report whose .txt was not renamed yet nothing is visible."""
    corpus.mkdir(parents=True, exist_ok=True)
    if len(reports) == 1:
        doc_id, text, sidecar = reports[0]
        path = report_path(corpus, doc_id)
        atomic_write(sidecar_path(corpus, doc_id), _sidecar_bytes(sidecar))
        atomic_write(path, text.encode("utf-8"))
        return
    planned: list[tuple[Path, Path]] = []  # (temp, final), sidecar before text per report
    try:
        for doc_id, text, sidecar in reports:
            path = report_path(corpus, doc_id)
            for final, data in ((sidecar_path(corpus, doc_id), _sidecar_bytes(sidecar)), (path, text.encode("utf-8"))):
                tmp = _temp_name(final)
                planned.append((tmp, final))
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
        os.sync()  # returns once all dirty data is written (Linux): one durability barrier for the batch
        for tmp, final in planned:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in planned:
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(corpus)


def _sidecar_bytes(sidecar: dict) -> bytes:
    return json.dumps(sidecar, ensure_ascii=False, indent=1).encode("utf-8")


def store_report(corpus: Path, doc_id: str, text: str, sidecar: dict) -> None:
    """One report: store_reports of a batch of one."""
    store_reports(corpus, [(doc_id, text, sidecar)])


def new_doc_id() -> str:
    return f"report-{secrets.token_hex(6)}"


def check_report(doc_id: str, text: str, title: str | None) -> None:
    """Refuse an id, title or text that cannot make a document, before anything is written. The text
    is checked exactly as the index build will read it back (UTF-8 bytes decoded by the loader, so a
    lone byte-order mark is dropped), cleaned, sectioned and split as the build does."""
    if not valid_doc_id(doc_id):
        raise IngestError(400, "invalid_id", "'id' must be 1-200 characters of A-Z a-z 0-9 . _ - "
                                             "starting with a letter or digit")
    try:
        stored = text.encode("utf-8")
        (title or "").encode("utf-8")
    except UnicodeEncodeError:
        raise IngestError(400, "invalid_text", "the text or title is not valid Unicode (lone surrogate)")
    try:
        doc = build_document(doc_id, decode_report(stored, doc_id), title, is_word=is_word)
    except CorpusError as exc:
        message = str(exc).split(": ", 1)[-1]
        raise IngestError(422, "empty_report" if "empty" in message or "no words" in message else "invalid_report",
                          message)
    if not doc.sentences:
        raise IngestError(422, "empty_report", "the report has no sentences to index")


def _taken(corpus: Path, doc_id: str, known: Collection[str]) -> str | None:
    """The existing id that `doc_id` collides with, compared case-insensitively (ids name files, and
    "Foo" and "foo" must not both exist), or None."""
    key = doc_id.casefold()
    for other in known:
        if other.casefold() == key:
            return other
    for path in corpus_files(corpus):
        if path.stem.casefold() == key:
            return path.stem
    return None


def add_report(settings: Settings, doc_id: str, text: str, title: str | None,
               known_ids: Callable[[], Collection[str]], index_add: Callable[[str], object],
               source: dict | None = None):
    """Store a new report and add it to the index; returns what `index_add(doc_id)` returns. All or
    nothing: the report ends up stored and served by the new index, or nothing is stored and
    IngestError says why.

    `known_ids` gives the ids of the newest index (called under the lock); `index_add` indexes the
    stored report and switches the index (live.add_document), raising ReportSkipped when the report
    cannot make a document; `source` goes into the sidecar ({"kind": "api", "format": "text"} by
    default). IngestError 409 for an id already in use (case-insensitively), 422 for a report the
    index cannot take."""
    from .locking import writer_lock

    check_report(doc_id, text, title)
    corpus = settings.corpus_dir
    path = report_path(corpus, doc_id)
    side = sidecar_path(corpus, doc_id)
    with writer_lock(settings):
        taken = _taken(corpus, doc_id, known_ids())
        if taken is not None or path.exists():
            other = taken or doc_id
            raise IngestError(409, "duplicate_id", f"a document with id {other!r} already exists"
                              + ("" if other == doc_id else " (ids are compared case-insensitively)"))
        stored = False
        try:
            sidecar = make_sidecar(text.encode("utf-8"), title, source or {"kind": "api", "format": "text"})
            store_report(corpus, doc_id, text, sidecar)
            try:
                result = index_add(doc_id)
            except ReportSkipped as exc:  # defence in depth: check_report built it already
                raise IngestError(422, "invalid_report", str(exc))
            stored = True
            return result
        finally:
            if not stored:
                _roll_back(corpus, path, side)


def _roll_back(corpus: Path, path: Path, side: Path) -> None:
    """The corpus goes back to what the (unchanged) index was built from."""
    path.unlink(missing_ok=True)
    side.unlink(missing_ok=True)
    fsync_dir(corpus)


def delete_report(settings: Settings, doc_id: str, known_ids: Callable[[], Collection[str]],
                  index_delete: Callable[[str, int], object]):
    """Remove a stored report and take it out of the index (`index_delete(doc_id, digest)`, digest =
    service.report_digest of its files). IngestError 404 when no such document, 409 when the document
    does not come from a corpus .txt file (e.g. a JSONL file) and so cannot be removed."""
    from ..corpus.digest import report_digest
    from .locking import writer_lock

    if not valid_doc_id(doc_id):
        raise IngestError(400, "invalid_id", f"{doc_id[:60]!r} is not a valid document id")
    corpus = settings.corpus_dir
    path = report_path(corpus, doc_id)
    side = sidecar_path(corpus, doc_id)
    with writer_lock(settings):
        if not path.is_file():
            if doc_id in known_ids():
                raise IngestError(409, "not_deletable", f"document {doc_id!r} is not stored in the corpus "
                                                        "folder (it comes from a JSONL file)")
            raise IngestError(404, "unknown_document", f"no document with id {doc_id!r}")
        digest = report_digest(path)
        aside = [(p, _temp_name(p, "del-")) for p in (path, side) if p.exists()]
        for p, tmp in aside:
            os.replace(p, tmp)
        fsync_dir(corpus)
        try:
            result = index_delete(doc_id, digest)
        except BaseException:
            for p, tmp in aside:
                os.replace(tmp, p)
            fsync_dir(corpus)
            raise
        for _, tmp in aside:
            tmp.unlink(missing_ok=True)
        fsync_dir(corpus)
        return result
