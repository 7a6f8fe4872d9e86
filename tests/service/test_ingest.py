"""POST/DELETE /api/documents: auth, validation, durable storage, atomic rebuild and reload."""
from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from conftest import imported
from qa_service.config import Settings
from reports import LEPROSY, LEPROSY_QUESTION, STONEFISH, STONEFISH_ANSWER, STONEFISH_QUESTION, STONEFISH_TITLE

REPORT = Path(__file__).resolve().parents[2] / "corpus" / "calcinosis-cutis-universalis-sle.txt"
TOKEN = "s3cret-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSONL_DOC = {"id": "jsonl-case", "title": "A JSONL case",
             "text": "Case report\nA farmer had brucellosis confirmed by blood culture. Doxycycline was given."}

# The corpus of every test here: the shipped report and one imported JSONL row (text and sidecar).
BASE_FILES = sorted([REPORT.name, "jsonl-case.meta.json", "jsonl-case.txt"])


def _settings(base: Path, **kw) -> Settings:
    corpus = base / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    if not (corpus / REPORT.name).exists():
        shutil.copy(REPORT, corpus / REPORT.name)
    jsonl = base / "extra.jsonl"
    jsonl.write_text(json.dumps(JSONL_DOC) + "\n")
    defaults = dict(corpus_dir=corpus, models_dir=base / "models", admin_token=TOKEN, reload_interval=0.05)
    defaults.update(kw)
    return imported(Settings(**defaults), jsonl)


@pytest.fixture()
def svc(tmp_path):
    """A writable service on its own corpus copy: (settings, app, client)."""
    from qa_service.web.app import create_app

    s = _settings(tmp_path)
    app = create_app(s)
    return s, app, app.test_client()


def _error(r, status, code):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.content_type == "application/json"
    body = r.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body


def _ids(client) -> list[str]:
    return [d["id"] for d in client.get("/api/documents").get_json()["documents"]]


def _no_temp_files(s: Settings) -> None:
    leftovers = [p.name for p in s.corpus_dir.iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in s.models_dir.iterdir() if p.name.startswith(".") and p.name != ".lock"]
    assert leftovers == []
    assert len(list(s.models_dir.glob("index-*"))) == 1


def test_ingest_json_then_ask_then_delete(svc):
    s, app, c = svc
    r = c.post("/api/documents", json={"id": "stonefish", "title": STONEFISH_TITLE, "text": STONEFISH}, headers=AUTH)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["id"] == "stonefish" and body["title"] == STONEFISH_TITLE
    assert "Case report" in body["sections"] and body["n_passages"] > 0
    assert r.headers["Location"] == "/api/documents/stonefish"
    # Stored durably: the text exactly as sent; the title, where it came from and when in the sidecar.
    assert (s.corpus_dir / "stonefish.txt").read_text(encoding="utf-8") == STONEFISH
    side = json.loads((s.corpus_dir / "stonefish.meta.json").read_text())
    assert side["title"] == STONEFISH_TITLE and side["source"] == {"kind": "api", "format": "text"}
    assert side["added"].endswith("Z") and len(side["sha256"]) == 64
    _no_temp_files(s)
    assert "stonefish" in _ids(c)
    listed = {d["id"]: d for d in c.get("/api/documents").get_json()["documents"]}
    assert listed["stonefish"]["source"] == {"kind": "api", "format": "text"}
    assert listed["stonefish"]["added"] == side["added"]
    assert listed["jsonl-case"]["source"] == {"kind": "import", "file": "extra.jsonl", "row": 1, "format": "jsonl"}
    assert listed[REPORT.stem]["source"] == {"kind": "corpus", "file": REPORT.name}
    health = c.get("/api/health").get_json()
    assert {(g["kind"], g.get("file"), g["documents"]) for g in health["sources"]} == {
        ("api", None, 1), ("import", "extra.jsonl", 1), ("corpus", None, 1)}
    # Added incrementally: the last full build's changes stay; the delta segment holds the new report.
    assert health["index"]["delta"] == {"documents": 1, "deleted": 0}
    answers = c.post("/api/ask", json={"question": STONEFISH_QUESTION}).get_json()["answers"]
    assert answers and answers[0]["document_id"] == "stonefish" and STONEFISH_ANSWER in answers[0]["text"]
    assert answers[0]["document_title"] == STONEFISH_TITLE

    r = c.delete("/api/documents/stonefish", headers=AUTH)
    assert r.status_code == 200 and r.get_json() == {"id": "stonefish", "deleted": True}
    assert not (s.corpus_dir / "stonefish.txt").exists() and not (s.corpus_dir / "stonefish.meta.json").exists()
    assert "stonefish" not in _ids(c)
    answers = c.post("/api/ask", json={"question": STONEFISH_QUESTION}).get_json()["answers"]
    assert all(a["document_id"] != "stonefish" for a in answers)
    _error(c.get("/api/documents/stonefish"), 404, "unknown_document")
    _error(c.delete("/api/documents/stonefish", headers=AUTH), 404, "unknown_document")
    _no_temp_files(s)


