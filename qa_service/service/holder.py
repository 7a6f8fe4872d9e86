"""The index holder: a worker's settings, its loaded segments and answerer, and the reload of what
another worker wrote to models/ (a before_request hook of the web app calls `refresh`)."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import replace

from ..config import Settings
from ..index.bm25 import IndexUnavailable, current_pointer
from ..index.segments import Segments, load_segments
from ..qa import Answerer

log = logging.getLogger(__name__)

# Writes one worker process lets in at once (one writing, one waiting for the writer lock); more
# are refused at once (WritesBusy: 503), so writes never hold more than two of a worker's request threads.
WRITE_SLOTS = 2


class WritesBusy(Exception):
    """All of this process's write slots are taken."""


class QAState:
    """The worker's settings, its loaded segments and answerer, and the reload of what another worker
    wrote to models/."""

    def __init__(self, settings: Settings, answerer: Answerer, segments: Segments | None = None):
        self.settings = settings
        self.answerer = answerer
        # None until needed when the app was given an answerer: then loaded from models/ by a write.
        self.segments = segments
        if segments is not None:
            self.pointer = segments.pointer
        else:
            self.pointer = current_pointer(settings.models_dir) if settings.models_dir.is_dir() else ()
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self._merging = threading.Lock()
        self._loader: threading.Thread | None = None
        # Writes wait at most write_wait seconds for the writer lock, then 503.
        self.write_settings = replace(settings, lock_timeout=settings.write_wait)
        self._write_slots = threading.BoundedSemaphore(WRITE_SLOTS)

    def refresh(self, force: bool = False, wait: bool = True) -> Answerer:
        """The current answerer, first reloading the index if models/CURRENT names a new one (checked
        at most every reload_interval seconds, unless forced). Threads arriving while one reloads
        wait for it rather than answer from the index it is replacing, unless `wait` is False
        (health): then they answer from the loaded one at once."""
        if force or time.monotonic() - self._checked >= self.settings.reload_interval:
            if not self._lock.acquire(blocking=wait):
                return self.answerer
            try:
                now = time.monotonic()
                if force or now - self._checked >= self.settings.reload_interval:
                    self._reload_if_changed()
                    self._checked = now  # the time CURRENT was read, not the time the load ended
            finally:
                self._lock.release()
        return self.answerer

    @contextlib.contextmanager
    def write_slot(self):
        """One of WRITE_SLOTS places for a write in this process, or WritesBusy at once (503) when all are taken."""
        if not self._write_slots.acquire(blocking=False):
            raise WritesBusy("other writes are in progress; try again shortly")
        try:
            yield
        finally:
            self._write_slots.release()

    def _reload_if_changed(self) -> None:
        """Called with self._lock held. A new delta over the loaded main segment: read the delta folder
        only and compose. A new main segment standing for the corpus already served (a merge): load
        it in a background thread and keep answering meanwhile (the answers are the same). Any other
        new main segment (a full build): load it before answering."""
        for _ in range(3):  # CURRENT may move again (and the folders it named go) while we load
            pointer = current_pointer(self.settings.models_dir)
            if not pointer or pointer == self.pointer:
                return
            if self.segments is not None and pointer[0] != self.segments.main_name and self._same_corpus(pointer):
                self._load_in_background()
                return
            try:
                segs = load_segments(self.settings.models_dir, self.segments, pointer)
            except IndexUnavailable as exc:
                log.warning("index reload failed, keeping the loaded one: %s", exc)
                continue
            if current_pointer(self.settings.models_dir) == pointer:
                self._install(segs)
                log.info("loaded index %s (%d documents)", "+".join(pointer), len(segs.view.docs))
                return

    def _same_corpus(self, pointer: tuple[str, ...]) -> bool:
        from ..index.bm25 import read_folder_meta

        meta = read_folder_meta(self.settings.models_dir / pointer[-1]) or {}
        served = self.answerer.index.meta.get("fingerprint")
        return served is not None and meta.get("fingerprint") == served

    def _load_in_background(self) -> None:
        """Load the main segment CURRENT names (then its newest delta) and switch to it, in a thread."""
        if self._loader is not None and self._loader.is_alive():
            return
        models = self.settings.models_dir

        def run() -> None:
            try:
                for _ in range(3):
                    pointer = current_pointer(models)
                    segs = load_segments(models, None, pointer)
                    with self._lock:
                        now = current_pointer(models)
                        if now and now[0] == pointer[0]:
                            if now != pointer:  # a write meanwhile: its delta is small
                                segs = load_segments(models, segs, now)
                            self._install(segs)
                            log.info("loaded index %s (%d documents) in the background", "+".join(now),
                                     len(segs.view.docs))
                            return
            except Exception:  # the next check loads it in the foreground
                log.exception("loading the merged index in the background failed")

        self._loader = threading.Thread(target=run, name="load-main", daemon=True)
        self._loader.start()

    def _install(self, segs: Segments) -> None:
        from .build import make_answerer

        self.answerer = make_answerer(segs.view, self.settings)
        self.segments, self.pointer = segs, segs.pointer

    def _use(self, segs: Segments) -> None:
        """Serve `segs`, which this process has just written (no reload from disk)."""
        from .build import make_answerer

        answerer = make_answerer(segs.view, self.settings)  # outside the lock: readers keep going
        with self._lock:
            self.answerer, self.segments, self.pointer = answerer, segs, segs.pointer

    def _live(self) -> Segments:
        """The segments CURRENT names, loaded (called under the writer lock, so they cannot change
        meanwhile; a write must never build on an older state)."""
        pointer = current_pointer(self.settings.models_dir)
        with self._lock:
            if self.segments is None or self.segments.pointer != pointer:
                self._install(load_segments(self.settings.models_dir, self.segments, pointer or None))
            assert self.segments is not None
            return self.segments

    def known_ids(self) -> set[str]:
        """Ids of the newest index (called under the writer lock, so it cannot change meanwhile)."""
        return set(self._live().view.doc_by_id)

    def index_add(self, doc_id: str):
        """Index the stored report `doc_id` into a new delta and serve it here at once; the view."""
        from .live import add_document

        segs = add_document(self.write_settings, self._live(), doc_id)
        self._use(segs)
        return segs.view

    def index_delete(self, doc_id: str, digest: int):
        """Take `doc_id` out of the index and serve the result here at once; the view."""
        from .live import delete_document

        segs = delete_document(self.write_settings, self._live(), doc_id, digest)
        self._use(segs)
        return segs.view

    def maybe_merge(self) -> threading.Thread | None:
        """Start merging the delta into the main segment in a background thread when it has grown past
        the merge size (one merge at a time; live.merge also keeps other processes out)."""
        from .live import merge, needs_merge

        segs = self.segments
        if segs is None or not needs_merge(self.settings, segs) or not self._merging.acquire(blocking=False):
            return None

        def run() -> None:
            try:
                merge(self.settings, segs, on_switch=self._use)
            except Exception:  # the delta keeps serving; the next write tries again
                log.exception("merging the delta segment failed")
            finally:
                self._merging.release()

        thread = threading.Thread(target=run, name="merge-delta", daemon=True)
        thread.start()
        return thread

    def settle(self) -> None:
        """Wait out one reload interval after a swap: any request that arrives after a write has
        answered then reaches a worker whose next check is due, so it sees the write."""
        time.sleep(self.settings.reload_interval)
