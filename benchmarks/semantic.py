"""How useful are the sentence encoders of qa_service.index.semantic for picking the answer sentence?

For each training question (../shared/eval/train_questions.jsonl) the question's report (the ADA
JSONL row whose `id` is the question's `doc`) is cleaned and sentence-split by the project's own
pipeline (corpus.build_document), every sentence of it is ranked by cosine to the question, and

    hit@k = one of the top k sentences, normalised (lowercase, only [a-z0-9] kept), contains a
            normalised evidence string of the question.

"reachable" counts the questions where some single sentence contains an evidence string at all
(evidence that spans a sentence break can never be hit). A TF-IDF cosine over the same sentences
(fit per report, sklearn) is the lexical baseline.

Cost: each encoder runs in its own child process so its memory is its own: load time, RSS after
load, peak RSS; encode time of each question alone (what a query pays), and of every report's
sentences in one encode() call per report (what indexing pays), as sentences/s and ms per 1,000. MiniLM runs twice: with its default of one
OpenBLAS thread, and with OpenBLAS's own thread count (2 here).

    .venv/bin/python benchmarks/semantic.py            # all encoders + TF-IDF, prints a markdown table
    .venv/bin/python benchmarks/semantic.py --limit 100
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
QUESTIONS = SHARED / "eval" / "train_questions.jsonl"
REPORTS = SHARED / "data" / "ada_case_reports" / "case_reports.jsonl"
TFIDF = "tfidf"
MINILM_BLAS_DEFAULT = "minilm-l6-v2@blas-default"  # OpenBLAS's own thread count instead of 1
ALL = ("wordllama-l2-supercat-256", "minilm-l6-v2", MINILM_BLAS_DEFAULT, TFIDF)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def norm(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_data(limit: int | None) -> tuple[list[dict], dict[str, list[str]]]:
    from qa_service.corpus.store import build_document
    from qa_service.clinical.rarity import is_word

    questions = [json.loads(line) for line in QUESTIONS.open() if line.strip()]
    if limit:
        questions = questions[:limit]
    wanted = {q["doc"] for q in questions}
    sentences: dict[str, list[str]] = {}
    for line in REPORTS.open():
        row = json.loads(line)
        if row["id"] in wanted:
            doc = build_document(row["id"], row["text"], row.get("title"), is_word=is_word)
            sentences[row["id"]] = [doc.text[s.start:s.end] for s in doc.sentences]
    return questions, sentences


def hits(questions: list[dict], sentences: dict[str, list[str]], scores: list[np.ndarray]) -> dict:
    h1 = h3 = reachable = 0
    for q, s in zip(questions, scores):
        ev = [norm(e) for e in q["evidence"] if norm(e)]
        good = np.array([any(e in norm(t) for e in ev) for t in sentences[q["doc"]]])
        reachable += bool(good.any())
        order = np.argsort(-s, kind="stable")
        h1 += bool(good[order[0]])
        h3 += bool(good[order[:3]].any())
    n = len(questions)
    return {"n": n, "docs": len(sentences), "reachable": reachable, "hit1": h1 / n, "hit3": h3 / n}


def run_one(name: str, limit: int | None) -> dict:
    questions, sentences = load_data(limit)
    n_sent = sum(len(v) for v in sentences.values())
    rss0 = rss_mb()
    if name == TFIDF:
        from sklearn.feature_extraction.text import TfidfVectorizer

        t0 = time.perf_counter()
        scores = []
        for q in questions:
            vec = TfidfVectorizer(sublinear_tf=True).fit(sentences[q["doc"]])
            m = vec.transform(sentences[q["doc"]])
            scores.append((m @ vec.transform([q["question"]]).T).toarray().ravel())
        res = hits(questions, sentences, scores)
        res.update(name=name, sentences=n_sent, total_s=time.perf_counter() - t0)
        return res

    from qa_service.index.semantic import load_encoder

    t0 = time.perf_counter()
    if name == MINILM_BLAS_DEFAULT:
        from qa_service.index.semantic import MiniLMEncoder, minilm_dir

        enc = MiniLMEncoder(minilm_dir(), name=name, blas_threads=None)
    else:
        enc = load_encoder(name)
    load_s = time.perf_counter() - t0
    if enc is None:
        return {"name": name, "missing": True}
    rss_loaded = rss_mb()
    enc.encode(["warm up"])
    t0, c0 = time.perf_counter(), time.process_time()
    doc_vecs = {doc: enc.encode(sents) for doc, sents in sentences.items()}
    sent_s, sent_cpu = time.perf_counter() - t0, time.process_time() - c0
    per_q, per_q_cpu = [], []
    scores = []
    for q in questions:
        t, c = time.perf_counter(), time.process_time()
        qv = enc.encode([q["question"]])[0]
        per_q.append(time.perf_counter() - t)
        per_q_cpu.append(time.process_time() - c)
        scores.append(doc_vecs[q["doc"]] @ qv)
    res = hits(questions, sentences, scores)
    per_q_ms = sorted(1000 * x for x in per_q)
    res.update(
        name=enc.name, dim=enc.dim, sentences=n_sent, load_s=load_s,
        rss_base_mb=rss0, rss_loaded_mb=rss_loaded, peak_rss_mb=peak_rss_mb(),
        q_ms_p50=statistics.median(per_q_ms), q_ms_p90=per_q_ms[int(0.9 * (len(per_q_ms) - 1))],
        sent_per_s=n_sent / sent_s, ms_per_1000=1000 * sent_s / n_sent * 1000,
        cpu_ms_per_1000=1000 * sent_cpu / n_sent * 1000, q_cpu_ms_p50=1000 * statistics.median(per_q_cpu),
    )
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N questions only")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child process: one encoder, JSON on stdout
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--rankers", nargs="+", help="a subset of: " + ", ".join(ALL))
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.limit)))
        return 0

    results = []
    load_before = os.getloadavg()[0]
    for name in args.rankers or ALL:
        cmd = [sys.executable, __file__, "--one", name] + (["--limit", str(args.limit)] if args.limit else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"done {name}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))

    first = next(r for r in results if not r.get("missing"))
    print(f"{first['n']} questions over {first['docs']} reports, {first['sentences']:,} sentences; {first['reachable']} questions have an evidence string "
          f"inside one sentence. Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other processes share the cores).\n")
    print("| ranker | dim | hit@1 | hit@3 | load s | question encode ms p50 / p90 (CPU p50) | sentences/s | ms per 1,000 sentences (CPU) | RSS after load MB (+model) | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if r.get("missing"):
            print(f"| {r['name']} | not installed | | | | | | | | |")
        elif r["name"] == TFIDF:
            print(f"| TF-IDF cosine (baseline) | | {r['hit1']:.3f} | {r['hit3']:.3f} | | | | | | |")
        else:
            print(f"| {r['name']} | {r['dim']} | {r['hit1']:.3f} | {r['hit3']:.3f} | {r['load_s']:.2f} | "
                  f"{r['q_ms_p50']:.2f} / {r['q_ms_p90']:.2f} ({r['q_cpu_ms_p50']:.2f}) | {r['sent_per_s']:,.0f} | "
                  f"{r['ms_per_1000']:,.0f} ({r['cpu_ms_per_1000']:,.0f}) | "
                  f"{r['rss_loaded_mb']:.0f} (+{r['rss_loaded_mb'] - r['rss_base_mb']:.0f}) | {r['peak_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