def test_ingest_text_plain_with_query_id_and_title(svc):
    s, _, c = svc
    r = c.post("/api/documents?id=leprosy-1&title=Leprosy%20in%20a%20hunter", data=LEPROSY.encode(),
               content_type="text/plain; charset=utf-8", headers=AUTH)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["title"] == "Leprosy in a hunter"
    assert (s.corpus_dir / "leprosy-1.txt").read_text() == LEPROSY
    # The new report is searchable at once (which of its sentences ranks first is the ranker's
    # business, tested in tests/qa): answers come from it and hold the biopsy's finding.
    answers = c.post("/api/ask", json={"question": LEPROSY_QUESTION}).get_json()["answers"]
    assert answers and answers[0]["document_id"] == "leprosy-1"
    assert any(a["document_id"] == "leprosy-1" and "leprosy" in a["text"] for a in answers)


def test_ingest_generates_id_and_title(svc):
    s, _, c = svc
    r = c.post("/api/documents", data=LEPROSY.encode(), content_type="text/plain", headers=AUTH)
    assert r.status_code == 201
    doc_id = r.get_json()["id"]
    assert doc_id.startswith("report-") and (s.corpus_dir / f"{doc_id}.txt").exists()
    assert "title" not in json.loads((s.corpus_dir / f"{doc_id}.meta.json").read_text())
    assert r.get_json()["title"]  # guessed from the text, or the id
    r2 = c.post("/api/documents", json={"text": LEPROSY}, headers=AUTH)
    assert r2.status_code == 201 and r2.get_json()["id"] != doc_id


def test_ingest_survives_restart_with_title(svc):
    from qa_service.web.app import create_app

    s, _, c = svc
    assert c.post("/api/documents", json={"id": "stonefish", "title": STONEFISH_TITLE, "text": STONEFISH},
                  headers=AUTH).status_code == 201
    fresh = create_app(s).test_client()  # a new process loads from models/ (no rebuild needed)
    docs = {d["id"]: d for d in fresh.get("/api/documents").get_json()["documents"]}
    assert docs["stonefish"]["title"] == STONEFISH_TITLE
    from qa_service.service.build import load_or_build

    assert load_or_build(s).rebuilt is False  # sidecars are part of the fingerprint, and it matches


