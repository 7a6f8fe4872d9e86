"""Wire the stages together: load or (re)build the index for the configured corpus, make an Answerer."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .answer import Answerer
from .config import Settings
from .corpus import LoadError, fingerprint, load_corpus
from .index import Index, IndexError_, build_index, load_index, read_meta, save_index
from .lexicon import is_word

log = logging.getLogger(__name__)

# Bump when cleaning, sectioning or featurization changes, so old indexes are rebuilt.
PIPELINE_VERSION = "1"


@dataclass
class BuildReport:
    index: Index
    errors: list[LoadError] = field(default_factory=list)
    rebuilt: bool = False
    seconds: float = 0.0


def corpus_fingerprint(settings: Settings) -> str:
    return fingerprint(settings.corpus_dir, settings.jsonl_files, extra=f"v{PIPELINE_VERSION}")


def featurizer() -> Callable[[str], list[str]]:
    from .analysis import terms

    return terms


def build(settings: Settings, progress: Callable[[Iterable], Iterable] | None = None) -> BuildReport:
    """Load the corpus, fit the index and save it atomically under models/."""
    t0 = time.perf_counter()
    fp = corpus_fingerprint(settings)
    docs, errors = load_corpus(settings.corpus_dir, settings.jsonl_files, is_word=is_word, progress=progress)
    for err in errors:
        log.warning("skipped %s", err)
    t1 = time.perf_counter()
    log.info("read %d reports in %.1f s (%.0f reports/s); fitting the index over %d sentences",
             len(docs), t1 - t0, len(docs) / max(t1 - t0, 1e-9), sum(len(d.sentences) for d in docs))
    index = build_index(docs, featurizer(), k1=settings.bm25_k1, b=settings.bm25_b,
                        meta={"fingerprint": fp, "pipeline": PIPELINE_VERSION,
                              "errors": [str(e) for e in errors]})
    t2 = time.perf_counter()
    save_index(index, settings.models_dir)
    log.info("fitted in %.1f s, saved in %.1f s", t2 - t1, time.perf_counter() - t2)
    return BuildReport(index, errors, True, time.perf_counter() - t0)


def load_or_build(settings: Settings) -> BuildReport:
    """Load the saved index when it was built from the current corpus; rebuild it otherwise."""
    t0 = time.perf_counter()
    meta = read_meta(settings.models_dir)
    if meta and meta.get("fingerprint") == corpus_fingerprint(settings):
        try:
            index = load_index(settings.models_dir)
            return BuildReport(index, [], False, time.perf_counter() - t0)
        except IndexError_ as exc:
            log.warning("rebuilding: %s", exc)
    return build(settings)


def make_answerer(index: Index, settings: Settings) -> Answerer:
    return Answerer(index, context_weight=settings.context_weight, candidates=settings.rerank_candidates,
                    abstain_threshold=settings.abstain_threshold)
