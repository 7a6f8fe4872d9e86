"""One place for every setting: a dataclass read from environment variables with defaults."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

log = logging.getLogger(__name__)


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


class SettingsError(ValueError):
    """A setting's value is invalid; the message names the environment variable."""


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _env_float(name: str, default: float | None, minimum: float = 0.0) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum or value == float("inf"):  # also refuses NaN
        raise SettingsError(f"{name}={raw} must be a finite number of at least {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    models_dir: Path = Path("models")
    top_k: int = 3
    max_top_k: int = 20
    max_question_chars: int = 1000
    max_body_bytes: int = 2 * 1024 * 1024
    # BM25 parameters for the sentence matrix.
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # Weight of the neighbouring sentences' scores in a sentence's passage score.
    context_weight: float = 0.35
    # Query weight of a clinical concept the question mentions (a word of the question weighs 1).
    concept_weight: float = 0.5
    # Abstain when the calibrated answerability falls below this; None: the threshold fitted with
    # the answerability model (qa_service/qa/model.json).
    abstain_threshold: float | None = None
    # Sentence encoders for the semantic features (keys of qa.features.ENCODERS), and spelling repair.
    encoders: tuple[str, ...] = ("wl", "lm")
    spelling: bool = True
    admin_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    workers: int = 2
    threads: int = 4
    # Each worker re-reads models/CURRENT at most this often and reloads the index when it changed;
    # a write (ingest/delete) waits this long before answering, so every worker sees it afterwards.
    # 0.2 s: reading the pointer is a tiny file read; the interval is what a write waits before answering.
    reload_interval: float = 0.2
    # How long a writer waits for models/.lock (another worker's rebuild): start-up and the CLI.
    lock_timeout: float = 300.0
    # An API write (POST/DELETE /api/documents) waits at most this long for the writer lock, then 503.
    write_wait: float = 2.0
    # A connection silent this long is closed; a request header must arrive within this long (408).
    read_timeout: float = 15.0
    # Failed admin-token attempts per client IP within auth_fail_window seconds before 429.
    auth_fail_limit: int = 10
    auth_fail_window: float = 60.0
    # Incremental ingest (live.py): the delta segment is merged into the main one in the background once
    # it holds merge_fraction of the main segment's documents, at least merge_min_docs and at most
    # merge_max_docs (added + deleted).
    merge_min_docs: int = 100
    merge_fraction: float = 0.02
    merge_max_docs: int = 1000

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        if os.environ.get("QA_JSONL"):
            # The corpus folder is the one source of reports now: say so rather than serve fewer.
            log.warning("QA_JSONL is no longer read: import the file once with `qa-service import %s`; "
                        "its reports then stay in the corpus folder", os.environ["QA_JSONL"])
        cors = tuple(o.strip().rstrip("/") for o in os.environ.get("QA_CORS_ORIGINS", "").split(",") if o.strip())
        s = cls(
            corpus_dir=_env_path("QA_CORPUS_DIR", "corpus"),
            models_dir=_env_path("QA_MODELS_DIR", "models"),
            top_k=_env_int("QA_TOP_K", 3, minimum=1),
            max_question_chars=_env_int("QA_MAX_QUESTION_CHARS", 1000, minimum=1),
            max_body_bytes=_env_int("QA_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1),
            abstain_threshold=_env_float("QA_ABSTAIN_THRESHOLD", None),
            admin_token=os.environ.get("QA_ADMIN_TOKEN") or None,
            encoders=tuple(e.strip() for e in os.environ.get("QA_ENCODERS", "wl,lm").split(",") if e.strip()),
            cors_origins=cors,
            workers=_env_int("QA_WORKERS", 2, minimum=1),
            threads=_env_int("QA_THREADS", 4, minimum=1),
            reload_interval=_env_float("QA_RELOAD_INTERVAL", 0.2),
            lock_timeout=_env_float("QA_LOCK_TIMEOUT", 300.0),
            write_wait=_env_float("QA_WRITE_WAIT", 2.0),
            read_timeout=_env_float("QA_READ_TIMEOUT", 15.0),
            auth_fail_limit=_env_int("QA_AUTH_FAIL_LIMIT", 10),
            merge_min_docs=_env_int("QA_MERGE_MIN_DOCS", 100),
            merge_fraction=_env_float("QA_MERGE_FRACTION", 0.02),
            merge_max_docs=_env_int("QA_MERGE_MAX_DOCS", 1000),
        )
        encoders = set(s.encoders) - {"wl", "lm"}
        if encoders:
            raise SettingsError(f"QA_ENCODERS={os.environ.get('QA_ENCODERS')!r}: unknown encoder(s) "
                                f"{', '.join(sorted(encoders))} (known: wl, lm)")
        return replace(s, **{k: v for k, v in overrides.items() if v is not None})
