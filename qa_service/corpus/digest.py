"""Per-report digests of the corpus folder (a report's file name, bytes and sidecar bytes), summed
into the corpus fingerprint so one ingest can update it without reading the other reports."""
from __future__ import annotations

import hashlib
from pathlib import Path

from .store import SIDECAR_SUFFIX, hash_file

DIGEST_BITS = 128


def report_digest(path: Path) -> int:
    """A 128-bit digest of one corpus report: its file name, its bytes and its title sidecar's bytes."""
    h = hashlib.sha256(path.name.encode() + b"\0")
    hash_file(h, path)
    h.update(b"\0sidecar\0")
    try:
        h.update((path.parent / f"{path.stem}{SIDECAR_SUFFIX}").read_bytes())
    except OSError:
        h.update(b"<none>")
    return int.from_bytes(h.digest()[:DIGEST_BITS // 8], "big")
