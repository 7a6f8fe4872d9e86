"""The writer lock: one writer (build, ingest, delete, import, merge) at a time across every worker
process and thread. Low in the import graph so that every writing module can take it."""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from typing import Iterator

from ..config import Settings

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


__all__ = ["LOCK_FILE", "LockTimeout", "writer_lock"]
