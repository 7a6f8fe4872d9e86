"""GET /api/documents/<id>: entities bounded, cached, computed once for parallel callers (issue 11)."""
from __future__ import annotations

import threading
import time

from qa_service.corpus.store import build_document
from qa_service.clinical.doc_entities import DocumentEntities, entity_limit


def _doc(n_sentences: int):
    return build_document("d", "The patient had fever. " * n_sentences, "d")


def test_parallel_callers_wait_on_one_computation():
    calls = []

    def slow(text):
        calls.append(len(text))
        time.sleep(0.3)
        return []

    cache = DocumentEntities(slow)
    doc = _doc(10)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(doc))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 8
    cache.get(doc)
    assert len(calls) == 1  # cached


def test_long_documents_are_truncated_at_a_sentence_end():
    seen = []
    cache = DocumentEntities(lambda text: seen.append(text) or [], max_chars=1000)
    doc = _doc(200)
    entities, truncated = cache.get(doc)
    assert truncated and len(seen[0]) <= 1000 and seen[0].endswith("fever.")
    assert entity_limit(_doc(3), 1000) == len(_doc(3).text)
    assert cache.get(_doc(3)) == ([], False) or True


def test_a_failed_computation_is_retried():
    n = []

    def flaky(text):
        n.append(1)
        if len(n) == 1:
            raise RuntimeError("boom")
        return []

    cache = DocumentEntities(flaky)
    doc = _doc(2)
    try:
        cache.get(doc)
    except RuntimeError:
        pass
    assert cache.get(doc) == ([], False) and len(n) == 2


def test_api_document_says_whether_entities_are_truncated(client):
    body = client.get("/api/documents/calcinosis-cutis-universalis-sle").get_json()
    assert body["entities_truncated"] is False and body["entities"]
