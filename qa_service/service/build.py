"""Wire the stages together: load or (re)build the index for the configured corpus, make an Answerer."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from ..qa import Answerer
from ..config import Settings
from ..corpus.digest import DIGEST_BITS, report_digest
from .locking import writer_lock
from ..text.tokenize import terms
from ..clinical.concepts import load_matcher, vocabulary_hash
from ..corpus.store import LoadError, corpus_files, hash_file, load_corpus, read_sidecar
from ..index.bm25 import (Index, IndexUnavailable, build_index, clean_stale, current_pointer, read_folder_meta, read_meta,
                    save_index)
from ..clinical.rarity import is_word
from ..clinical.entities import ClinicalNLP
from ..qa.spelling import SpellingCorrector
from ..index.segments import Segments, load_segments

log = logging.getLogger(__name__)

# Bump when cleaning, sectioning or featurization changes, so old indexes are rebuilt.
PIPELINE_VERSION = "9"


@dataclass
class CorpusChanges:
    """What a rebuild changed, by report id, against the index it replaces."""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    known: bool = True  # False: the old index recorded no per-report hashes (or there was none)

    def summary(self, limit: int = 10) -> str:
        if not self.known:
            return "no earlier index with per-report hashes to compare with"
        if not (self.added or self.removed or self.changed):
            return "no report added, removed or changed"
        parts = []
        for name, ids in (("added", self.added), ("removed", self.removed), ("changed", self.changed)):
            if ids:
                more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
                parts.append(f"{len(ids)} {name} ({', '.join(ids[:limit])}{more})")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed),
                "compared": self.known}


@dataclass
class BuildReport:
    index: Index
    errors: list[LoadError] = field(default_factory=list)
    rebuilt: bool = False
    seconds: float = 0.0
    changes: CorpusChanges | None = None
    segments: Segments | None = None  # the main (and delta) segments `index` is the view of


@dataclass(frozen=True)
class CorpusDigest:
    """What an index was built from, as a multiset hash that one report can update:

        fingerprint = sha256(base ":" sum(report_digest(r) for r in corpus) mod 2**128)

    `base` hashes what is not a corpus report (pipeline version, vocabulary, encoders).
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
    total = sum(report_digest(p) for p in corpus_files(settings.corpus_dir)) % (1 << DIGEST_BITS)
    return CorpusDigest(h.hexdigest()[:16], total)


def corpus_fingerprint(settings: Settings) -> str:
    """Changes when the corpus, its sidecars, the pipeline version, the shipped vocabulary or the
    encoders change."""
    return corpus_digest(settings).fingerprint


def _iso_mtime(path: Path) -> str | None:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))
    except OSError:
        return None


def _apply_sidecars(docs: list) -> tuple[list, dict[str, dict]]:
    """Documents with their sidecar titles, and per report: a content hash (text bytes and title),
    where it came from and when it was added (a .txt without a sidecar: the corpus folder, and the
    file's modification time)."""
    out, reports = [], {}
    for doc in docs:
        src = Path(doc.source)
        side = read_sidecar(src)
        title = side.get("title")
        if isinstance(title, str) and title.strip():
            doc = replace(doc, title=title.strip())
        h = hashlib.sha256()
        hash_file(h, src)
        h.update(b"\0" + doc.title.encode("utf-8", "replace"))
        given = side.get("source")
        source = given if isinstance(given, dict) else {"kind": "corpus", "file": src.name}
        source = {k: v for k, v in source.items() if k != "path"}  # the sidecar keeps it; meta stays small
        info = {"sha256": h.hexdigest()[:16], "source": source,
                "added": side.get("added") if isinstance(side.get("added"), str) else _iso_mtime(src)}
        if isinstance(side.get("original_id"), str):
            info["original_id"] = side["original_id"]
        reports[doc.id] = info
        out.append(doc)
    return out, reports


def corpus_changes(old_meta: dict | None, reports: dict[str, dict]) -> CorpusChanges:
    """Reports added, removed and changed (content hash) since the index `old_meta` describes."""
    old = (old_meta or {}).get("reports")
    if not isinstance(old, dict):
        return CorpusChanges(added=sorted(reports), known=False)
    added = sorted(set(reports) - set(old))
    removed = sorted(set(old) - set(reports))
    changed = sorted(d for d in set(reports) & set(old)
                     if not isinstance(old[d], dict) or old[d].get("sha256") != reports[d]["sha256"])
    return CorpusChanges(added, removed, changed)


ENCODE_BATCH = 2048


