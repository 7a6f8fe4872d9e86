"""Scale benchmark: this service vs bm25s and rank_bm25 on the same corpora and questions, plus quality.

    /work/main/.venv/bin/python benchmarks/scale.py [--sizes 1k,10k,16k,100k] [--questions 1000]

Corpora (read in place from ../shared/data; derived files go to --workdir, never the repository):
  1k    the first 1,000 rows of e3c_en_cases/cases.jsonl        questions: PubMedQA (all 1,000, in file order)
  10k   all 10,034 rows of e3c_en_cases/cases.jsonl             questions: PubMedQA
  16k   MedQuAD: each pair's answer is a document (16,407)       questions: 1,000 MedQuAD questions (seed 0)
  100k  SYNTHETIC: 100,000 documents, each as many sentences as  questions: PubMedQA
        a random e3c document, drawn at random from all e3c sentences (seed 0)

Systems, each built by one command in a fresh process and then loaded and queried in another fresh
process (so the resident memory is that system's own):
  casebook      `qa-service index` (cli.main) builds; load_index + make_answerer load;
                "retrieval" = query_terms + Index.score + argpartition top-10 (sorted);
                "ask" = the full in-process Answerer.ask(top_k=3) (analysis, scoring, context,
                re-ranking of at most 60 candidates, answer focusing).
  bm25s         bm25s.tokenize(stopwords="en", stemmer=PyStemmer english) + BM25().index + save
                (with the corpus, so it can return texts as the service does); BM25.load(load_corpus=True);
                query = tokenize + retrieve(k=10).
  bm25s-sentences  bm25s over the service's own indexed sentences (cleaned text, read from the casebook
                index of the same size): the same units as the service, to separate "more units" from
                "slower code".
  rank_bm25     same tokens, BM25Okapi; it has no save format except pickle, so the tokenized corpus is
                saved as JSON and "load" = read JSON + BM25Okapi(...); query = tokenize + get_scores + top-10.
The service indexes sentences (its unit of answer); the anchors index whole documents.

Results are printed and written to benchmarks/README.md between the `<!-- scale:* -->` and
`<!-- quality:* -->` markers (--no-readme to skip).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from pathlib import Path

T_START = time.perf_counter()

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
README = Path(__file__).resolve().parent / "README.md"
E3C = DATA / "e3c_en_cases" / "cases.jsonl"
MEDQUAD = DATA / "medquad" / "qa.jsonl"
PUBMEDQA_Q = DATA / "pubmedqa" / "questions.jsonl"
SYSTEMS = ("casebook", "bm25s", "bm25s-sentences", "rank_bm25")
TOP_K = 10
WARMUP = 5


# ================================================================== worker (runs in a fresh process)

def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS: resident now, VmHWM: peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _hwm_mb() -> float:
    return _status_mb("VmHWM")


def _read_rows(path: str) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                ids.append(str(r["id"]))
                texts.append(r["text"])
    return ids, texts


def _tokenizer():
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")

    def tok(texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)

    return tok


def _service_sentences(models: Path) -> tuple[list[str], list[str]]:
    """(doc-id#row, cleaned text) of every indexed sentence of a saved casebook index."""
    import numpy as np

    from qa_service.index.bm25 import load_index

    index = load_index(models)
    s = index.sentences
    ids, texts = [], []
    for r in map(int, np.flatnonzero(s["indexed"])):
        doc = index.docs[int(s["doc"][r])]
        ids.append(f"{doc.id}#{r}")
        texts.append(doc.text[int(s["start"][r]):int(s["end"][r])])
    return ids, texts


def _dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def worker_build(spec: dict) -> dict:
    system, corpus, out = spec["system"], spec["corpus"], Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {}
    if system == "casebook":
        from qa_service.cli import main
        from qa_service.index.bm25 import current_name, read_meta

        # The user's route: import the JSONL into a corpus folder, then index it (both in the build time).
        folder = out / "corpus"
        t0 = time.perf_counter()
        rc = main(["import", corpus, "--no-index", "--corpus", str(folder), "--models", str(out)])
        res["import_s"] = time.perf_counter() - t0
        rc = rc or main(["index", "--corpus", str(folder), "--models", str(out)])
        if rc:
            raise SystemExit(f"qa-service import/index failed ({rc})")
        meta = read_meta(out)
        res.update(n_docs=meta["n_docs"], n_units=meta["n_sentences"], n_terms=meta["n_terms"],
                   disk_bytes=_dir_bytes(out / current_name(out)))
    elif system == "bm25s":
        import bm25s

        tok = _tokenizer()
        ids, texts = _read_rows(corpus)
        r = bm25s.BM25()
        r.index(tok(texts), show_progress=False)
        r.save(str(out), corpus=[{"id": i, "text": t} for i, t in zip(ids, texts)], show_progress=False)
        res.update(n_docs=len(ids), n_units=len(ids), n_terms=len(r.vocab_dict), disk_bytes=_dir_bytes(out))
    elif system == "bm25s-sentences":
        import bm25s

        tok = _tokenizer()
        ids, texts = _service_sentences(Path(spec["casebook_index"]))
        r = bm25s.BM25()
        r.index(tok(texts), show_progress=False)
        r.save(str(out), corpus=[{"id": i, "text": t} for i, t in zip(ids, texts)], show_progress=False)
        res.update(n_docs=spec["n_docs"], n_units=len(ids), n_terms=len(r.vocab_dict), disk_bytes=_dir_bytes(out))
    elif system == "rank_bm25":
        from rank_bm25 import BM25Okapi

        tok = _tokenizer()
        ids, texts = _read_rows(corpus)
        tokens = tok(texts)
        BM25Okapi(tokens)  # the fit, timed as part of the build
        (out / "tokens.json").write_text(json.dumps({"ids": ids, "tokens": tokens}, separators=(",", ":")))
        res.update(n_docs=len(ids), n_units=len(ids), disk_bytes=_dir_bytes(out))
    res["build_peak_rss_mb"] = _hwm_mb()
    return res


def _timed(fn, questions: list[str], budget: float) -> dict:
    import numpy as np

    for q in questions[:WARMUP]:
        fn(q)
    times = []
    t_end = time.perf_counter() + budget
    for q in questions:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
        if time.perf_counter() > t_end:
            break
    ms = np.array(times) * 1000
    return {"n": len(times), "of": len(questions), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def worker_query(spec: dict) -> dict:
    system, folder, budget = spec["system"], Path(spec["out"]), float(spec["budget"])
    questions = json.loads(Path(spec["questions"]).read_text())
    # ---- imports (what the process needs before it can load)
    import numpy as np

    if system == "casebook":
        from collections import Counter

        from qa_service.text.tokenize import query_terms
        from qa_service.config import Settings
        from qa_service.index.bm25 import load_index
        from qa_service.service.build import make_answerer
    elif system in ("bm25s", "bm25s-sentences"):
        import bm25s
        tok = _tokenizer()
    else:
        from rank_bm25 import BM25Okapi
        tok = _tokenizer()
    gc.collect()
    t_imported = time.perf_counter()
    rss_base = _rss_mb()
    # ---- load
    extra: dict = {}
    if system == "casebook":
        index = load_index(folder)
        t_index = time.perf_counter()
        gc.collect()
        extra = {"index_load_s": t_index - t_imported, "rss_index_mb": _rss_mb()}
        paused = time.perf_counter() - t_index  # the memory reading, not part of the load
        t_index = time.perf_counter()
        # models_dir = the index folder: the concept vocabulary cache the build wrote there.
        answerer = make_answerer(index, Settings(models_dir=folder))
        extra["answerer_s"] = time.perf_counter() - t_index
        n_docs, n_units = len(index.docs), index.n_sentences
    elif system in ("bm25s", "bm25s-sentences"):
        r = bm25s.BM25.load(str(folder), load_corpus=True, mmap=False)
        n_units = int(r.scores["num_docs"])
        n_docs = int(spec.get("n_docs") or n_units)
    else:
        saved = json.loads((folder / "tokens.json").read_text())
        bm = BM25Okapi(saved["tokens"])
        ids = saved["ids"]
        del saved
        n_docs = n_units = len(ids)
    t_loaded = time.perf_counter() - (paused if system == "casebook" else 0.0)
    gc.collect()
    rss_loaded = _rss_mb()
    res = {"import_s": t_imported - T_START, "load_s": t_loaded - t_imported, "cold_start_s": t_loaded - T_START,
           "rss_base_mb": rss_base, "rss_loaded_mb": rss_loaded, "n_docs": n_docs, "n_units": n_units, "runs": {},
           **extra}

    # ---- queries
    def topk(scores):
        k = min(TOP_K, len(scores))
        idx = np.argpartition(-scores, k - 1)[:k]
        return idx[np.argsort(-scores[idx])]

    if system == "casebook":
        def retrieval(q):
            return topk(index.score(dict(Counter(query_terms(q)))))

        res["runs"]["casebook retrieval"] = _timed(retrieval, questions, budget)
        res["runs"]["casebook ask"] = _timed(lambda q: answerer.ask(q, top_k=3), questions, budget)
    elif system in ("bm25s", "bm25s-sentences"):
        res["runs"][system] = _timed(lambda q: r.retrieve(tok([q]), k=TOP_K, show_progress=False),
                                      questions, budget)
    else:
        res["runs"]["rank_bm25"] = _timed(lambda q: topk(bm.get_scores(tok([q])[0])), questions, budget)
    res["rss_after_queries_mb"] = _rss_mb()
    return res


# ================================================================== corpora and questions

def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", text.strip()) if s.strip()]


def prepare(size: str, workdir: Path, n_questions: int) -> dict:
    """The corpus JSONL and question list of one size (derived files under workdir)."""
    cdir = workdir / "corpora"
    cdir.mkdir(parents=True, exist_ok=True)
    pubmed_q = [json.loads(line)["question"] for line in PUBMEDQA_Q.open(encoding="utf-8") if line.strip()]
    if size in ("1k", "10k", "100k"):
        questions, qdesc = pubmed_q[:n_questions], f"PubMedQA questions (first {min(n_questions, len(pubmed_q))})"
    if size == "1k":
        path = cdir / "e3c-first-1000.jsonl"
        if not path.exists():
            with E3C.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as dst:
                for i, line in enumerate(src):
                    if i >= 1000:
                        break
                    r = json.loads(line)
                    dst.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
        desc = "e3c_en_cases, first 1,000 rows"
    elif size == "10k":
        path, desc = E3C, "e3c_en_cases, all rows (read in place)"
    elif size == "16k":
        path = cdir / "medquad-answers.jsonl"
        rows = [json.loads(line) for line in MEDQUAD.open(encoding="utf-8") if line.strip()]
        if not path.exists():
            with path.open("w", encoding="utf-8") as dst:
                for r in rows:
                    dst.write(json.dumps({"id": r["id"], "title": r.get("focus") or "", "text": r["answer"]},
                                         ensure_ascii=False) + "\n")
        qs = [r["question"] for r in rows]
        questions = random.Random(0).sample(qs, min(n_questions, len(qs)))
        desc, qdesc = "MedQuAD answers as documents", f"MedQuAD questions ({len(questions)} sampled, seed 0)"
    elif size == "100k":
        path = cdir / "synthetic-e3c-100k-seed0.jsonl"
        if not path.exists():
            docs = [_sentences(json.loads(line)["text"]) for line in E3C.open(encoding="utf-8") if line.strip()]
            pool = [s for d in docs for s in d]
            lengths = [len(d) for d in docs]
            rng = random.Random(0)
            tmp = path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as dst:
                for i in range(100_000):
                    n = rng.choice(lengths)
                    text = " ".join(rng.choice(pool) for _ in range(n))
                    dst.write(json.dumps({"id": f"syn-{i:06d}", "text": text}, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
        desc = "SYNTHETIC: 100,000 docs of e3c sentences sampled at random (seed 0)"
    else:
        raise SystemExit(f"unknown size {size!r} (choose from 1k, 10k, 16k, 100k)")
    qpath = workdir / f"questions-{size}.json"
    qpath.write_text(json.dumps(questions))
    return {"size": size, "corpus": str(path), "desc": desc, "questions": str(qpath), "qdesc": qdesc,
            "corpus_bytes": path.stat().st_size}


# ================================================================== driver

def _run_worker(mode: str, spec: dict, timeout: float, log_path: Path) -> tuple[dict | None, float, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    with log_path.open("a") as log:
        try:
            p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", mode, json.dumps(spec)],
                               stdout=subprocess.PIPE, stderr=log, text=True, env=env, timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return None, time.perf_counter() - t0, f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return None, wall, f"exit {p.returncode} (see {log_path})"
    return json.loads(p.stdout.strip().splitlines()[-1]), wall, ""


def machine() -> dict:
    import importlib.metadata as md

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        mem = f"{kb / 1024 ** 2:.1f} GiB"
    except (OSError, StopIteration):
        pass
    versions = {}
    for pkg in ("numpy", "scipy", "scikit-learn", "bm25s", "rank-bm25", "PyStemmer", "spacy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "-"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        commit += " (+ uncommitted changes)" if dirty else ""
    except OSError:
        commit = "?"
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"] * 3
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": mem, "python": platform.python_version(), "loadavg": load,
            "os": f"{platform.system()} {platform.release()}", "versions": versions, "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _fmt(x, nd=1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "–"


def scale_markdown(results: list[dict], mach: dict, notes: list[str], total_s: float) -> str:
    v = mach["versions"]
    lines = [
        f"Run {mach['date']} on commit {mach['commit']}: {mach['nproc']} cores ({mach['cpu']}), {mach['ram']} RAM, "
        f"{mach['os']}; Python {mach['python']}, numpy {v['numpy']}, scipy {v['scipy']}, scikit-learn "
        f"{v['scikit-learn']}, bm25s {v['bm25s']}, rank-bm25 {v['rank-bm25']}, PyStemmer {v['PyStemmer']}, "
        f"spaCy {v['spacy']}. Load average at the start {mach['loadavg_start']}, at the end "
        f"{' / '.join(mach['loadavg'])} (1/5/15 min; 2 cores shared with other work). Whole run {total_s / 60:.1f} min "
        f"(`benchmarks/scale.py --sizes {','.join(r['size'] for r in results)}`).",
        "",
        "Build = wall time of one fresh process that reads the JSONL and writes the index (for casebook: "
        "`qa-service import --no-index` of the JSONL into a corpus folder, then `qa-service index`, "
        "spaCy word list and imports included; the import alone is `import_s` in the JSON results). Load = the index-load call in a "
        "fresh process (casebook: `load_index` + `make_answerer`); cold start = process start to ready "
        "(imports + load). RSS = VmRSS after load; state/doc = (RSS after load − RSS after imports) / documents. "
        "p50/p99 = per-question latency, one question at a time, single thread, after 5 warm-up questions.",
        "",
    ]
    for r in results:
        lines += [f"### {r['size']}: {r['desc']} — {r['n_docs']:,} documents "
                  f"({r['corpus_bytes'] / 1e6:.1f} MB JSONL); {r['qdesc']}", "",
                  "| system | units | build s | build peak RSS MB | disk MB | RSS MB | state B/doc | load s "
                  "| cold start s | p50 ms | p99 ms | questions |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, row in r["rows"].items():
            if row.get("error"):
                lines.append(f"| {name} | – | – | – | – | – | – | – | – | – | – | {row['error']} |")
                continue
            lines.append(
                f"| {name} | {_fmt(row['n_units'])} | {_fmt(row['build_s'])} | {_fmt(row['build_peak_rss_mb'], 0)} "
                f"| {_fmt(row['disk_mb'])} "
                f"| {_fmt(row['rss_mb'], 0)} | {_fmt(row['state_b_per_doc'], 0)} | {_fmt(row['load_s'], 2)} "
                f"| {_fmt(row['cold_s'], 2)} | {_fmt(row['p50_ms'], 2)} | {_fmt(row['p99_ms'], 2)} "
                f"| {row['n_q']}/{row['of_q']} |")
        base = r["rows"].get("bm25s")
        if base and not base.get("error"):
            lines += ["", "Ratio to bm25s (lower is better for every column):", "",
                      "| system | build | disk | RSS | state/doc | load | p50 | p99 |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for name, row in r["rows"].items():
                if name == "bm25s" or row.get("error"):
                    continue
                lines.append(
                    f"| {name} | {_ratio(row['build_s'], base['build_s'])} | {_ratio(row['disk_mb'], base['disk_mb'])} "
                    f"| {_ratio(row['rss_mb'], base['rss_mb'])} "
                    f"| {_ratio(row['state_b_per_doc'], base['state_b_per_doc'])} "
                    f"| {_ratio(row['load_s'], base['load_s'])} | {_ratio(row['p50_ms'], base['p50_ms'])} "
                    f"| {_ratio(row['p99_ms'], base['p99_ms'])} |")
        lines.append("")
    # Memory per document across sizes.
    names = [n for n in ("casebook retrieval", "bm25s", "bm25s-sentences", "rank_bm25")]
    lines += ["State bytes per document (RSS after load − RSS after imports), by size:", "",
              "| system | " + " | ".join(r["size"] for r in results) + " |",
              "| --- | " + " | ".join("---:" for _ in results) + " |"]
    for n in names:
        cells = []
        for r in results:
            row = r["rows"].get(n) or {}
            cells.append(_fmt(row.get("state_b_per_doc"), 0) if not row.get("error") else "–")
        lines.append(f"| {n.replace(' retrieval', '')} | " + " | ".join(cells) + " |")
    lines.append("")
    if notes:
        lines += ["Notes from this run:", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def replace_block(text: str, tag: str, body: str) -> str:
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        return text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    return text.rstrip() + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Scale and cross-dataset benchmark (see the module docstring).")
    p.add_argument("--sizes", default="1k,10k,16k,100k")
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--workdir", default="/tmp/casebook-bench", help="derived corpora and indexes (outside the repo)")
    p.add_argument("--query-budget", type=float, default=60.0, help="seconds of timed questions per system and size")
    p.add_argument("--build-timeout", type=float, default=600.0)
    p.add_argument("--deadline", type=float, default=24.0, help="minutes; later jobs are skipped past it")
    p.add_argument("--rank-bm25-max-docs", type=int, default=200_000, help="skip rank_bm25 above this many docs")
    p.add_argument("--no-quality", action="store_true")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--worker", nargs=2, metavar=("MODE", "SPEC"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        mode, spec = args.worker[0], json.loads(args.worker[1])
        res = worker_build(spec) if mode == "build" else worker_query(spec)
        print(json.dumps(res))
        return 0

    t0 = time.perf_counter()
    deadline = t0 + args.deadline * 60
    load_start = machine()["loadavg"]
    workdir = Path(args.workdir).resolve()
    if ROOT in workdir.parents or workdir == ROOT:
        raise SystemExit("--workdir must be outside the repository")
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "scale.log"
    log_path.write_text("")
    systems = [s for s in args.systems.split(",") if s]
    notes: list[str] = []
    results = []
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        info = prepare(size, workdir, args.questions)
        print(f"[{time.perf_counter() - t0:6.0f} s] {size}: {info['desc']}", flush=True)
        rows: dict[str, dict] = {}
        n_docs = None
        for system in systems:
            names = ["casebook retrieval", "casebook ask"] if system == "casebook" else [system]
            if time.perf_counter() > deadline:
                for n in names:
                    rows[n] = {"error": "skipped: past the time budget"}
                notes.append(f"{size} {system}: skipped, the run passed its {args.deadline:.0f}-minute budget")
                continue
            if system == "rank_bm25" and n_docs and n_docs > args.rank_bm25_max_docs:
                rows[system] = {"error": f"skipped above {args.rank_bm25_max_docs:,} docs"}
                continue
            out = workdir / "indexes" / f"{size}-{system}"
            if out.exists():
                subprocess.run(["rm", "-rf", str(out)], check=True)
            spec = {"system": system, "corpus": info["corpus"], "out": str(out), "questions": info["questions"],
                    "budget": args.query_budget, "n_docs": n_docs,
                    "casebook_index": str(workdir / "indexes" / f"{size}-casebook")}
            if system == "bm25s-sentences" and not (workdir / "indexes" / f"{size}-casebook" / "CURRENT").exists():
                rows[system] = {"error": "needs the casebook index of this size (run casebook first)"}
                continue
            built, build_wall, err = _run_worker("build", spec, args.build_timeout, log_path)
            if built is None:
                for n in names:
                    rows[n] = {"error": f"build {err}"}
                notes.append(f"{size} {system}: build {err}")
                continue
            n_docs = built["n_docs"]
            q_timeout = 4 * args.query_budget + 600
            got, _, err = _run_worker("query", spec, q_timeout, log_path)
            if got is None:
                for n in names:
                    rows[n] = {"error": f"query {err}"}
                notes.append(f"{size} {system}: query {err}")
                continue
            if "index_load_s" in got:
                notes.append(
                    f"{size} casebook load {got['load_s']:.2f} s = `load_index` {got['index_load_s']:.2f} s + "
                    f"`make_answerer` {got['answerer_s']:.2f} s (concept vocabulary, spaCy import and tokenizer: "
                    f"the same at every size); the index alone is "
                    f"{(got['rss_index_mb'] - got['rss_base_mb']) * 2 ** 20 / max(n_docs, 1):,.0f} B/doc, the "
                    f"answerer's vocabulary and spaCy add {got['rss_loaded_mb'] - got['rss_index_mb']:.0f} MB")
            for n in names:
                run = got["runs"][n]
                rows[n] = {"n_units": built["n_units"], "build_s": build_wall, "disk_mb": built["disk_bytes"] / 1e6,
                           "build_peak_rss_mb": built["build_peak_rss_mb"], "rss_mb": got["rss_loaded_mb"],
                           "state_b_per_doc": (got["rss_loaded_mb"] - got["rss_base_mb"]) * 2 ** 20 / max(n_docs, 1),
                           "load_s": got["load_s"], "cold_s": got["cold_start_s"], "p50_ms": run["p50_ms"],
                           "p99_ms": run["p99_ms"], "mean_ms": run["mean_ms"], "n_q": run["n"], "of_q": run["of"]}
                if run["n"] < run["of"]:
                    notes.append(f"{size} {n}: {run['n']} of {run['of']} questions timed "
                                 f"(the {args.query_budget:.0f} s query budget ran out)")
            print(f"[{time.perf_counter() - t0:6.0f} s]   {system}: build {build_wall:.1f} s, "
                  f"load {got['load_s']:.2f} s, RSS {got['rss_loaded_mb']:.0f} MB, "
                  + ", ".join(f"{n} p50 {got['runs'][n]['p50_ms']:.2f} / p99 {got['runs'][n]['p99_ms']:.2f} ms"
                              for n in names), flush=True)
        results.append({**info, "n_docs": n_docs or 0, "rows": rows})
    (workdir / "scale.json").write_text(json.dumps(results, indent=1))
    quality_md = None
    if not args.no_quality:
        if time.perf_counter() > deadline:
            notes.append("quality: skipped, past the time budget")
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            sys.path.insert(0, str(ROOT))
            import quality

            print(f"[{time.perf_counter() - t0:6.0f} s] quality", flush=True)
            qres = quality.run(workdir, log=lambda m: print(m, flush=True))
            (workdir / "quality.json").write_text(json.dumps(qres, indent=1))
            quality_md = quality.to_markdown(qres)
    total = time.perf_counter() - t0
    mach = dict(machine(), loadavg_start=" / ".join(load_start))
    scale_md = scale_markdown(results, mach, notes, total)
    print("\n" + scale_md)
    if quality_md:
        print(quality_md)
    if not args.no_readme:
        text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
        text = replace_block(text, "scale", scale_md)
        if quality_md:
            text = replace_block(text, "quality", quality_md)
        README.write_text(text, encoding="utf-8")
        print(f"wrote {README}")
    print(f"total {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
