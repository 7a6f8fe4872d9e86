"""`qa-service import`: .txt, JSONL and PDF into the corpus folder; ids, duplicates, errors, exit codes;
the index then sees exactly the corpus; the change log; PDFs through the API; kill -9 mid-import."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pdfgen import make_pdf, report_paragraphs
from qa_service.config import Settings
from qa_service.corpus.store import corpus_files, read_sidecar, safe_id
from qa_service.service.importer import import_paths
from reports import LEPROSY, LEPROSY_QUESTION, STONEFISH, STONEFISH_ANSWER, STONEFISH_QUESTION, STONEFISH_TITLE

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "corpus" / "calcinosis-cutis-universalis-sle.txt"
TOKEN = "import-test-token-0123456789abcdefgh"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(base: Path, **kw) -> Settings:
    # Word vectors only (the "wl" fitted variant): MiniLM costs ~2 s per report at index time.
    return Settings(**{"corpus_dir": base / "corpus", "models_dir": base / "models", "encoders": ("wl",), **kw})


def _cli(*args: str, env_extra: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QA_ENCODERS="wl", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "qa_service.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=str(ROOT))


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_import_txt_jsonl_pdf_and_folders(tmp_path):
    from qa_service.service.build import build, make_answerer

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(REPORT, src / REPORT.name)
    (src / "sub" / "leprosy case.txt").write_text(LEPROSY, encoding="cp1252")  # a stem that is no id
    (src / "notes.docx").write_bytes(b"PK\x03\x04")  # ignored in a folder
    (src / ".hidden.txt").write_text("ignored")
    (src / "sub" / "stonefish.pdf").write_bytes(make_pdf(report_paragraphs(STONEFISH), columns=2,
                                                         title=STONEFISH_TITLE))
    jl = _write_jsonl(tmp_path / "rows.jsonl", [
        {"id": "PMC 1/2", "title": "Sections row", "sections": [{"name": "CASE", "text": "A girl had a rash."},
                                                                {"name": "Discussion", "text": "Rashes are common."}]},
        {"text": "Case report\nA man had a cough for a week and was given amoxicillin."},
        "{not json",
        {"id": "empty-one", "text": "   "},
    ])
    s = _settings(tmp_path)
    res = import_paths(s, [src, jl])
    leprosy_id = safe_id("leprosy case")
    assert sorted(res.added) == sorted([REPORT.stem, leprosy_id, "stonefish", safe_id("PMC 1/2"), "rows-2"])
    assert [p.name for p in res.ignored] == ["notes.docx"]
    assert len(res.errors) == 2 and {e.where for e in res.errors} == {f"{jl}:3", f"{jl}:4"}
    assert res.exit_code == 0 and res.renamed == {"leprosy case": leprosy_id, "PMC 1/2": safe_id("PMC 1/2")}
    # Stored as UTF-8 text with a sidecar each; nothing else in the folder.
    names = sorted(p.name for p in s.corpus_dir.iterdir())
    assert names == sorted(f"{i}{ext}" for i in res.added for ext in (".txt", ".meta.json"))
    assert (s.corpus_dir / f"{leprosy_id}.txt").read_text(encoding="utf-8") == LEPROSY
    side = read_sidecar(s.corpus_dir / f"{safe_id('PMC 1/2')}.txt")
    assert side["original_id"] == "PMC 1/2" and side["title"] == "Sections row"
    assert side["source"]["file"] == "rows.jsonl" and side["source"]["row"] == 1 and side["added"].endswith("Z")
    data = (s.corpus_dir / f"{safe_id('PMC 1/2')}.txt").read_bytes()
    assert side["sha256"] == hashlib.sha256(data).hexdigest() and data.startswith(b"Case\nA girl")
    pdf_side = read_sidecar(s.corpus_dir / "stonefish.txt")
    assert pdf_side["source"]["format"] == "pdf" and pdf_side["title"] == STONEFISH_TITLE
    # The index holds exactly the corpus; a question restricted to an imported report (by either id).
    index = build(s).index
    assert set(index.doc_by_id) == set(res.added)
    answerer = make_answerer(index, s)
    a = answerer.ask(STONEFISH_QUESTION, document_id="stonefish").answers
    assert a and STONEFISH_ANSWER in a[0].text
    assert index.meta["reports"][safe_id("PMC 1/2")]["original_id"] == "PMC 1/2"


def test_duplicates_unchanged_and_replace(tmp_path):
    s = _settings(tmp_path)
    jl = _write_jsonl(tmp_path / "a.jsonl", [{"id": "case-1", "text": STONEFISH}, {"id": "case-2", "text": LEPROSY}])
    assert import_paths(s, [jl]).added == ["case-1", "case-2"]
    again = import_paths(s, [jl])  # idempotent
    assert again.added == [] and again.unchanged == ["case-1", "case-2"] and again.exit_code == 0
    changed = _write_jsonl(tmp_path / "b.jsonl", [{"id": "case-1", "text": LEPROSY}, {"id": "CASE-2", "text": STONEFISH},
                                                  {"id": "new", "text": LEPROSY}, {"id": "new", "text": STONEFISH}])
    res = import_paths(s, [changed])
    assert res.added == ["new"] and res.replaced == []
    messages = [d.message for d in res.duplicates]
    assert len(messages) == 3 and "--replace" in messages[0] and "case-insensitively" in messages[1]
    assert "used twice in this import" in messages[2]
    assert (s.corpus_dir / "case-1.txt").read_text() == STONEFISH and (s.corpus_dir / "new.txt").read_text() == LEPROSY
    res = import_paths(s, [changed], replace=True)
    assert res.replaced == ["case-1"] and res.unchanged == ["new"]
    assert (s.corpus_dir / "case-1.txt").read_text() == LEPROSY
    assert read_sidecar(s.corpus_dir / "case-1.txt")["source"]["file"] == "b.jsonl"
    assert not (s.corpus_dir / "CASE-2.txt").exists()


def test_cli_import_output_exit_codes_and_index_reuse(tmp_path):
    corpus, models = tmp_path / "corpus", tmp_path / "models"
    where = ["--corpus", str(corpus), "--models", str(models)]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "scan.pdf").write_bytes(make_pdf(["A scanned page."] * 30, text_layer=False))
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<\n")
    r = _cli("import", str(bad), *where)
    assert r.returncode == 1, r.stdout + r.stderr  # reports failed and none was imported
    assert "3 failed" in r.stdout and "OCR is not supported" in r.stdout and "[invalid_pdf]" in r.stdout
    assert "Traceback" not in r.stderr
    r = _cli("import", str(tmp_path / "missing.jsonl"), *where)
    assert r.returncode == 2 and "no such file" in r.stderr
    good = _write_jsonl(tmp_path / "good.jsonl", [{"id": "stonefish", "title": STONEFISH_TITLE, "text": STONEFISH},
                                                   {"id": "leprosy", "text": LEPROSY}])
    r = _cli("import", str(good), str(bad), *where)
    assert r.returncode == 0, r.stdout + r.stderr  # some failed, the rest imported
    assert "imported 2 reports" in r.stdout and "3 failed" in r.stdout and "indexed 2 reports" in r.stdout
    assert "2 added (leprosy, stonefish)" in r.stdout  # the change log
    current = (models / "CURRENT").read_text()
    # Nothing changed: `index` (and so `make run`) reuses the index.
    r = _cli("index", *where)
    assert r.returncode == 0 and "index is current: 2 reports" in r.stdout
    assert (models / "CURRENT").read_text() == current
    r = _cli("ask", "--document", "leprosy", LEPROSY_QUESTION, *where)
    assert r.returncode == 0 and "leprosy" in r.stdout.lower()
    assert (models / "CURRENT").read_text() == current  # ask loaded it, no rebuild
    r = _cli("index", "--force", *where)
    assert "indexed 2 reports" in r.stdout and "no report added, removed or changed" in r.stdout
    assert (models / "CURRENT").read_text() != current


def test_rebuild_logs_added_removed_changed(tmp_path, caplog):
    from qa_service.service.build import build

    s = _settings(tmp_path)
    import_paths(s, [_write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": STONEFISH}, {"id": "b", "text": LEPROSY},
                                                         {"id": "c", "text": STONEFISH + "\nMore."}])])
    first = build(s)
    assert first.changes.known is False and first.index.meta["changes"]["compared"] is False
    (s.corpus_dir / "b.txt").unlink()
    (s.corpus_dir / "c.txt").write_text(LEPROSY)
    (s.corpus_dir / "d.txt").write_text(STONEFISH)  # dropped in by hand: no sidecar
    with caplog.at_level(logging.INFO, logger="qa_service.service.build"):
        rep = build(s)
    assert (rep.changes.added, rep.changes.removed, rep.changes.changed) == (["d"], ["b"], ["c"])
    assert rep.index.meta["changes"] == {"added": 1, "removed": 1, "changed": 1, "compared": True}
    assert "1 added (d); 1 removed (b); 1 changed (c)" in caplog.text
    info = rep.index.meta["reports"]["d"]
    assert info["source"] == {"kind": "corpus", "file": "d.txt"} and info["added"].endswith("Z")


def test_failed_reports_are_listed_in_health_and_the_cli(tmp_path):
    from qa_service.web.app import create_app

    s = _settings(tmp_path)
    import_paths(s, [_write_jsonl(tmp_path / "a.jsonl", [{"id": "good", "text": STONEFISH}])])
    (s.corpus_dir / "binary.txt").write_bytes(bytes(range(256)) * 4)  # dropped in by hand, not importable
    c = create_app(s).test_client()
    body = c.get("/api/health").get_json()
    assert body["documents"] == 1 and body["failed_reports_count"] == 1
    assert body["failed_reports"][0]["id"] == "binary" and "binary data" in body["failed_reports"][0]["error"]
    r = _cli("index", "--corpus", str(s.corpus_dir), "--models", str(s.models_dir))
    assert "index is current: 1 reports" in r.stdout and "failed reports: 1" in r.stdout and "binary" in r.stdout


# ---------------------------------------------------------------- PDFs through the API

@pytest.fixture()
def writable(tmp_path):
    from qa_service.web.app import create_app

    s = _settings(tmp_path, admin_token=TOKEN, reload_interval=0.0)
    import_paths(s, [REPORT])
    app = create_app(s)
    return s, app.test_client()


def test_post_a_pdf(writable):
    s, c = writable
    pdf = make_pdf(report_paragraphs(STONEFISH), columns=2, title=STONEFISH_TITLE)
    r = c.post("/api/documents?id=stonefish-pdf", data=pdf, content_type="application/pdf", headers=AUTH)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["title"] == STONEFISH_TITLE
    assert read_sidecar(s.corpus_dir / "stonefish-pdf.txt")["source"] == {"kind": "api", "format": "pdf"}
    a = c.post("/api/ask", json={"question": STONEFISH_QUESTION, "document_id": "stonefish-pdf"}).get_json()
    assert a["answers"] and STONEFISH_ANSWER in a["answers"][0]["text"]
    listed = {d["id"]: d for d in c.get("/api/documents").get_json()["documents"]}
    assert listed["stonefish-pdf"]["source"] == {"kind": "api", "format": "pdf"}
    assert listed[REPORT.stem]["source"] == {"kind": "import", "file": REPORT.name, "format": "txt"}


@pytest.mark.parametrize("data, code", [
    (make_pdf(["Scanned text that is only drawn."] * 20, text_layer=False), "no_text_layer"),
    (b"%PDF-1.7\n% truncated", "invalid_pdf"),
    (b"GIF89a not a pdf", "invalid_pdf"),
    (b"", "invalid_pdf"),
])
def test_post_a_bad_pdf(writable, data, code):
    s, c = writable
    before = sorted(p.name for p in s.corpus_dir.iterdir())
    r = c.post("/api/documents?id=bad-pdf", data=data, content_type="application/pdf", headers=AUTH)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == code, r.get_json()
    if code == "no_text_layer":
        assert "OCR is not supported" in r.get_json()["error"]["message"]
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == before


# ---------------------------------------------------------------- kill -9 during an import

def test_kill_9_during_import_leaves_the_corpus_consistent(tmp_path):
    from qa_service.service.ingest import clean_corpus_temp
    from qa_service.service.build import build

    rows = [{"id": f"r{i:04d}", "title": f"Report {i}", "text": (STONEFISH if i % 2 else LEPROSY) + f"\nCase {i}."}
            for i in range(600)]
    texts = {r["id"]: r["text"] for r in rows}
    jl = _write_jsonl(tmp_path / "many.jsonl", rows)
    corpus, models = tmp_path / "corpus", tmp_path / "models"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    killed_at = []
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "qa_service.cli", "import", str(jl), "--no-index",
                                 "--corpus", str(corpus), "--models", str(models)], env=env, cwd=str(ROOT),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = 60 + 150 * round_
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if corpus.is_dir() and sum(1 for _ in corpus.glob("*.txt")) >= target:
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at.append(len(corpus_files(corpus)))
        # Consistent at once, before any clean-up: every visible report complete, with its sidecar.
        for p in corpus_files(corpus):
            assert not p.name.startswith("."), p
            assert p.read_text(encoding="utf-8") == texts[p.stem], p
            side = read_sidecar(p)
            assert side["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest() and side["title"]
    assert killed_at[0] < len(rows), killed_at  # it was killed mid-import
    clean_corpus_temp(corpus)
    assert not [p for p in corpus.iterdir() if p.name.startswith(".")]
    res = import_paths(_settings(tmp_path), [jl])  # the rest comes in; the imported ones are unchanged
    assert len(res.added) + len(res.unchanged) == len(rows) and not res.errors and not res.duplicates
    index = build(_settings(tmp_path, encoders=())).index
    assert len(index.docs) == len(rows)


def test_start_up_cleanup_removes_temp_files_and_orphan_sidecars(tmp_path):
    from qa_service.service.ingest import clean_corpus_temp

    s = _settings(tmp_path)
    import_paths(s, [_write_jsonl(tmp_path / "a.jsonl", [{"id": "kept", "text": STONEFISH}])])
    (s.corpus_dir / ".half.txt.tmp-abc123").write_text("Case report\nA half")
    (s.corpus_dir / "orphan.meta.json").write_text('{"title": "no report"}')  # its .txt never arrived
    removed = sorted(p.name for p in clean_corpus_temp(s.corpus_dir))
    assert removed == [".half.txt.tmp-abc123", "orphan.meta.json"]
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == ["kept.meta.json", "kept.txt"]


def test_qa_jsonl_is_no_longer_read_and_says_so(monkeypatch, caplog):
    monkeypatch.setenv("QA_JSONL", "/data/reports.jsonl")
    with caplog.at_level(logging.WARNING, logger="qa_service.config"):
        s = Settings.from_env()
    assert not hasattr(s, "jsonl_files")
    assert "qa-service import /data/reports.jsonl" in caplog.text
