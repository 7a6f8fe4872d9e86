"""One place for every setting: a dataclass read from environment variables, then an optional
`casebook.toml`, then the defaults.

`casebook.toml` (in the working directory, or the file $QA_CONFIG names) holds any of the
`Settings` fields by name (`top_k = 5`, `corpus_dir = "reports"`, `encoders = ["wl"]`); an
environment variable, when set, wins over the file. An unknown key or a bad value is a
`SettingsError` naming the key (or the variable).
"""
from __future__ import annotations

import logging
import math
import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

log = logging.getLogger(__name__)

CONFIG_FILE = "casebook.toml"


class SettingsError(ValueError):
    """A setting's value is invalid; the message names the environment variable or the file's key."""


def _int(where: str, raw: object, minimum: int) -> int:
    if isinstance(raw, str):
        try:
            raw = int(raw)
        except ValueError:
            raise SettingsError(f"{where}={raw!r} is not a whole number") from None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SettingsError(f"{where}={raw!r} is not a whole number")
    if raw < minimum:
        raise SettingsError(f"{where}={raw} must be at least {minimum}")
    return raw


def _float(where: str, raw: object, minimum: float) -> float:
    shown = raw
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raise SettingsError(f"{where}={raw!r} is not a number") from None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SettingsError(f"{where}={raw!r} is not a number")
    if not raw >= minimum or math.isinf(raw):  # also refuses NaN
        raise SettingsError(f"{where}={shown} must be a finite number of at least {minimum}")
    return float(raw)


def _words(where: str, raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(w, str) for w in raw):
        raise SettingsError(f"{where}={raw!r} is not a list of names")
    return tuple(w.strip() for w in raw if w.strip())


def _text(where: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise SettingsError(f"{where}={raw!r} is not a string")
    return raw


def _flag(where: str, raw: object) -> bool:
    if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(raw, bool):
        raise SettingsError(f"{where}={raw!r} is not true or false")
    return raw


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
        """Environment variables over `casebook.toml` (or $QA_CONFIG) over the defaults; then the
        `overrides` that are not None (command-line options)."""
        if os.environ.get("QA_JSONL"):
            # The corpus folder is the one source of reports now: say so rather than serve fewer.
            log.warning("QA_JSONL is no longer read: import the file once with `qa-service import %s`; "
                        "its reports then stay in the corpus folder", os.environ["QA_JSONL"])
        values = read_config_file()
        for name, (env, parse) in _SOURCES.items():
            raw = os.environ.get(env) if env else None
            # An empty variable means the default, except where empty is a value (no token, no encoders).
            if raw is not None and (raw.strip() or name in ("admin_token", "encoders")):
                values[name] = parse(env, raw)
        if "cors_origins" in values:
            values["cors_origins"] = tuple(o.rstrip("/") for o in values["cors_origins"])
        if values.get("admin_token") == "":
            values["admin_token"] = None
        s = cls(**values)
        return replace(s, **{k: v for k, v in overrides.items() if v is not None})


def _min1(where: str, raw: object) -> int:
    return _int(where, raw, 1)


def _min0(where: str, raw: object) -> int:
    return _int(where, raw, 0)


def _nonneg(where: str, raw: object) -> float:
    return _float(where, raw, 0.0)


def _encoders(where: str, raw: object) -> tuple[str, ...]:
    names = _words(where, raw)
    unknown = set(names) - {"wl", "lm"}
    if unknown:
        raise SettingsError(f"{where}={raw!r}: unknown encoder(s) {', '.join(sorted(unknown))} (known: wl, lm)")
    return names


def _path(where: str, raw: object) -> Path:
    return Path(_text(where, raw))


# Every setting: (its environment variable or "" for file-only, its parser). The one table both
# sources go through, so a value from the file is checked exactly as the same value from the environment.
_SOURCES = {
    "corpus_dir": ("QA_CORPUS_DIR", _path),
    "models_dir": ("QA_MODELS_DIR", _path),
    "top_k": ("QA_TOP_K", _min1),
    "max_top_k": ("", _min1),
    "max_question_chars": ("QA_MAX_QUESTION_CHARS", _min1),
    "max_body_bytes": ("QA_MAX_BODY_BYTES", _min1),
    "bm25_k1": ("", _nonneg),
    "bm25_b": ("", _nonneg),
    "context_weight": ("", _nonneg),
    "concept_weight": ("", _nonneg),
    "abstain_threshold": ("QA_ABSTAIN_THRESHOLD", _nonneg),
    "encoders": ("QA_ENCODERS", _encoders),
    "spelling": ("", _flag),
    "admin_token": ("QA_ADMIN_TOKEN", _text),
    "cors_origins": ("QA_CORS_ORIGINS", _words),
    "workers": ("QA_WORKERS", _min1),
    "threads": ("QA_THREADS", _min1),
    "reload_interval": ("QA_RELOAD_INTERVAL", _nonneg),
    "lock_timeout": ("QA_LOCK_TIMEOUT", _nonneg),
    "write_wait": ("QA_WRITE_WAIT", _nonneg),
    "read_timeout": ("QA_READ_TIMEOUT", _nonneg),
    "auth_fail_limit": ("QA_AUTH_FAIL_LIMIT", _min0),
    "auth_fail_window": ("", _nonneg),
    "merge_min_docs": ("QA_MERGE_MIN_DOCS", _min0),
    "merge_fraction": ("QA_MERGE_FRACTION", _nonneg),
    "merge_max_docs": ("QA_MERGE_MAX_DOCS", _min0),
}
assert set(_SOURCES) == {f.name for f in fields(Settings)}, "every setting has one source entry"


def read_config_file() -> dict:
    """The settings in $QA_CONFIG (which must exist when set) or ./casebook.toml (when present), checked."""
    named = os.environ.get("QA_CONFIG")
    path = Path(named) if named else Path(CONFIG_FILE)
    if not path.is_file():
        if named:
            raise SettingsError(f"QA_CONFIG={named!r}: no such file")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    values = {}
    for key, raw in data.items():
        if key not in _SOURCES:
            raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(_SOURCES))})")
        values[key] = _SOURCES[key][1](f"{path}: {key}", raw)
    return values
