"""End to end with a real gunicorn server (2 workers) on 127.0.0.1: every worker moves to the new
index after an ingest or delete, queries during a rebuild are answered from the old index, and a
kill -9 in the middle of an ingest leaves a consistent corpus and index."""
from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reports import LEPROSY, STONEFISH, STONEFISH_ANSWER, STONEFISH_QUESTION, STONEFISH_TITLE
from server_util import Server

pytestmark = pytest.mark.slow

REPORT = Path(__file__).resolve().parents[2] / "corpus" / "calcinosis-cutis-universalis-sle.txt"
TOKEN = "server-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OLD_QUESTION = "Which antibodies were positive?"


@pytest.fixture()
def dirs(tmp_path):
    """A corpus with the shipped report, its index built beforehand (so the server's slow-build test
    hook only slows the rebuilds of writes, not the start-up)."""
    from qa_service.config import Settings
    from qa_service.service.build import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    build(Settings(corpus_dir=corpus, models_dir=tmp_path / "models"))
    return corpus, tmp_path / "models", tmp_path


def _ask_many(server: Server, question: str, n: int, marker: str, concurrency: int = 8) -> list:
    def one(i):
        return server.request("POST", f"/api/ask?{marker}={i}", {"question": question, "top_k": 3})

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(n)))


def _ask_on_both_workers(server: Server, question: str, marker: str, check, rounds: int = 15) -> int:
    """Rounds of 40 concurrent questions until both workers have answered some (each response is
    checked); returns how many were asked. Bounded: a worker that never answers fails the test."""
    n = 0
    for r in range(rounds):
        for status, body, _ in _ask_many(server, question, 40, f"{marker}-{r}"):
            assert status == 200, body
            check(body)
        n += 40
        if len(server.pids(marker)) == 2:
            return n
        time.sleep(0.2)
    raise AssertionError(f"only workers {server.pids(marker)} answered {n} requests")


def _doc_ids(server: Server) -> list[str]:
    status, body, _ = server.request("GET", "/api/documents")
    assert status == 200
    return [d["id"] for d in body["documents"]]


def test_every_worker_moves_to_the_new_index(dirs):
    corpus, models, base = dirs
    server = Server(corpus, models, base / "server.log", token=TOKEN, workers=2, threads=2,
                    slow_swap=1.5)
    try:
        server.wait_ready()
        def from_old(b):
            assert b["answers"] and b["answers"][0]["document_id"] == REPORT.stem

        _ask_on_both_workers(server, OLD_QUESTION, "phase-warm", from_old)

        # Ingest (slow rebuild) while questions keep coming: answered from the old index meanwhile.
        result = {}
        writer = threading.Thread(target=lambda: result.update(r=server.request(
            "POST", "/api/documents", {"id": "stonefish", "title": STONEFISH_TITLE, "text": STONEFISH}, AUTH)))
        writer.start()
        during = []
        deadline = time.monotonic() + 30
        while writer.is_alive() and time.monotonic() < deadline and len(during) < 200:
            during.append(server.request("POST", "/api/ask?phase-during=1", {"question": OLD_QUESTION}))
            during.append((*server.request("GET", "/api/documents?phase-during=1")[:2], None))
        writer.join(60)
        status, body, headers = result["r"]
        assert status == 201, body
        assert body["id"] == "stonefish" and body["title"] == STONEFISH_TITLE and body["n_passages"] > 0
        assert len(during) >= 4, "the rebuild should have overlapped some queries"
        for s, b, _ in during:
            assert s == 200
            if "answers" in b:
                assert b["answers"] and b["answers"][0]["document_id"] == REPORT.stem
        assert (corpus / "stonefish.txt").read_text() == STONEFISH

        # Every response, whichever worker serves it, answers from the new report.
        def from_new(b):
            assert b["answers"], b
            assert b["answers"][0]["document_id"] == "stonefish" and STONEFISH_ANSWER in b["answers"][0]["text"]

        assert _ask_on_both_workers(server, STONEFISH_QUESTION, "phase-after", from_new) >= 40
        lists = [_doc_ids(server) for _ in range(10)]
        assert all("stonefish" in ids for ids in lists)

        # Delete: gone from every worker.
        status, body, _ = server.request("DELETE", "/api/documents/stonefish", headers=AUTH)
        assert status == 200 and body == {"id": "stonefish", "deleted": True}
        def without_it(b):
            assert all(a["document_id"] != "stonefish" for a in b["answers"])

        _ask_on_both_workers(server, STONEFISH_QUESTION, "phase-deleted", without_it)
        for _ in range(10):
            assert server.request("GET", "/api/documents/stonefish")[0] == 404
        assert not (corpus / "stonefish.txt").exists()
        # One index folder left, no temp files.
        assert len(list(models.glob("index-*"))) == 1 and not list(models.glob(".tmp-*"))
    finally:
        server.stop()


