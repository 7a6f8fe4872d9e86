"""Fuzz the loader, `qa-service import` and the ingest endpoint with generated malformed reports
(issues 10 and 11).

Seeded and bounded: N_FILES corpus files go into one index build; N_IMPORT_FILES .txt/.pdf files and
N_ROWS JSONL rows (and a 50 MB line) are imported; N_POSTS reports are POSTed through the test client. Every one must end in a clean import or a clear
per-report error (build: listed in failed_reports; API: a 4xx with a JSON error), never a crash or
a 500, never a half-written file, and the good reports are always indexed.
"""
from __future__ import annotations

import codecs
import json
import random
import shutil
from pathlib import Path

import pytest

from pdfgen import make_pdf
from qa_service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "corpus" / "calcinosis-cutis-universalis-sle.txt"
SEED = 20240612
N_FILES = 260
N_IMPORT_FILES = 200
N_ROWS = 320
N_POSTS = 240
TOKEN = "fuzz-ingest-token-0123456789abcdef"  # >= 32 characters, as the server requires
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = "A 45-year-old woman presented with fever and a rash. Renal biopsy confirmed lupus nephritis."


class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def text(self) -> str:
        r = self.r
        kind = r.randrange(12)
        n = r.randrange(0, 400)
        if kind == 0:
            return ""
        if kind == 1:
            return r.choice(["\ufeff", "\ufeff\ufeff", " \n\t", "\u200b" * 5, "\x00" * 10, "----", "...", "[1]"])
        if kind == 2:  # control characters mixed in
            return "".join(chr(r.randrange(0, 32)) if r.random() < 0.4 else r.choice("abc .") for _ in range(n))
        if kind == 3:  # any code point but surrogates
            return "".join(chr(r.choice([r.randrange(0x20, 0xD800), r.randrange(0xE000, 0x110000)])) for _ in range(n))
        if kind == 4:  # pathological runs
            unit = r.choice(["a", "a-\n", ".", " ", "[(", "1,", "Fig. 1 ", "Abstract ", "a\n\n", "ab,", "\t\u00a0"])
            return unit * r.randrange(1, 3000)
        if kind == 5:
            return GOOD
        if kind == 6:
            return GOOD[: r.randrange(len(GOOD))] + r.choice(["\x00", "\ufeff", "\x1b[31m", "\ud7ff", "\uffff"])
        if kind == 7:
            return "Case report\n" + " ".join(r.choice(["fever", "the", "CT", "mg", "(IL-6)", "1.5", "e.g."])
                                             for _ in range(n))
        if kind == 8:
            return "".join(r.choice("abcdefghij \n-.,;:()[]0123456789") for _ in range(n))
        if kind == 9:
            return "\ufeff" + GOOD
        if kind == 10:
            return r.choice(["😀" * 50, "中文病例报告。" * 20, "e\u0301" * 100, "\u202e" + GOOD])
        return "x" * r.choice([10, 600, 5000, 50_000])

    def file_bytes(self) -> bytes:
        r = self.r
        kind = r.randrange(10)
        text = self.text()
        if kind == 0:
            return bytes(r.randrange(256) for _ in range(r.randrange(0, 2000)))
        if kind == 1:
            return codecs.BOM_UTF16_LE + (text or GOOD).encode("utf-16-le")
        if kind == 2:
            return (text or GOOD).encode("utf-16-be")
        if kind == 3:
            return (text or GOOD).encode("latin-1", "replace")
        if kind == 4:
            data = bytearray(text.encode("utf-8"))
            for _ in range(r.randrange(1, 5)):
                data.insert(r.randrange(len(data) + 1), r.choice([0xFF, 0xC0, 0x80, 0xED, 0x00]))
            return bytes(data)
        if kind == 5:
            return b""
        if kind == 6:
            return codecs.BOM_UTF32_LE + (text or GOOD).encode("utf-32-le")
        return text.encode("utf-8", "surrogatepass")

    def pdf_bytes(self) -> bytes:
        """A damaged, empty, textless or odd PDF (or a valid one with fuzzed text)."""
        r = self.r
        kind = r.randrange(6)
        good = make_pdf([self.text() or GOOD, GOOD], columns=r.choice([1, 2]), compress=r.random() < 0.5)
        if kind == 0:
            return good[: r.randrange(len(good))]  # truncated
        if kind == 1:
            return b"%PDF-1.4\n" + bytes(r.randrange(256) for _ in range(r.randrange(0, 3000)))
        if kind == 2:
            return make_pdf([GOOD] * 3, text_layer=False)
        if kind == 3:
            data = bytearray(good)
            for _ in range(r.randrange(1, 20)):
                data[r.randrange(len(data))] = r.randrange(256)
            return bytes(data)
        if kind == 4:
            return b""
        return good

    def jsonl_row(self, n: int) -> bytes:
        r = self.r
        kind = r.randrange(12)
        text = self.text()
        if kind == 0:
            return b"{not json"
        if kind == 1:
            depth = r.choice([50, 5000, 100_000])
            return ("[" * depth + "]" * depth).encode()
        if kind == 2:
            return ('{"id": "d%d", "text": "' % n).encode() + bytes([0xFF, 0xFE]) + b'"}'
        if kind == 3:
            return json.dumps(r.choice([[], 5, "text", None, True])).encode()
        if kind == 4:
            return json.dumps({"id": f"r{n}"}).encode()
        if kind == 5:
            return json.dumps({"id": r.choice([[1], {"a": 1}, True, 1.5, "x" * 300, "bad\x00id"]), "text": GOOD}).encode()
        if kind == 6:
            return json.dumps({"id": f"r{n}", "sections": r.choice([5, [1, "a", None], [{"name": [1], "text": text}]])}).encode()
        if kind == 7:
            return json.dumps({"id": f"r{n}", "text": r.choice([5, None, ["a"], {"t": 1}])}).encode()
        if kind == 8:
            depth = r.choice([10, 3000])
            nested = '{"a": ' * depth + "1" + "}" * depth
            return ('{"id": "r%d", "text": %s, "meta": %s}' % (n, json.dumps(text), nested)).encode() \
                if r.random() < 0.5 else b'{"id": "r%d", "text": "\\ud800 lone"}' % n
        return json.dumps({"id": f"r{n}", "title": r.choice([None, "T", 5, "x" * 2000]), "text": text},
                          ensure_ascii=r.random() < 0.5).encode()


