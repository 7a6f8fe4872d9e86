"""Entities of a whole document for GET /api/documents/<id>: bounded, cached, computed once.

Entity extraction grows faster than linearly with the text (abbreviation resolution rescans it), so
only the first MAX_ENTITY_CHARS characters of a document (cut at a sentence end) are processed, and
the response says so (`entities_truncated`). Results are kept in a small LRU per Answerer (so per
loaded index); parallel requests for the same document wait on the one computation in progress
(a future per document) instead of each computing it.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from concurrent.futures import Future

from ..domain import Document, Entity

MAX_ENTITY_CHARS = 100_000
CACHE_SIZE = 32


def entity_limit(doc: Document, max_chars: int = MAX_ENTITY_CHARS) -> int:
    """Characters of the document's text to process: all of it, or up to the end of the last
    sentence that ends within max_chars (max_chars itself when no sentence does)."""
    if len(doc.text) <= max_chars:
        return len(doc.text)
    cut = 0
    for s in doc.sentences:  # in text order
        if s.end > max_chars:
            break
        cut = s.end
    return cut or max_chars


class DocumentEntities:
    """LRU of {document id: Future[list[Entity]]} with single-flight computation."""

    def __init__(self, extract, max_chars: int = MAX_ENTITY_CHARS, size: int = CACHE_SIZE):
        self._extract = extract
        self.max_chars = max_chars
        self.size = size
        self._lock = threading.Lock()
        self._futures: OrderedDict[str, Future] = OrderedDict()
        self.computed = 0  # how many extractions ran (for tests)

    def get(self, doc: Document) -> tuple[list[Entity], bool]:
        """(entities, truncated) for the document."""
        limit = entity_limit(doc, self.max_chars)
        truncated = limit < len(doc.text)
        if self._extract is None:
            return [], False
        with self._lock:
            fut = self._futures.get(doc.id)
            owner = fut is None
            if owner:
                fut = Future()
                self._futures[doc.id] = fut
                while len(self._futures) > self.size:
                    self._futures.popitem(last=False)  # waiters keep their own reference
            else:
                self._futures.move_to_end(doc.id)
        assert fut is not None
        if owner:
            try:
                self.computed += 1
                fut.set_result(list(self._extract(doc.text[:limit])))
            except BaseException as exc:  # waiters see the error; the next request tries again
                fut.set_exception(exc)
                with self._lock:
                    if self._futures.get(doc.id) is fut:
                        del self._futures[doc.id]
                raise
        return fut.result(), truncated


_per_answerer: "weakref.WeakKeyDictionary[object, DocumentEntities]" = weakref.WeakKeyDictionary()
_per_answerer_lock = threading.Lock()


def for_answerer(answerer) -> DocumentEntities:
    """The cache of an Answerer (one per loaded index; it goes when the answerer goes)."""
    with _per_answerer_lock:
        cache = _per_answerer.get(answerer)
        if cache is None:
            cache = _per_answerer[answerer] = DocumentEntities(getattr(answerer, "entities", None))
        return cache