def _encoding_progress(name: str, encode: Callable[[list[str]], object],
                       progress: Callable[..., Iterable]) -> Callable[[list[str]], object]:
    """`encode` run in batches under a progress bar: MiniLM takes ~14 ms per sentence, minutes at scale."""
    import numpy as np

    def run(texts: list[str]):
        if len(texts) <= ENCODE_BATCH:
            return encode(texts)
        starts = range(0, len(texts), ENCODE_BATCH)
        desc = f"encoding {len(texts):,} sentences ({name}), batches of {ENCODE_BATCH}"
        parts = [encode(texts[i:i + ENCODE_BATCH]) for i in progress(starts, desc=desc, unit="batch")]
        return np.concatenate([np.asarray(p) for p in parts])

    return run


def featurizer(settings: Settings) -> Callable[[str, object], list[str]]:
    """Index terms of a sentence: word stems and the clinical concepts it mentions."""
    matcher = load_matcher(settings.models_dir)

    def featurize(text: str, _context: object = None) -> list[str]:
        return terms(text) + matcher.ids(text)

    return featurize


def load_encoders(settings: Settings) -> dict:
    """The sentence encoders the settings name (features.ENCODERS keys) that are installed."""
    from ..qa.features import ENCODERS
    from ..index.semantic import load_encoder

    out = {}
    for name in settings.encoders:
        enc = load_encoder(ENCODERS[name])
        if enc is None:
            log.warning("sentence encoder %s is not installed; answering without it", ENCODERS[name])
        else:
            out[name] = enc
    return out


def before_swap() -> None:
    """Runs just before a new index is made current (a full build's save; live.py's switch to a new
    delta or merged main). Does nothing; tests replace it to widen the window before the swap
    (tests/slow_swap.py for server subprocesses)."""


def build(settings: Settings, progress: Callable[..., Iterable] | None = None) -> BuildReport:
    """Load the corpus, fit the index and save it atomically under models/ (beside the old one, which
    keeps serving until the swap); log which reports were added, removed or changed since it."""
    t0 = time.perf_counter()
    digest = corpus_digest(settings)
    old_meta = read_meta(settings.models_dir)
    docs, errors = load_corpus(settings.corpus_dir, is_word=is_word, progress=progress)
    docs, reports = _apply_sidecars(docs)
    for err in errors:
        log.warning("skipped %s", err)
    changes = corpus_changes(old_meta, reports)
    t1 = time.perf_counter()
    log.info("read %d reports in %.1f s (%.0f reports/s); fitting the index over %d sentences",
             len(docs), t1 - t0, len(docs) / max(t1 - t0, 1e-9), sum(len(d.sentences) for d in docs))
    encoders = {name: enc.encode for name, enc in load_encoders(settings).items()}
    if progress is not None:
        encoders = {name: _encoding_progress(name, encode, progress) for name, encode in encoders.items()}
    index = build_index(docs, featurizer(settings), k1=settings.bm25_k1, b=settings.bm25_b, encoders=encoders,
                        meta={**digest.to_meta(), "pipeline": PIPELINE_VERSION,
                              "errors": [str(e) for e in errors],
                              "failed_reports": [e.to_dict() for e in errors],
                              "changes": changes.to_dict(), "reports": reports})
    before_swap()
    t2 = time.perf_counter()
    folder = save_index(index, settings.models_dir)
    log.info("fitted in %.1f s, saved in %.1f s", t2 - t1, time.perf_counter() - t2)
    log.info("index of %d reports (%d failed to load): %s", len(docs), len(errors), changes.summary())
    return BuildReport(index, errors, True, time.perf_counter() - t0, changes, segments=Segments(index, folder.name))


def index_is_current(settings: Settings) -> dict | None:
    """The served index's metadata when it was built from the corpus as it is now, else None."""
    meta = served_meta(settings)
    return meta if meta and meta.get("fingerprint") == corpus_fingerprint(settings) else None


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
    if index_is_current(settings):
        try:
            segs = load_segments(settings.models_dir)
            return BuildReport(segs.view, failed_reports(segs.view), False, time.perf_counter() - t0, segments=segs)
        except IndexUnavailable as exc:
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
    correct = SpellingCorrector(lambda stem: stem in index.vocab, texts=lambda: (d.text for d in index.docs)) \
        if settings.spelling else None
    return Answerer(index, model=model, encoders=encoders, correct=correct, expand=matcher.mentions, concept_label=matcher.label, concepts=matcher.ids,
                    entities=nlp.entities, concept_weight=settings.concept_weight,
                    context_weight=settings.context_weight, abstain_threshold=settings.abstain_threshold)