def test_ingest_auth(tmp_path, client):
    from qa_service.web.app import create_app

    # No token configured (the shared app): disabled whatever the header says.
    _error(client.post("/api/documents", json={"text": STONEFISH}), 403, "ingest_disabled")
    _error(client.post("/api/documents", json={"text": STONEFISH}, headers=AUTH), 403, "ingest_disabled")
    _error(client.delete("/api/documents/calcinosis-cutis-universalis-sle", headers=AUTH), 403, "ingest_disabled")
    s = _settings(tmp_path, auth_fail_limit=1000)  # the failure rate limit: tests/e2e
    c = create_app(s).test_client()
    for headers in ({}, {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "},
                    {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": "Bearer ☃"}):
        r = c.post("/api/documents", json={"id": "x1", "text": STONEFISH}, headers=headers)
        _error(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        _error(c.delete(f"/api/documents/{REPORT.stem}", headers=headers), 401, "unauthorized")
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == BASE_FILES
    assert c.post("/api/documents", json={"id": "x1", "text": STONEFISH},
                  headers={"Authorization": f"bearer  {TOKEN}"}).status_code == 201


BAD_IDS = ["../evil", "..", ".", ".hidden", "a/b", "a\\b", "/etc/passwd", "x" * 201, "", " ", "tab\tid",
           "nul\x00id", "new\nline", "ünïcode", "a b", "-leading-dash", "..%2Fescape", "%2e%2e", "C:", "a:b"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_ingest_rejects_invalid_ids(svc, bad):
    s, _, c = svc
    _error(c.post("/api/documents", json={"id": bad, "text": STONEFISH}, headers=AUTH), 400, "invalid_id")
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == BASE_FILES
    assert not (s.corpus_dir.parent / "evil.txt").exists()


def test_invalid_ids_in_query_and_delete_path(svc):
    s, _, c = svc
    _error(c.post("/api/documents?id=..%2F..%2Fevil", data=b"Case report\nSome text here.",
                  content_type="text/plain", headers=AUTH), 400, "invalid_id")
    for path in ("/api/documents/..%2F..%2Fetc%2Fpasswd", "/api/documents/a/b", "/api/documents/%2e%2e",
                 "/api/documents/.hidden", "/api/documents/" + "y" * 201, "/api/documents/bad%00id"):
        r = c.delete(path, headers=AUTH)
        assert r.status_code in (400, 404), path
        assert r.get_json()["error"]["code"] in ("invalid_id", "not_found")
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == BASE_FILES
    assert s.corpus_dir.joinpath(REPORT.name).exists()


def test_ingest_validation(svc):
    s, _, c = svc
    _error(c.post("/api/documents", json={"id": "e1", "text": ""}, headers=AUTH), 422, "empty_report")
    _error(c.post("/api/documents", json={"id": "e1", "text": " \n\t "}, headers=AUTH), 422, "empty_report")
    _error(c.post("/api/documents", json={"id": "e1"}, headers=AUTH), 400, "missing_text")
    _error(c.post("/api/documents", json={"id": "e1", "text": 5}, headers=AUTH), 400, "invalid_text")
    _error(c.post("/api/documents", json={"id": 5, "text": STONEFISH}, headers=AUTH), 400, "invalid_id")
    _error(c.post("/api/documents", json={"title": ["x"], "text": STONEFISH}, headers=AUTH), 400, "invalid_title")
    _error(c.post("/api/documents", json={"title": "x" * 501, "text": STONEFISH}, headers=AUTH), 400, "invalid_title")
    _error(c.post("/api/documents", json={"title": "bad\x07title", "text": STONEFISH}, headers=AUTH), 400,
           "invalid_title")
    _error(c.post("/api/documents", json=["text"], headers=AUTH), 400, "invalid_body")
    _error(c.post("/api/documents", data="{nope", content_type="application/json", headers=AUTH), 400, "invalid_json")
    _error(c.post("/api/documents", data=b"\xff\xfe bad", content_type="text/plain", headers=AUTH), 400,
           "invalid_text")
    _error(c.post("/api/documents", data=STONEFISH.encode("utf-16"), content_type="text/plain; charset=utf-16",
                  headers=AUTH), 415, "unsupported_media_type")
    _error(c.post("/api/documents", data=STONEFISH, content_type="text/html", headers=AUTH), 415,
           "unsupported_media_type")
    _error(c.post("/api/documents", data={"text": STONEFISH}, headers=AUTH), 415, "unsupported_media_type")
    _error(c.post("/api/documents", data='{"text": "\\ud800 lone surrogate in a report"}',
                  content_type="application/json", headers=AUTH), 400, "invalid_text")
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == BASE_FILES


def test_duplicate_ids_conflict(svc):
    s, _, c = svc
    _error(c.post("/api/documents", json={"id": REPORT.stem, "text": STONEFISH}, headers=AUTH), 409, "duplicate_id")
    _error(c.post("/api/documents", json={"id": "jsonl-case", "text": STONEFISH}, headers=AUTH), 409, "duplicate_id")
    assert c.post("/api/documents", json={"id": "twice", "text": STONEFISH}, headers=AUTH).status_code == 201
    _error(c.post("/api/documents", json={"id": "twice", "text": LEPROSY}, headers=AUTH), 409, "duplicate_id")
    assert (s.corpus_dir / "twice.txt").read_text() == STONEFISH
    assert (s.corpus_dir / REPORT.name).read_bytes() == REPORT.read_bytes()


def test_ids_are_unique_case_insensitively(svc):
    s, _, c = svc
    _error(c.post("/api/documents", json={"id": REPORT.stem.upper(), "text": STONEFISH}, headers=AUTH), 409,
           "duplicate_id")
    _error(c.post("/api/documents", json={"id": "JSONL-Case", "text": STONEFISH}, headers=AUTH), 409, "duplicate_id")
    assert c.post("/api/documents", json={"id": "foo", "text": STONEFISH}, headers=AUTH).status_code == 201
    r = c.post("/api/documents", json={"id": "Foo", "text": LEPROSY}, headers=AUTH)
    _error(r, 409, "duplicate_id")
    assert "case-insensitively" in r.get_json()["error"]["message"]
    assert not (s.corpus_dir / "Foo.txt").exists()


@pytest.mark.parametrize("text", ["\ufeff", "\ufeff\ufeff", "\ufeff \n", "\u200b\u200b", "\x00\x00\x00",
                                  "----- ... ;;;", "\x01\x02\x03\x04 a b", "\ufeff\u200b\u2003"])
def test_reports_empty_after_cleaning_store_nothing(svc, text):
    """The issue's case: a lone BOM passed the checks, was written, read back empty and made a 500;
    the file stayed, so the id then answered 409 on POST and 404 on GET."""
    s, _, c = svc
    before = sorted(p.name for p in s.corpus_dir.iterdir())
    r = c.post("/api/documents", json={"id": "bom-only", "text": text}, headers=AUTH)
    assert r.status_code in (400, 422), r.get_json()
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == before
    assert c.get("/api/documents/bom-only").status_code == 404
    r = c.post("/api/documents", json={"id": "bom-only", "text": STONEFISH}, headers=AUTH)
    assert r.status_code == 201
    assert c.get("/api/documents/bom-only").status_code == 200
    assert c.delete("/api/documents/bom-only", headers=AUTH).status_code == 200


def test_a_report_the_build_skips_is_rolled_back(svc, monkeypatch):
    """Defence in depth: if the build skips the new report anyway, nothing stays stored and the
    answer is a 422 with the build's reason."""
    import qa_service.service.ingest as ingest

    s, _, c = svc
    monkeypatch.setattr(ingest, "check_report", lambda *a: None)
    r = c.post("/api/documents", json={"id": "skipped", "text": "\ufeff"}, headers=AUTH)
    _error(r, 422, "invalid_report")
    assert "empty" in r.get_json()["error"]["message"]
    assert not (s.corpus_dir / "skipped.txt").exists()
    assert "skipped" not in _ids(c)
    assert c.post("/api/documents", json={"id": "skipped", "text": STONEFISH}, headers=AUTH).status_code == 201


def test_an_imported_jsonl_report_is_deleted_like_any_other(svc):
    s, _, c = svc
    assert "jsonl-case" in _ids(c)
    assert c.delete("/api/documents/jsonl-case", headers=AUTH).status_code == 200
    assert "jsonl-case" not in _ids(c)
    assert not (s.corpus_dir / "jsonl-case.txt").exists() and not (s.corpus_dir / "jsonl-case.meta.json").exists()


def test_failed_rebuild_rolls_back(svc, monkeypatch):
    s, app, c = svc
    state = app.extensions["qa"]
    before = _ids(c)
    current = (s.models_dir / "CURRENT").read_text()

    def broken(*args):
        raise RuntimeError("disk on fire /secret/path")

    monkeypatch.setattr(state, "index_add", broken)
    monkeypatch.setattr(state, "index_delete", broken)
    r = c.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH)
    _error(r, 500, "internal_error")
    assert b"secret" not in r.data and b"Traceback" not in r.data
    assert not (s.corpus_dir / "stonefish.txt").exists()
    _error(c.delete(f"/api/documents/{REPORT.stem}", headers=AUTH), 500, "internal_error")
    assert (s.corpus_dir / REPORT.name).read_bytes() == REPORT.read_bytes()
    assert (s.models_dir / "CURRENT").read_text() == current and _ids(c) == before
    _no_temp_files(s)


def test_another_worker_sees_the_write(tmp_path):
    """Two apps on one models/ folder stand for two worker processes."""
    from qa_service.web.app import create_app

    s = _settings(tmp_path, reload_interval=0.3)
    a, b = create_app(s).test_client(), create_app(s).test_client()
    assert "stonefish" not in _ids(b)  # b has checked CURRENT and holds the old index
    assert a.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    answers = b.post("/api/ask", json={"question": STONEFISH_QUESTION}).get_json()["answers"]
    assert answers and answers[0]["document_id"] == "stonefish"
    assert b.delete("/api/documents/stonefish", headers=AUTH).status_code == 200
    assert "stonefish" not in _ids(a)


def test_concurrent_writers_are_serialized(svc):
    """Writers queue briefly (two at a time per process, at most write_wait for the lock); the others
    get 503 + Retry-After at once and succeed when they retry. None is lost or half-done."""
    s, app, _ = svc
    results = {}

    def post(i):
        c = app.test_client()
        for _ in range(40):
            r = c.post("/api/documents", json={"id": f"doc-{i}", "text": LEPROSY}, headers=AUTH)
            results.setdefault(i, []).append(r.status_code)
            if r.status_code != 503:
                return
            assert r.headers["Retry-After"] and r.get_json()["error"]["code"] == "busy"
            time.sleep(0.2)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(codes[-1] == 201 and set(codes[:-1]) <= {503} for codes in results.values()), results
    assert len(results) == 4
    ids = _ids(app.test_client())
    assert all(f"doc-{i}" in ids for i in range(4))
    _no_temp_files(s)


def test_writer_lock_times_out_when_held(tmp_path):
    import subprocess
    import sys

    from qa_service.web.app import create_app
    from qa_service.service.locking import LockTimeout, writer_lock

    s = _settings(tmp_path, lock_timeout=0.2)
    app = create_app(s)  # builds the index first
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)"),
        str(s.models_dir / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockTimeout):
            with writer_lock(s):
                pass
        r = app.test_client().post("/api/documents", json={"id": "z", "text": STONEFISH}, headers=AUTH)
        _error(r, 503, "busy")
    finally:
        holder.kill()
        holder.wait()
    with writer_lock(s, timeout=5):  # the kernel released the dead holder's lock
        pass


def test_offsets_consistent_after_ingest(svc):
    _, _, c = svc
    assert c.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    doc = c.get("/api/documents/stonefish").get_json()
    text = doc["text"]
    for e in doc["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]
    for sec in doc["sections"]:
        assert 0 <= sec["start"] <= sec["end"] <= len(text)
    for q in (STONEFISH_QUESTION, "How long was the wound immersed in hot water?", "Why does hot water help?"):
        body = c.post("/api/ask", json={"question": q, "document_id": "stonefish", "top_k": 5}).get_json()
        assert body["answers"]
        for a in body["answers"]:
            assert text[a["start"]:a["end"]] == a["text"]
            assert text[a["passage_start"]:a["passage_end"]] == a["passage"]
            assert STONEFISH[a["raw_start"]:a["raw_end"]].split() == a["text"].split()
            for e in a["entities"]:
                assert text[e["start"]:e["end"]] == e["text"]


def test_json_body_may_take_id_and_title_from_the_query(svc):
    _, _, c = svc
    r = c.post("/api/documents?id=from-query&title=Query%20title", json={"text": LEPROSY}, headers=AUTH)
    assert r.status_code == 201 and r.get_json()["id"] == "from-query" and r.get_json()["title"] == "Query title"
    r = c.post("/api/documents?id=ignored", json={"id": "from-body", "text": LEPROSY}, headers=AUTH)
    assert r.get_json()["id"] == "from-body"


def test_cli_index_takes_the_writer_lock(tmp_path):
    import fcntl
    import os
    import subprocess
    import sys

    s = _settings(tmp_path)
    s.models_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(s.models_dir / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        env = dict(os.environ, PYTHONPATH=str(REPORT.parents[1]), QA_LOCK_TIMEOUT="0.3")
        proc = subprocess.run([sys.executable, "-m", "qa_service.cli", "index", "--corpus", str(s.corpus_dir),
                               "--models", str(s.models_dir)], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and "LockTimeout" in proc.stderr
        assert not (s.models_dir / "CURRENT").exists()
    finally:
        os.close(fd)
