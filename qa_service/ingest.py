"""Add and remove reports while the service runs.

Storage: a report is `<corpus>/<id>.txt` (its text exactly as sent, UTF-8) plus, when it has a title,
`<corpus>/<id>.meta.json` ({"title": ...}); both are written atomically (temp file in the same folder,
fsync, os.replace, fsync of the folder). Then the index takes the change incrementally (live.py): the
one report is indexed into a new delta segment folder (or its id added to the delta's deleted ids)
and models/CURRENT is switched to it atomically, so readers keep answering from the old index until
the switch and no other report is read again. Every write runs under the writer lock (flock on
models/.lock), so two workers never write at once.

Crash safety: if the process dies before the report's os.replace, only a `.`-prefixed temp file is
left, which start-up removes (the ingest did not happen); if it dies after it but before the switch,
the corpus no longer matches the index fingerprint and start-up rebuilds (the ingest fully
happened). Deletion moves the file aside to a temp name first, with the same two outcomes.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Callable, Collection

from .config import Settings
from .corpus import (CorpusError, build_document, corpus_files, decode_report, report_path, sidecar_path,
                     valid_doc_id)
from .lexicon import is_word

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
    """Remove temp files left in the corpus folder by an interrupted write; returns what it removed."""
    removed = []
    if corpus_dir.is_dir():
        for p in corpus_dir.glob(f".*{TEMP_MARK}*"):
            if p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


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
               known_ids: Callable[[], Collection[str]], index_add: Callable[[str], object]):
    """Store a new report and add it to the index; returns what `index_add(doc_id)` returns. All or
    nothing: the report ends up stored and served by the new index, or nothing is stored and
    IngestError says why.

    `known_ids` gives the ids of the newest index (called under the lock); `index_add` indexes the
    stored report and switches the index (live.add_document), raising ReportSkipped when the report
    cannot make a document. IngestError 409 for an id already in use (case-insensitively), 422 for a
    report the index cannot take."""
    from .service import writer_lock

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
        corpus.mkdir(parents=True, exist_ok=True)
        stored = False
        try:
            if title:
                atomic_write(side, json.dumps({"title": title}, ensure_ascii=False).encode("utf-8"))
            else:
                side.unlink(missing_ok=True)
            atomic_write(path, text.encode("utf-8"))
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
    from .service import report_digest, writer_lock

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
