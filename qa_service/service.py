"""Wire the stages together: load or (re)build the index for the configured corpus, make an Answerer."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .qa import Answerer
from .config import Settings
from .analysis import terms
from .concepts import load_matcher, vocabulary_hash
from .corpus import SIDECAR_SUFFIX, LoadError, corpus_files, load_corpus, sidecar_title
from .index import (Index, IndexError_, build_index, clean_stale, current_pointer, read_folder_meta,
                    save_index)
from .lexicon import is_word
from .nlp import ClinicalNLP
from .qa.spelling import SpellingCorrector
from .segments import Segments, load_segments

log = logging.getLogger(__name__)

# Bump when cleaning, sectioning or featurization changes, so old indexes are rebuilt.
PIPELINE_VERSION = "7"


@dataclass
class BuildReport:
    index: Index
    errors: list[LoadError] = field(default_factory=list)
    rebuilt: bool = False
    seconds: float = 0.0
    segments: Segments | None = None  # the main (and delta) segments `index` is the view of


LOCK_FILE = ".lock"


class LockTimeout(RuntimeError):
    """Another process kept the writer lock longer than Settings.lock_timeout."""


@contextlib.contextmanager
def writer_lock(settings: Settings, timeout: float | None = None) -> Iterator[None]:
    """Exclusive flock on models/.lock: one writer (build, ingest, delete) at a time across every
    worker process and thread. The kernel drops the lock when its holder dies (even by kill -9)."""
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    timeout = settings.lock_timeout if timeout is None else timeout
    fd = os.open(settings.models_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{settings.models_dir / LOCK_FILE} is held by another writer")
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


DIGEST_BITS = 128


def report_digest(path: Path) -> int:
    """A 128-bit digest of one corpus report: its file name, its bytes and its title sidecar's bytes."""
    h = hashlib.sha256(path.name.encode() + b"\0")
    try:
        with path.open("rb") as fh:  # in blocks: a huge file is hashed, never held in memory
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        h.update(b"<unreadable>")
    h.update(b"\0sidecar\0")
    try:
        h.update((path.parent / f"{path.stem}{SIDECAR_SUFFIX}").read_bytes())
    except OSError:
        h.update(b"<none>")
    return int.from_bytes(h.digest()[:DIGEST_BITS // 8], "big")


@dataclass(frozen=True)
class CorpusDigest:
    """What an index was built from, as a multiset hash that one report can update:

        fingerprint = sha256(base ":" sum(report_digest(r) for r in corpus) mod 2**128)

    `base` hashes what is not a corpus report (pipeline version, vocabulary, encoders, JSONL files).
    Adding or removing a report adds or subtracts its digest, so an ingest updates the fingerprint
    without reading the other reports, and it equals what hashing the whole corpus gives. (A sum is
    a change detector, not a defence against crafted collisions.)"""
    base: str
    total: int

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.base}:{self.total:032x}".encode()).hexdigest()[:16]

    def plus(self, digest: int) -> "CorpusDigest":
        return CorpusDigest(self.base, (self.total + digest) % (1 << DIGEST_BITS))

    def minus(self, digest: int) -> "CorpusDigest":
        return CorpusDigest(self.base, (self.total - digest) % (1 << DIGEST_BITS))

    def to_meta(self) -> dict:
        return {"fingerprint": self.fingerprint, "fingerprint_base": self.base, "corpus_sum": f"{self.total:032x}"}

    @classmethod
    def from_meta(cls, meta: dict) -> "CorpusDigest | None":
        try:
            return cls(str(meta["fingerprint_base"]), int(meta["corpus_sum"], 16))
        except (KeyError, TypeError, ValueError):
            return None


def corpus_digest(settings: Settings) -> CorpusDigest:
    """The digest of the corpus as it is now (reads every report once, as a build does)."""
    h = hashlib.sha256(f"v{PIPELINE_VERSION}-{vocabulary_hash()}-enc:{','.join(settings.encoders)}".encode())
    for j in settings.jsonl_files:
        p = Path(j)
        h.update(b"\0jsonl\0" + p.name.encode() + b"\0")
        try:
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            h.update(b"<unreadable>")
    total = sum(report_digest(p) for p in corpus_files(settings.corpus_dir)) % (1 << DIGEST_BITS)
    return CorpusDigest(h.hexdigest()[:16], total)


def corpus_fingerprint(settings: Settings) -> str:
    """Changes when the corpus, its title sidecars, the JSONL files, the pipeline version, the shipped
    vocabulary or the encoders change."""
    return corpus_digest(settings).fingerprint


def _apply_sidecar_titles(docs: list, corpus_dir: Path) -> list:
    out = []
    for doc in docs:
        src = Path(doc.source) if doc.source else None
        if src is not None and src.suffix == ".txt" and src.parent == corpus_dir:
            title = sidecar_title(src)
            if title:
                doc = replace(doc, title=title.strip())
        out.append(doc)
    return out


def featurizer(settings: Settings) -> Callable[[str, object], list[str]]:
    """Index terms of a sentence: word stems and the clinical concepts it mentions."""
    matcher = load_matcher(settings.models_dir)

    def featurize(text: str, _context: object = None) -> list[str]:
        return terms(text) + matcher.ids(text)

    return featurize


def load_encoders(settings: Settings) -> dict:
    """The sentence encoders the settings name (features.ENCODERS keys) that are installed."""
    from .qa.features import ENCODERS
    from .semantic import load_encoder

    out = {}
    for name in settings.encoders:
        enc = load_encoder(ENCODERS[name])
        if enc is None:
            log.warning("sentence encoder %s is not installed; answering without it", ENCODERS[name])
        else:
            out[name] = enc
    return out


def build(settings: Settings, progress: Callable[[Iterable], Iterable] | None = None) -> BuildReport:
    """Load the corpus, fit the index and save it atomically under models/."""
    t0 = time.perf_counter()
    digest = corpus_digest(settings)
    docs, errors = load_corpus(settings.corpus_dir, settings.jsonl_files, is_word=is_word, progress=progress)
    docs = _apply_sidecar_titles(docs, settings.corpus_dir)
    for err in errors:
        log.warning("skipped %s", err)
    t1 = time.perf_counter()
    log.info("read %d reports in %.1f s (%.0f reports/s); fitting the index over %d sentences",
             len(docs), t1 - t0, len(docs) / max(t1 - t0, 1e-9), sum(len(d.sentences) for d in docs))
    encoders = {name: enc.encode for name, enc in load_encoders(settings).items()}
    index = build_index(docs, featurizer(settings), k1=settings.bm25_k1, b=settings.bm25_b, encoders=encoders,
                        meta={**digest.to_meta(), "pipeline": PIPELINE_VERSION,
                              "errors": [str(e) for e in errors],
                              "failed_reports": [e.to_dict() for e in errors]})
    if settings.test_slow_build_seconds > 0:  # test hook: widen the window before the swap
        time.sleep(settings.test_slow_build_seconds)
    t2 = time.perf_counter()
    folder = save_index(index, settings.models_dir)
    log.info("fitted in %.1f s, saved in %.1f s", t2 - t1, time.perf_counter() - t2)
    return BuildReport(index, errors, True, time.perf_counter() - t0, Segments(index, folder.name))


def failed_reports(index: Index) -> list[LoadError]:
    """The reports the index's build skipped, with their errors (kept in the index metadata)."""
    out = []
    for item in index.meta.get("failed_reports") or []:
        if isinstance(item, dict):
            out.append(LoadError(str(item.get("path") or ""), str(item.get("error") or ""), item.get("id")))
    return out


def served_meta(settings: Settings) -> dict | None:
    """The metadata of what CURRENT serves: the delta's when there is one (it carries the fingerprint
    of the corpus main + delta stand for), else the main segment's."""
    names = current_pointer(settings.models_dir)
    return read_folder_meta(settings.models_dir / names[-1]) if names else None


def _load_if_current(settings: Settings, t0: float) -> BuildReport | None:
    meta = served_meta(settings)
    if meta and meta.get("fingerprint") == corpus_fingerprint(settings):
        try:
            segs = load_segments(settings.models_dir)
            return BuildReport(segs.view, failed_reports(segs.view), False, time.perf_counter() - t0, segs)
        except IndexError_ as exc:
            log.warning("rebuilding: %s", exc)
    return None


def load_or_build(settings: Settings) -> BuildReport:
    """Load the saved index when it was built from the current corpus; rebuild it otherwise (under
    the writer lock, so two workers never build at once; the second then just loads)."""
    t0 = time.perf_counter()
    report = _load_if_current(settings, t0)
    if report is not None:
        return report
    with writer_lock(settings):
        return _load_if_current(settings, t0) or build(settings)


def startup_cleanup(settings: Settings) -> None:
    """Remove what an interrupted write left behind: index temp folders and stale index folders
    (index.clean_stale) and the corpus's temp files. Call with no writer running (server start)."""
    from .ingest import clean_corpus_temp

    with writer_lock(settings):
        if settings.models_dir.is_dir():
            clean_stale(settings.models_dir)
        clean_corpus_temp(settings.corpus_dir)


def make_answerer(index: Index, settings: Settings, model: dict | None = None, encoders: dict | None = None) -> Answerer:
    """An Answerer over `index` with the shipped fitted models (or `model`, e.g. {} for none)."""
    matcher = load_matcher(settings.models_dir)
    nlp = ClinicalNLP(matcher)
    if encoders is None:
        encoders = {name: (enc.encode, index.vectors[name]) for name, enc in load_encoders(settings).items()
                    if name in index.vectors}
    correct = SpellingCorrector(lambda stem: stem in index.vocab) if settings.spelling else None
    return Answerer(index, model=model, encoders=encoders, correct=correct, expand=matcher.mentions, concept_label=matcher.label, concepts=matcher.ids,
                    entities=nlp.entities, concept_weight=settings.concept_weight,
                    context_weight=settings.context_weight, abstain_threshold=settings.abstain_threshold)