def test_build_survives_malformed_files(tmp_path):
    """Files dropped into the corpus folder by hand go straight to the loader."""
    from qa_service.service.build import build

    g = Gen(SEED)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    for i in range(5):
        (corpus / f"good-{i}.txt").write_text(GOOD)
    for i in range(N_FILES):
        (corpus / f"fuzz-{i:03d}.txt").write_bytes(g.file_bytes())
    rep = build(Settings(corpus_dir=corpus, models_dir=tmp_path / "models", encoders=("wl",)))
    ids = set(rep.index.doc_by_id)
    assert {REPORT.stem, "good-0", "good-4"} <= ids
    failed = rep.index.meta["failed_reports"]
    assert all(set(f) == {"id", "path", "error"} and f["error"] for f in failed)
    failed_files = {Path(f["path"]).stem for f in failed if f["path"].endswith(".txt")}
    for i in range(N_FILES):  # every file: indexed or a per-report error
        stem = f"fuzz-{i:03d}"
        assert (stem in ids) != (stem in failed_files), stem
    assert len(failed) >= 50 and len(ids) >= 50


def _fuzz_inputs(folder: Path, g: "Gen") -> tuple[list[Path], int]:
    """N_IMPORT_FILES malformed .txt/.pdf files and a JSONL file of N_ROWS malformed rows (plus good
    ones and a 50 MB line) in `folder`; returns (the files, the number of reports they stand for)."""
    folder.mkdir()
    files = []
    for i in range(N_IMPORT_FILES):
        if g.r.random() < 0.2:
            f = folder / f"fuzz-{i:03d}.pdf"
            f.write_bytes(g.pdf_bytes())
        else:
            f = folder / f"fuzz-{i:03d}.txt"
            f.write_bytes(g.file_bytes())
        files.append(f)
    (folder / "good.txt").write_text(GOOD)
    files.append(folder / "good.txt")
    jl = folder / "rows.jsonl"
    with jl.open("wb") as fh:
        fh.write(json.dumps({"id": "good-row", "text": GOOD}).encode() + b"\n")
        for i in range(N_ROWS):
            fh.write(g.jsonl_row(i).replace(b"\n", b" ") + b"\n")
        fh.write(b'{"id": "huge", "text": "' + b"a " * (25 * 1024 * 1024) + b'"}\n')  # a 50 MB line
        fh.write(json.dumps({"id": "good-last", "text": GOOD}).encode() + b"\n")
    files.append(jl)
    return files, len(files) - 1 + N_ROWS + 3


