"""Incremental ingest (issue 10 item 3): main + delta segments answer as a full rebuild does.

The corpus: the 54 ADA case reports (stored as .txt reports) and the shipped report, built once as
the main segment. Then 100 E3C case reports are added and some reports deleted through the real API
(Flask test client, the real model and index, word vectors only, as `ada_answerer` does), and the
dev questions are asked of the composed index and of a full rebuild of the same corpus folder.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from qa_service.config import Settings
from reports import LEPROSY, LEPROSY_QUESTION, STONEFISH, STONEFISH_QUESTION

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
ADA = SHARED / "data" / "ada_case_reports" / "case_reports.jsonl"
E3C = SHARED / "data" / "e3c_en_cases" / "cases.jsonl"
EVAL = SHARED / "eval"
REPORT = ROOT / "corpus" / "calcinosis-cutis-universalis-sle.txt"
TOKEN = "s3cret-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
N_ADDS = 100

pytestmark = pytest.mark.skipif(not (ADA.exists() and E3C.exists()), reason="shared data not present")


def _ada_corpus(corpus: Path) -> dict[str, str]:
    """The ADA reports as corpus .txt files with title sidecars; their JSONL id -> our file id."""
    from qa_service.corpus.store import iter_jsonl

    corpus.mkdir(parents=True)
    shutil.copy(REPORT, corpus / REPORT.name)
    ids = {}
    for i, item in enumerate(x for x in iter_jsonl(ADA) if isinstance(x, tuple)):
        doc_id, text, title, _ = item
        ids[doc_id] = f"ada-{i:02d}"
        (corpus / f"ada-{i:02d}.txt").write_text(text, encoding="utf-8")
        if title:
            (corpus / f"ada-{i:02d}.meta.json").write_text(json.dumps({"title": title}), encoding="utf-8")
    return ids


def _e3c_reports(n: int) -> list[tuple[str, str]]:
    out = []
    with E3C.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out.append((f"e3c-{row['id']}", row["text"]))
            if len(out) == n:
                break
    return out


def _settings(base: Path, **kw) -> Settings:
    options = dict(encoders=("wl",), admin_token=TOKEN, reload_interval=0.0, merge_min_docs=10_000,
                   merge_max_docs=10_000)
    return Settings(corpus_dir=base / "corpus", models_dir=base / "models", **(options | kw))


def _questions(ada_ids: dict[str, str]) -> list[tuple[str, str | None]]:
    from evaluation.evaluate import read_questions

    out = []
    for name in ("dev_questions.jsonl", "dev_unanswerable.jsonl"):
        out += [(q["question"], None) for q in read_questions(EVAL / name)]
    for name in ("dev_other_reports.jsonl", "dev_other_unanswerable.jsonl"):
        for q in read_questions(EVAL / name):
            out.append((q["question"], ada_ids[q["doc"]]))  # within the report
            out.append((q["question"], None))  # and across all reports
    return out


def _answers(ask, questions) -> list[list[tuple]]:
    out = []
    for question, doc in questions:
        body = ask(question, doc)
        out.append([(a["document_id"], a["start"], a["end"], a["score"]) for a in body["answers"]])
    return out


def _client_ask(client):
    def ask(question, doc):
        r = client.post("/api/ask", json={"question": question, "document_id": doc, "top_k": 3})
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()
    return ask


def _answerer_ask(answerer):
    return lambda question, doc: answerer.ask(question, top_k=3, document_id=doc).to_dict()


@pytest.fixture(scope="module")
def incremental(tmp_path_factory):
    """A server (Flask app) over the ADA corpus after 100 adds and 12 deletes through the API."""
    from qa_service.web.app import create_app

    base = tmp_path_factory.mktemp("segments")
    ada_ids = _ada_corpus(base / "corpus")
    s = _settings(base)
    app = create_app(s)
    state = app.extensions["qa"]
    main = state.segments.main
    c = app.test_client()
    added = _e3c_reports(N_ADDS)
    for doc_id, text in added:
        r = c.post("/api/documents", json={"id": doc_id, "text": text}, headers=AUTH)
        assert r.status_code == 201, r.get_data(as_text=True)
    from evaluation.evaluate import read_questions

    asked = {ada_ids[q["doc"]] for name in ("dev_other_reports.jsonl", "dev_other_unanswerable.jsonl")
             for q in read_questions(EVAL / name)}
    main_deleted = [i for i in sorted(ada_ids.values()) if i not in asked][1:3]
    deleted = [doc_id for doc_id, _ in added[::10]] + main_deleted
    for doc_id in deleted:
        assert c.delete(f"/api/documents/{doc_id}", headers=AUTH).status_code == 200
    assert state.segments.main is main, "the main segment must not be rebuilt or reloaded"
    return s, app, ada_ids, added, deleted


@pytest.fixture(scope="module")
def rebuilt(incremental, tmp_path_factory):
    """A full rebuild of the same corpus folder, in another models folder."""
    from qa_service.service.build import build, make_answerer

    s = incremental[0]
    fresh = Settings(corpus_dir=s.corpus_dir, models_dir=tmp_path_factory.mktemp("full") / "models",
                     encoders=("wl",))
    report = build(fresh)
    return report.index, make_answerer(report.index, fresh)


def test_delta_holds_the_adds_and_the_deletes(incremental):
    s, app, _, added, deleted = incremental
    segs = app.extensions["qa"].segments
    assert segs.delta is not None and segs.delta_name
    assert len(segs.delta.docs) == N_ADDS - 10
    assert segs.deleted == set(deleted[-2:]) and all(i.startswith("ada-") for i in deleted[-2:])
    assert (s.models_dir / "CURRENT").read_text().splitlines() == [segs.main_name, segs.delta_name]
    ids = {d["id"] for d in app.test_client().get("/api/documents").get_json()["documents"]}
    assert not ids & set(deleted)
    assert {doc_id for doc_id, _ in added} - set(deleted) <= ids
    assert sorted(p.name for p in s.models_dir.glob("delta-*")) == [segs.delta_name]


def test_statistics_equal_a_full_rebuild(incremental, rebuilt):
    """N, df, idf, avg length and every BM25 score: exactly those of a full rebuild."""
    view = incremental[1].extensions["qa"].segments.view
    full, _ = rebuilt
    assert sorted(d.id for d in view.docs) == sorted(d.id for d in full.docs)
    assert view.vocab.keys() == full.vocab.keys()  # terms only deleted reports held are gone
    assert view.n_sentences == full.n_sentences
    cols = [view.vocab[t] for t in sorted(full.vocab, key=full.vocab.get)]  # in full's column order
    assert np.array_equal(view.idf[cols], full.idf) and np.array_equal(view.df[cols], full.df)
    assert view.max_idf == full.max_idf
    rng = np.random.default_rng(0)
    terms = list(full.vocab)
    for _ in range(50):
        q = {str(t): float(w) for t, w in zip(rng.choice(terms, 4), (1.0, 0.5, 1.0, 2.0))}
        a, b = view.score(q), full.score(q)
        for d in full.docs:
            i, j = view.doc_by_id[d.id], full.doc_by_id[d.id]
            assert np.array_equal(a[view.doc_rows[i]:view.doc_rows[i + 1]], b[full.doc_rows[j]:full.doc_rows[j + 1]])


def test_same_top_answers_as_a_full_rebuild_after_100_adds(incremental, rebuilt):
    s, app, ada_ids, _, _ = incremental
    questions = _questions(ada_ids)
    got = _answers(_client_ask(app.test_client()), questions)
    want = _answers(_answerer_ask(rebuilt[1]), questions)
    assert sum(bool(w) for w in want) >= 20  # the comparison is about answers, not abstentions
    for (question, doc), g, w in zip(questions, got, want):
        assert [a[:3] for a in g[:1]] == [a[:3] for a in w[:1]], (question, doc)
        # Sentence vectors are read block by block from the segments; BLAS rounds such a product
        # differently in the last bits, so the scores agree to ~1e-6, not bit for bit.
        assert np.allclose([a[3] for a in g], [a[3] for a in w], atol=1e-3), (question, doc)


def test_a_restart_loads_main_and_delta_without_rebuilding(incremental):
    """The delta records the corpus fingerprint, updated report by report, and it equals the one
    start-up computes from the whole corpus folder."""
    from qa_service.service.build import corpus_fingerprint, load_or_build

    s, app, _, _, _ = incremental
    report = load_or_build(s)
    assert report.rebuilt is False
    assert report.segments.pointer == app.extensions["qa"].segments.pointer
    assert report.index.meta["fingerprint"] == corpus_fingerprint(s)


def test_merge_gives_exactly_a_full_rebuild(incremental, rebuilt, tmp_path):
    """Merging the delta (on a copy of the models folder) writes the arrays a full rebuild writes, and
    then answers exactly as it does (same scores, bit for bit)."""
    from qa_service.service import live
    from qa_service.index.bm25 import current_pointer, load_index
    from qa_service.index.segments import load_segments
    from qa_service.service.build import load_or_build, make_answerer

    s, _, ada_ids, _, _ = incremental
    copy = tmp_path / "models"
    shutil.copytree(s.models_dir, copy, ignore=shutil.ignore_patterns(".lock"))
    s2 = Settings(corpus_dir=s.corpus_dir, models_dir=copy, encoders=("wl",))
    merged = live.merge(s2, load_segments(copy))
    assert merged is not None and merged.delta is None
    assert current_pointer(copy) == (merged.main_name,)
    assert sorted(p.name for p in copy.iterdir() if not p.name.startswith((".", "vocabulary-"))) == sorted(
        ["CURRENT", merged.main_name])
    full, full_answerer = rebuilt
    for index in (merged.main, load_index(copy)):
        assert [d.id for d in index.docs] == [d.id for d in full.docs]
        assert [(d.title, d.text, d.sections, d.source) for d in index.docs] == \
            [(d.title, d.text, d.sections, d.source) for d in full.docs]
        assert index.vocab == full.vocab
        for attr in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(index.counts, attr), getattr(full.counts, attr)), attr
        for c in full.sentences:
            assert np.array_equal(index.sentences[c], full.sentences[c]), c
        assert np.array_equal(index.vectors["wl"], full.vectors["wl"])
    assert load_or_build(s2).rebuilt is False
    questions = _questions(ada_ids)
    got = _answers(_answerer_ask(make_answerer(load_index(copy), s2)), questions)
    assert got == _answers(_answerer_ask(full_answerer), questions)


def test_a_delete_leaves_answers_documents_and_vocabulary(tmp_path):
    """Deleting a main-segment report and a delta report: gone from answers, /api/documents and the
    vocabulary (its own terms), for this worker and another one."""
    from qa_service.web.app import create_app

    base = tmp_path
    (base / "corpus").mkdir()
    shutil.copy(REPORT, base / "corpus" / REPORT.name)
    (base / "corpus" / "leprosy.txt").write_text(LEPROSY)
    s = _settings(base, reload_interval=0.2)
    a, b = create_app(s), create_app(s)
    ca, cb = a.test_client(), b.test_client()
    assert ca.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    for client in (ca, cb):
        assert client.post("/api/ask", json={"question": LEPROSY_QUESTION}).get_json()["answers"][0][
            "document_id"] == "leprosy"
    main_b = b.extensions["qa"].segments.main
    assert ca.delete("/api/documents/leprosy", headers=AUTH).status_code == 200  # in the main segment
    assert ca.delete("/api/documents/stonefish", headers=AUTH).status_code == 200  # in the delta
    for app, client in ((a, ca), (b, cb)):
        ids = [d["id"] for d in client.get("/api/documents").get_json()["documents"]]
        assert ids == [REPORT.stem]
        assert client.get("/api/documents/leprosy").status_code == 404
        for q in (LEPROSY_QUESTION, STONEFISH_QUESTION):
            body = client.post("/api/ask", json={"question": q}).get_json()
            assert all(x["document_id"] == REPORT.stem for x in body["answers"])
        view = app.extensions["qa"].segments.view
        assert "armadillo" not in view.vocab and "stonefish" not in view.vocab
        r = client.post("/api/ask", json={"question": "x", "document_id": "leprosy"})
        assert r.status_code == 404
    assert b.extensions["qa"].segments.main is main_b  # b read only the delta folders
    assert b.extensions["qa"].segments.deleted == {"leprosy"}


def test_an_add_reads_and_processes_only_the_new_report(tmp_path, monkeypatch):
    """Adding or deleting one report reads, cleans and encodes that report only."""
    import qa_service.corpus.store as corpus_mod
    import qa_service.service.live as live_mod
    from qa_service.web.app import create_app
    from qa_service.service.build import load_encoders

    (tmp_path / "corpus").mkdir()
    shutil.copy(REPORT, tmp_path / "corpus" / REPORT.name)
    (tmp_path / "corpus" / "leprosy.txt").write_text(LEPROSY)
    s = _settings(tmp_path)
    app = create_app(s)
    c = app.test_client()
    read, built, encoded = [], [], []
    real_read, real_build = corpus_mod.read_text_file, live_mod.build_document
    monkeypatch.setattr(live_mod, "read_text_file", lambda p: read.append(Path(p).name) or real_read(p))
    monkeypatch.setattr(live_mod, "build_document", lambda *a, **k: built.append(a[0]) or real_build(*a, **k))
    monkeypatch.setattr(corpus_mod, "load_corpus", lambda *a, **k: pytest.fail("the corpus was read again"))
    enc = load_encoders(s)["wl"]
    real_encode = enc.encode
    monkeypatch.setattr(enc, "encode", lambda texts: encoded.append(len(texts)) or real_encode(texts))
    assert c.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    assert read == ["stonefish.txt"] and built == ["stonefish"]
    assert encoded == [len(app.extensions["qa"].segments.delta.docs[0].sentences)]
    assert c.delete("/api/documents/leprosy", headers=AUTH).status_code == 200
    assert read == ["stonefish.txt"] and built == ["stonefish"] and len(encoded) == 1


def test_background_merge_rebases_writes_made_meanwhile(tmp_path):
    """A merge that started from an older state keeps the writes made since: a report added after
    the snapshot stays in the new delta, a snapshot report deleted since is deleted from the merged
    main, and the corpus fingerprint stays that of the corpus."""
    from qa_service.service import live
    from qa_service.web.app import create_app
    from qa_service.service.build import corpus_fingerprint, load_or_build

    (tmp_path / "corpus").mkdir()
    shutil.copy(REPORT, tmp_path / "corpus" / REPORT.name)
    s = _settings(tmp_path)
    app = create_app(s)
    c = app.test_client()
    assert c.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    snapshot = app.extensions["qa"].segments
    assert c.post("/api/documents", json={"id": "leprosy", "text": LEPROSY}, headers=AUTH).status_code == 201
    assert c.delete("/api/documents/stonefish", headers=AUTH).status_code == 200
    out = live.merge(s, snapshot)
    assert out is not None
    assert [d.id for d in out.main.docs] == [REPORT.stem, "stonefish"]  # the snapshot, merged
    assert [d.id for d in out.delta.docs] == ["leprosy"] and out.deleted == {"stonefish"}
    assert sorted(d.id for d in out.view.docs) == sorted([REPORT.stem, "leprosy"])
    assert out.view.meta["fingerprint"] == corpus_fingerprint(s)
    again = load_or_build(s)
    assert again.rebuilt is False and sorted(d.id for d in again.index.docs) == sorted([REPORT.stem, "leprosy"])
    # The app picks up the new main segment like any other worker would (in the background: the
    # merged main stands for the reports it serves already).
    ids = [d["id"] for d in c.get("/api/documents").get_json()["documents"]]
    assert sorted(ids) == sorted([REPORT.stem, "leprosy"])
    app.extensions["qa"]._loader.join(60)
    assert app.extensions["qa"].segments.main_name == out.main_name


def test_the_delta_is_merged_in_the_background_when_it_grows(tmp_path):
    from qa_service.web.app import create_app
    from qa_service.index.bm25 import current_pointer

    (tmp_path / "corpus").mkdir()
    shutil.copy(REPORT, tmp_path / "corpus" / REPORT.name)
    s = Settings(corpus_dir=tmp_path / "corpus", models_dir=tmp_path / "models", encoders=("wl",),
                 admin_token=TOKEN, reload_interval=0.0, merge_min_docs=2, merge_max_docs=2)
    app = create_app(s)
    state = app.extensions["qa"]
    c = app.test_client()
    assert c.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    assert state.segments.delta is not None
    first_main = state.segments.main_name
    assert c.post("/api/documents", json={"id": "leprosy", "text": LEPROSY}, headers=AUTH).status_code == 201
    for _ in range(300):  # the merge runs in a thread
        if state.segments.main_name != first_main:
            break
        time.sleep(0.05)
    assert state._merging.acquire(timeout=30)
    state._merging.release()
    assert state.segments.delta is None and current_pointer(s.models_dir) == (state.segments.main_name,)
    assert [d.id for d in state.segments.main.docs] == [REPORT.stem, "leprosy", "stonefish"]
    ids = [d["id"] for d in c.get("/api/documents").get_json()["documents"]]
    assert ids == [REPORT.stem, "leprosy", "stonefish"]


def test_other_workers_load_a_merged_main_in_the_background(tmp_path):
    """After a merge, another worker keeps answering from what it has (the same reports) while it
    loads the merged main segment in a thread, then switches to it."""
    from qa_service.service import live
    from qa_service.web.app import create_app

    (tmp_path / "corpus").mkdir()
    shutil.copy(REPORT, tmp_path / "corpus" / REPORT.name)
    s = _settings(tmp_path)
    a, b = create_app(s), create_app(s)
    ca, cb = a.test_client(), b.test_client()
    assert ca.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    before = cb.post("/api/ask", json={"question": STONEFISH_QUESTION}).get_json()["answers"]
    assert before[0]["document_id"] == "stonefish"
    old_main = b.extensions["qa"].segments.main_name
    merged = live.merge(s, a.extensions["qa"].segments)
    assert merged is not None and merged.main_name != old_main
    state = b.extensions["qa"]
    assert cb.post("/api/ask", json={"question": STONEFISH_QUESTION}).get_json()["answers"] == before
    state._loader.join(60)
    assert cb.post("/api/ask", json={"question": STONEFISH_QUESTION}).get_json()["answers"] == before
    assert state.segments.main_name == merged.main_name and state.segments.delta is None
    # A write in b then builds on the merged main (never on the old one).
    assert cb.post("/api/documents", json={"id": "leprosy", "text": LEPROSY}, headers=AUTH).status_code == 201
    assert state.segments.main_name == merged.main_name
    ids = [d["id"] for d in ca.get("/api/documents").get_json()["documents"]]
    assert sorted(ids) == sorted([REPORT.stem, "stonefish", "leprosy"])


def test_kill_9_during_a_merge_leaves_a_consistent_state(tmp_path):
    """A merge killed after writing the merged main folder but before switching CURRENT: the old main
    + delta stay in force, start-up removes the orphan folder and loads them without a rebuild."""
    import os
    import signal
    import subprocess
    import sys

    from qa_service.web.app import create_app
    from qa_service.index.bm25 import current_pointer
    from qa_service.service.build import load_or_build, startup_cleanup

    (tmp_path / "corpus").mkdir()
    shutil.copy(REPORT, tmp_path / "corpus" / REPORT.name)
    s = _settings(tmp_path)
    c = create_app(s).test_client()
    assert c.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    assert c.delete(f"/api/documents/{REPORT.stem}", headers=AUTH).status_code == 200
    before = current_pointer(s.models_dir)
    assert len(before) == 2
    env = dict(os.environ, PYTHONPATH=str(ROOT), QA_CORPUS_DIR=str(s.corpus_dir), QA_MODELS_DIR=str(s.models_dir),
               QA_ENCODERS="wl")
    proc = subprocess.Popen([sys.executable, "-c", (
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\nimport slow_swap\nslow_swap.install(60)\n"
        "from qa_service.config import Settings\nfrom qa_service.index.segments import load_segments\n"
        "from qa_service.service import live\ns = Settings.from_env()\nlive.merge(s, load_segments(s.models_dir))\n")],
        env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(s.models_dir.glob("index-*"))) < 2:
            time.sleep(0.05)
        assert len(list(s.models_dir.glob("index-*"))) == 2, "the merged main should have been written"
        time.sleep(0.5)  # now waiting inside the switch (the test hook), under the writer lock
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert current_pointer(s.models_dir) == before
    startup_cleanup(s)
    assert sorted(p.name for p in s.models_dir.iterdir() if p.name.startswith(("index-", "delta-"))) == sorted(before)
    report = load_or_build(s)
    assert report.rebuilt is False and [d.id for d in report.index.docs] == ["stonefish"]
    assert sorted(p.stem for p in s.corpus_dir.glob("*.txt")) == ["stonefish"]


def test_cli_index_merge_folds_the_delta(tmp_path, monkeypatch, capsys):
    from qa_service.web.app import create_app
    from qa_service.cli import main
    from qa_service.index.bm25 import current_pointer

    (tmp_path / "corpus").mkdir()
    shutil.copy(REPORT, tmp_path / "corpus" / REPORT.name)
    s = _settings(tmp_path)
    c = create_app(s).test_client()
    assert c.post("/api/documents", json={"id": "stonefish", "text": STONEFISH}, headers=AUTH).status_code == 201
    assert len(current_pointer(s.models_dir)) == 2
    monkeypatch.setenv("QA_ENCODERS", "wl")
    args = ["index", "--merge", "--corpus", str(s.corpus_dir), "--models", str(s.models_dir)]
    assert main(args) == 0
    assert "merged 1 added and 0 deleted reports" in capsys.readouterr().out
    assert len(current_pointer(s.models_dir)) == 1
    assert main(args) == 0
    assert "no delta to merge" in capsys.readouterr().out
    ids = [d["id"] for d in c.get("/api/documents").get_json()["documents"]]
    assert ids == [REPORT.stem, "stonefish"]
