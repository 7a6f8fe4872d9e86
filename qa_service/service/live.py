"""Incremental ingest: add or delete one report by writing a new delta segment, and merge the delta
into a new main segment in the background.

Add: only the new report is read, cleaned, sectioned, featurized and encoded (`build_index` over that
one document); it is composed with the current delta (arrays only) and the result is written as a
new `models/delta-<id>/` folder (temp folder + rename), then `models/CURRENT` is switched to
(main, new delta) in one atomic rename. Delete: a document of the delta leaves it; a document of
the main segment is listed in the delta's `deleted` ids. Either way the main segment is neither
read nor rewritten, and a worker that has it loaded reads only the new delta folder.

The corpus fingerprint the delta records is updated from the one report's digest
(service.CorpusDigest), so start-up still recognises main + delta as current for the corpus.

Merge: `canonical(view)` puts the composed view's documents and vocabulary in build order and is
saved as a new main folder (outside the writer lock; nothing is re-read or re-processed). Under the
lock, writes that happened meanwhile are rebased onto it (documents added after the snapshot stay
in the new delta, documents of the snapshot deleted since become its deleted ids) and CURRENT is
switched to (new main, rebased delta). The merged main's arrays are those of a full rebuild.

All functions here run under the writer lock (service.writer_lock), except the middle of `merge`.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Collection

from ..config import Settings
from ..corpus.store import CorpusError, build_document, read_text_file, report_path, title_from_filename
from ..domain import Document
from .ingest import ReportSkipped
from ..index.bm25 import Index, IndexUnavailable, build_index, clean_stale, current_pointer, save_folder, switch_current
from ..clinical.rarity import is_word
from ..index.segments import Segments, canonical, compose, delta_meta, deleted_ids, empty_like, load_segments, view_meta
from ..corpus.digest import report_digest
from .locking import writer_lock
from . import build
from .build import CorpusDigest, _apply_sidecars, featurizer, load_encoders

log = logging.getLogger(__name__)

MERGE_LOCK = ".merge.lock"


def load_stored_report(settings: Settings, doc_id: str) -> Document:
    """The document of one corpus report, read and built exactly as a full build reads that file
    (corpus.load_corpus + the sidecar title)."""
    path = report_path(settings.corpus_dir, doc_id)
    try:
        text = read_text_file(path)
        doc = build_document(path.stem, text, None, str(path), is_word, title_from_filename(path))
    except CorpusError as exc:
        message = str(exc)
        raise ReportSkipped(message[len(str(path)) + 2:] if message.startswith(f"{path}: ") else message)
    except (RecursionError, MemoryError, ValueError, IndexError, KeyError, TypeError) as exc:
        log.exception("%s: failed to build the report", path)
        raise ReportSkipped(f"could not be processed ({type(exc).__name__})")
    return _apply_sidecars([doc])[0][0]


def _digest_of(segs: Segments) -> CorpusDigest:
    meta = segs.delta.meta if segs.delta is not None else segs.main.meta
    digest = CorpusDigest.from_meta(meta)
    if digest is None:
        raise IndexUnavailable("the index records no corpus digest; rebuild it (`qa-service index`)")
    return digest


def _failed(segs: Segments) -> list[dict]:
    return list(view_meta(segs.main, segs.delta).get("failed_reports") or [])


def _commit(settings: Settings, segs: Segments, delta: Index, stamps: dict[str, int], deleted: Collection[str],
            digest: CorpusDigest, failed: list[dict], reports: dict[str, dict] | None = None) -> Segments:
    """Write `delta` as the new delta folder and switch CURRENT to (main, it); drop the old folder.
    A delta that adds and deletes nothing and stands for the main segment's corpus is no delta: CURRENT
    then names the main segment alone."""
    models = settings.models_dir
    assert segs.main_name is not None  # a main segment on disk always has a folder name
    deleted = sorted(set(deleted) & set(segs.main.doc_by_id))
    if not delta.docs and not deleted and digest == CorpusDigest.from_meta(segs.main.meta) \
            and failed == list(segs.main.meta.get("failed_reports") or []):
        _switch(settings, segs.main_name)
        if segs.delta_name:
            shutil.rmtree(models / segs.delta_name, ignore_errors=True)
        return Segments(segs.main, segs.main_name)
    meta = delta_meta(segs.main, segs.main_name, len(delta.docs), deleted, stamps,
                      {**digest.to_meta(), "failed_reports": failed, "errors": [f"{f.get('path')}: {f.get('error')}"
                                                                               for f in failed]})
    # Source, added time and hash of the delta's own reports (the main segment's are in its meta).
    meta["reports"] = {d: r for d, r in (reports or {}).items() if d in delta.doc_by_id}
    delta = Index(delta.docs, delta.vocab, delta.counts, delta.sentences, meta, delta.vectors, k1=delta.k1, b=delta.b)
    name = save_folder(delta, models, "delta", meta).name
    _switch(settings, segs.main_name, name)
    if segs.delta_name and segs.delta_name != name:
        shutil.rmtree(models / segs.delta_name, ignore_errors=True)
    return Segments(segs.main, segs.main_name, delta, name)


def _switch(settings: Settings, main: str, delta: str | None = None) -> None:
    build.before_swap()  # looked up at call time: tests replace it
    switch_current(settings.models_dir, main, delta)


def _delta_parts(segs: Segments) -> tuple[Index, dict[str, int], frozenset[str]]:
    if segs.delta is None:
        return empty_like(segs.main, {}), {}, frozenset()
    return segs.delta, dict(segs.delta.meta.get("stamps") or {}), deleted_ids(segs.delta)


def _delta_reports(segs: Segments) -> dict[str, dict]:
    return dict((segs.delta.meta.get("reports") or {}) if segs.delta is not None else {})


def add_document(settings: Settings, segs: Segments, doc_id: str) -> Segments:
    """Index the corpus report `doc_id` (already stored) into a new delta. ReportSkipped when it
    cannot make a document; then nothing changed."""
    if doc_id in segs.view.doc_by_id:
        raise ValueError(f"{doc_id!r} is indexed already")
    doc = load_stored_report(settings, doc_id)
    if not doc.sentences:
        raise ReportSkipped("the report has no sentences to index")
    encoders = {name: enc.encode for name, enc in load_encoders(settings).items() if name in segs.main.vectors}
    if set(encoders) != set(segs.main.vectors):
        raise IndexUnavailable("the index was built with other sentence encoders; rebuild it (`qa-service index`)")
    piece = build_index([doc], featurizer(settings), k1=segs.main.k1, b=segs.main.b, encoders=encoders)
    delta, stamps, deleted = _delta_parts(segs)
    delta = compose([(delta, ()), (piece, ())])
    stamps[doc_id] = time.time_ns()
    digest = _digest_of(segs).plus(report_digest(report_path(settings.corpus_dir, doc_id)))
    failed = [f for f in _failed(segs) if f.get("id") != doc_id]
    reports = _delta_reports(segs) | _apply_sidecars([doc])[1]
    return _commit(settings, segs, delta, stamps, deleted, digest, failed, reports)


def delete_document(settings: Settings, segs: Segments, doc_id: str, digest: int) -> Segments:
    """Take `doc_id` out of the index; `digest` is service.report_digest of its files, taken before
    they were removed from the corpus. A report the index never held (it failed to load, or a crash
    left it unindexed) changes only the fingerprint (if the index counted it) and the failure list."""
    delta, stamps, deleted = _delta_parts(segs)
    failed = _failed(segs)
    counted = doc_id in segs.view.doc_by_id or any(f.get("id") == doc_id for f in failed)
    if doc_id in delta.doc_by_id:
        delta = compose([(delta, {doc_id})])
        stamps.pop(doc_id, None)
    elif doc_id in segs.main.doc_by_id and doc_id not in deleted:
        deleted = deleted | {doc_id}
    elif not counted:
        return segs
    total = _digest_of(segs).minus(digest) if counted else _digest_of(segs)
    failed = [f for f in failed if f.get("id") != doc_id]
    return _commit(settings, segs, delta, stamps, deleted, total, failed, _delta_reports(segs))


# ---------------------------------------------------------------- merge

def build_order(view: Index, corpus_dir: Path) -> list[int]:
    """Positions of the view's documents in the order a full build reads them: corpus files sorted by
    path, then the other (JSONL) documents in the order they already have."""
    def key(i: int):
        src = Path(view.docs[i].source) if view.docs[i].source else None
        if src is not None and src.suffix == ".txt" and src.parent == corpus_dir:
            return (0, src, 0)
        return (1, Path(), i)

    return sorted(range(len(view.docs)), key=key)


def needs_merge(settings: Settings, segs: Segments) -> bool:
    """Merge once the delta holds merge_fraction of the main segment's documents (at least
    merge_min_docs, at most merge_max_docs added + deleted)."""
    if segs.delta is None:
        return False
    limit = min(max(settings.merge_min_docs, int(settings.merge_fraction * len(segs.main.docs))),
                settings.merge_max_docs)
    return segs.delta_size >= limit


def merge(settings: Settings, segs: Segments,
          on_switch: Callable[[Segments], None] | None = None) -> Segments | None:
    """Fold the delta of `segs` (the state CURRENT named when called) into a new main segment; returns
    the new live state, or None when there was nothing to do or another merge or build won.
    `on_switch(new state)` runs under the writer lock right after CURRENT switched (a server
    process serves the merged main from memory then, before any write of its own can follow)."""
    models = settings.models_dir
    if segs.delta is None:
        return None
    models.mkdir(parents=True, exist_ok=True)
    fd = os.open(models / MERGE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # another process is merging
        t0 = time.perf_counter()
        view = segs.view
        meta = dict(view.meta)
        meta.pop("delta", None)
        merged = canonical(view, build_order(view, settings.corpus_dir), meta)
        folder = save_folder(merged, models, "index", dict(merged.meta, built_at=time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), merged_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        t1 = time.perf_counter()
        try:
            with writer_lock(settings):
                out = _rebase(settings, segs, merged, folder.name)
                if out is not None and on_switch is not None:
                    on_switch(out)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        log.info("merged %d delta documents and %d deletions into %s (%d documents) in %.1f s (%.1f s under "
                 "the writer lock)", len(segs.delta.docs), len(segs.deleted), folder.name, len(merged.docs),
                 time.perf_counter() - t0, time.perf_counter() - t1)
        return out
    finally:
        os.close(fd)


def _rebase(settings: Settings, snap: Segments, merged: Index, name: str) -> Segments | None:
    """Under the writer lock: the live state with `merged` (folder `name`) as its main segment and the
    writes made since `snap` as its delta; CURRENT switched to it."""
    models = settings.models_dir
    pointer = current_pointer(models)
    if not pointer or pointer[0] != snap.main_name or not (models / name).is_dir():
        return None  # a full build replaced the main segment meanwhile
    now = snap if pointer == snap.pointer else load_segments(models, snap)
    snap_stamps = dict(snap.delta.meta.get("stamps") or {}) if snap.delta is not None else {}
    delta, stamps, deleted = _delta_parts(now)
    # In `merged` already: the snapshot's delta documents with the same stamp.
    merged_ids = {i for i, st in stamps.items() if snap_stamps.get(i) == st}
    # Deleted since the snapshot: main documents newly tombstoned, and snapshot delta documents gone
    # (deleted, or deleted and added again: another stamp).
    gone = (deleted - snap.deleted) | {i for i, st in snap_stamps.items() if stamps.get(i) != st}
    newer = compose([(delta, merged_ids)]) if merged_ids else delta
    stamps = {i: st for i, st in stamps.items() if i not in merged_ids}
    gone = frozenset(i for i in gone if i in merged.doc_by_id)
    out = _commit(settings, Segments(merged, name), newer, stamps, gone, _digest_of(now), _failed(now),
                  _delta_reports(now))
    clean_stale(models, keep=out.pointer)
    return out


def compact(settings: Settings, segs: Segments) -> Segments:
    """Merge in the foreground (CLI, tests): the live state after merging, `segs` when nothing to do."""
    return merge(settings, segs) or segs


__all__ = ["ReportSkipped", "add_document", "delete_document", "merge", "needs_merge", "compact",
           "build_order", "load_stored_report"]