def test_import_survives_malformed_files_and_rows(tmp_path):
    """>= 500 malformed files and JSONL rows thrown at `import`: each one is imported cleanly or gets a
    per-report error; no half-written report; everything imported is indexed (none fails the build)."""
    from qa_service.service.importer import import_paths
    from qa_service.service.build import build

    files, n_inputs = _fuzz_inputs(tmp_path / "in", Gen(SEED + 2))
    assert n_inputs >= 500
    s = Settings(corpus_dir=tmp_path / "corpus", models_dir=tmp_path / "models", encoders=())
    res = import_paths(s, files)
    assert len(res.added) + len(res.errors) + len(res.duplicates) == n_inputs, (len(res.added), len(res.errors))
    assert {"good", "good-row", "good-last"} <= set(res.added)
    assert any(e.where.endswith(f"rows.jsonl:{N_ROWS + 2}") and "too large" in e.message for e in res.errors)
    assert all(e.message and "Traceback" not in e.message for e in res.errors)
    assert len(res.errors) >= 150 and len(res.added) >= 100, (len(res.errors), len(res.added))
    # Every stored report is whole: text and sidecar, the sidecar's hash is the text's; no temp files.
    import hashlib

    from qa_service.corpus.store import corpus_files, read_sidecar

    names = {p.name for p in s.corpus_dir.iterdir()}
    assert not [n for n in names if n.startswith(".")]
    stored = corpus_files(s.corpus_dir)
    assert {p.stem for p in stored} == set(res.added)
    for p in stored:
        assert read_sidecar(p)["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    # What import accepted, the build indexes: no imported report fails to load.
    rep = build(s)
    assert rep.errors == [] and set(rep.index.doc_by_id) == set(res.added)


def test_cli_import_of_malformed_input_prints_no_traceback(tmp_path):
    import subprocess
    import sys

    files, _ = _fuzz_inputs(tmp_path / "in", Gen(SEED + 3))
    env = dict(__import__("os").environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "qa_service.cli", "import", "--no-index", str(tmp_path / "in"),
                        "--corpus", str(tmp_path / "corpus"), "--models", str(tmp_path / "models")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert "failed" in r.stdout and "errors (" in r.stdout


@pytest.fixture()
def writable(tmp_path):
    from qa_service.web.app import create_app

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    s = Settings(corpus_dir=corpus, models_dir=tmp_path / "models", admin_token=TOKEN, reload_interval=0.0)
    app = create_app(s)
    return s, app.test_client()


def test_post_documents_fuzz(writable):
    s, c = writable
    g = Gen(SEED + 1)
    stored: set[str] = {REPORT.stem}
    counts: dict[int, int] = {}
    for i in range(N_POSTS):
        r = g.r
        doc_id = r.choice([f"p{i}", f"P{i - 1}", f"p{i - 1}", REPORT.stem.upper(), "", "../x", "a" * 201, None])
        text = g.text()
        mode = r.randrange(4)
        if mode == 0:
            resp = c.post("/api/documents", json={"id": doc_id, "text": text} if doc_id is not None
                          else {"text": text}, headers=AUTH)
        elif mode == 1:
            q = {"id": doc_id} if doc_id else {}
            resp = c.post("/api/documents", query_string=q, data=g.file_bytes(), content_type="text/plain",
                          headers=AUTH)
        elif mode == 2:
            resp = c.post("/api/documents", data=g.jsonl_row(i), content_type="application/json", headers=AUTH)
        else:
            resp = c.post("/api/documents", data=text.encode("utf-8", "surrogatepass"),
                          content_type="text/plain; charset=utf-8", query_string={"id": f"t{i}"}, headers=AUTH)
        status = resp.status_code
        counts[status] = counts.get(status, 0) + 1
        assert status in (201, 400, 409, 413, 415, 422), (i, status, resp.get_data(as_text=True)[:300])
        body = resp.get_json()
        files = {p.name for p in s.corpus_dir.iterdir()}
        assert not any(".tmp-" in f for f in files), files  # never a half-written file
        if status == 201:
            stored.add(body["id"])
            got = c.get(f"/api/documents/{body['id']}")
            assert got.status_code == 200
        else:
            assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
        on_disk = {Path(f).stem for f in files if f.endswith(".txt")}
        assert on_disk == stored, (i, status, on_disk ^ stored)
    listed = {d["id"] for d in c.get("/api/documents").get_json()["documents"]}
    assert listed == stored
    assert counts.get(201, 0) >= 5 and sum(v for k, v in counts.items() if k != 201) >= 100, counts
