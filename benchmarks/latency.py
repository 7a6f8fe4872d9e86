"""In-process ask latency with every feature on: the shipped report (WordLlama + MiniLM, the
default) and 10,034 E3C case texts (WordLlama only: MiniLM's index-time encoding of ~65k sentences
is the cost that variant avoids). Questions are the dev questions' wording over the shipped report
and, at 10k, 200 questions asked across the whole corpus.

    .venv/bin/python benchmarks/latency.py [--workdir /tmp/casebook-latency] [--skip-10k]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_service.config import Settings  # noqa: E402
from qa_service.service.build import load_or_build, make_answerer  # noqa: E402

SHARED = ROOT.parent / "shared"


def percentiles(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p90_ms": round(ms[int(0.9 * len(ms))], 1),
            "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1)}


def time_asks(answerer, questions: list[str], document_id=None, rounds: int = 2) -> dict:
    for q in questions[:5]:
        answerer.ask(q, document_id=document_id)  # warm caches once, as a serving worker would
    ms = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            answerer.ask(q, document_id=document_id)
            ms.append((time.perf_counter() - t0) * 1000)
    return percentiles(ms)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/casebook-latency"))
    ap.add_argument("--skip-10k", action="store_true")
    args = ap.parse_args(argv)
    questions = [json.loads(line)["question"] for name in ("dev_questions.jsonl", "dev_other_reports.jsonl",
                                                           "train_questions.jsonl")
                 for line in (SHARED / "eval" / name).read_text().splitlines() if line.strip()]
    results = {}
    s = Settings(corpus_dir=ROOT / "corpus", models_dir=args.workdir / "shipped")
    t0 = time.perf_counter()
    a = make_answerer(load_or_build(s).index, s)
    a.warm_up()
    results["shipped report (wl+lm)"] = time_asks(a, questions[:200]) | {"load_s": round(time.perf_counter() - t0, 1)}
    print(results, flush=True)
    if not args.skip_10k:
        from qa_service.service.importer import import_paths

        s = Settings(corpus_dir=args.workdir / "e3c-corpus", models_dir=args.workdir / "e3c", encoders=("wl",))
        import_paths(s, [SHARED / "data" / "e3c_en_cases" / "cases.jsonl"])  # a no-op once imported
        t0 = time.perf_counter()
        rep = load_or_build(s)
        build_s = time.perf_counter() - t0
        a = make_answerer(rep.index, s)
        a.warm_up()
        results["10,034 E3C reports (wl)"] = time_asks(a, questions[:200], rounds=1) | {
            "build_or_load_s": round(build_s, 1), "sentences": rep.index.n_sentences}
    for k, v in results.items():
        print(f"| {k} | " + " | ".join(f"{kk} {vv}" for kk, vv in v.items()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