def test_kill_9_during_ingest_leaves_a_consistent_state(dirs):
    corpus, models, base = dirs
    server = Server(corpus, models, base / "crash.log", token=TOKEN, workers=2, threads=2,
                    slow_swap=30)
    old_current = None
    try:
        server.wait_ready()
        old_current = (models / "CURRENT").read_text()
        status, old_doc, _ = server.request("GET", f"/api/documents/{REPORT.stem}")
        assert status == 200
        old_answer = server.request("POST", "/api/ask", {"question": OLD_QUESTION})[1]["answers"][0]

        writer = threading.Thread(target=lambda: _swallow(lambda: server.request(
            "POST", "/api/documents", {"id": "stonefish", "title": STONEFISH_TITLE, "text": STONEFISH}, AUTH,
            timeout=60)), daemon=True)
        writer.start()
        deadline = time.monotonic() + 20
        while not (corpus / "stonefish.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (corpus / "stonefish.txt").exists(), "the ingest should have stored the report"
        time.sleep(0.5)  # now inside the rebuild, before the swap
        # Still answering from the old index while the rebuild runs.
        assert server.request("POST", "/api/ask", {"question": OLD_QUESTION})[1]["answers"][0] == old_answer
        server.kill()  # kill -9, master and workers
    finally:
        server.stop()
    writer.join(5)
    assert (models / "CURRENT").read_text() == old_current, "the swap must not have happened"

    # What other interrupted writes leave behind: an index folder being written, a CURRENT pointer
    # being replaced, and a report whose os.replace never happened (that ingest did not happen).
    (models / ".tmp-index-crashed").mkdir()
    (models / ".tmp-index-crashed" / "matrix.npz").write_bytes(b"partial")
    (models / ".CURRENT.tmp-99999").write_text("index-bogus")
    (corpus / ".leprosy.txt.tmp-0123456789ab").write_text(LEPROSY)

    restarted = Server(corpus, models, base / "restart.log", token=TOKEN, workers=2, threads=2)
    try:
        restarted.wait_ready()
        # The previous documents are served intact ...
        status, doc, _ = restarted.request("GET", f"/api/documents/{REPORT.stem}")
        assert status == 200 and doc == old_doc
        # (the same answer; its score moves a little, since the stored report changed the corpus statistics)
        again = restarted.request("POST", "/api/ask", {"question": OLD_QUESTION})[1]["answers"][0]
        assert {k: v for k, v in again.items() if k != "score"} == {k: v for k, v in old_answer.items() if k != "score"}
        # ... the ingest happened fully (its report was stored, so start-up rebuilt the index with it)
        # and the half-written one not at all: corpus files and index agree.
        stored = sorted(p.stem for p in corpus.glob("*.txt"))
        assert stored == sorted(_doc_ids(restarted)) == sorted([REPORT.stem, "stonefish"])
        status, body, _ = restarted.request("GET", "/api/documents/stonefish")
        assert status == 200 and body["title"] == STONEFISH_TITLE
        a = restarted.request("POST", "/api/ask", {"question": STONEFISH_QUESTION})[1]["answers"][0]
        assert a["document_id"] == "stonefish" and body["text"][a["start"]:a["end"]] == a["text"]
        # No temp files left behind; one index folder, the one CURRENT names.
        assert sorted(p.name for p in corpus.iterdir()) == sorted(
            [REPORT.name, "stonefish.txt", "stonefish.meta.json"])
        # (besides the writer lock and the compiled vocabulary cache)
        assert sorted(p.name for p in models.iterdir()
                      if p.name != ".lock" and not p.name.startswith("vocabulary-")) == sorted(
            ["CURRENT", (models / "CURRENT").read_text().strip()])
        assert not any(".tmp" in p.name for p in models.iterdir())
        assert (models / "CURRENT").read_text() != old_current
        # And it keeps working: the interrupted id can be deleted, a new ingest goes through.
        assert restarted.request("DELETE", "/api/documents/stonefish", headers=AUTH)[0] == 200
        assert restarted.request("POST", "/api/documents?id=leprosy", LEPROSY,
                                 {**AUTH, "Content-Type": "text/plain"})[0] == 201
        assert sorted(_doc_ids(restarted)) == sorted([REPORT.stem, "leprosy"])
    finally:
        restarted.stop()


def _swallow(fn):
    try:
        fn()
    except Exception:
        pass  # the server is killed under this request
