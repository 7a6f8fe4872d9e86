"""The service as shipped on questions over another source: 20 E3C case descriptions served as .txt
files (evaluation/other_source/README.md), with abstention on and off.

    .venv/bin/python benchmarks/other_source.py [--workdir /tmp/casebook-other-source]
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.evaluate import evaluate, read_questions  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from qa_service.service.build import load_or_build, make_answerer  # noqa: E402

HERE = ROOT / "evaluation" / "other_source"
CASES = ROOT.parent / "shared" / "data" / "e3c_en_cases" / "cases.jsonl"


def write_corpus(folder: Path, ids: set[str]) -> None:
    """The named cases, each as <id>.txt, text unchanged."""
    folder.mkdir(parents=True, exist_ok=True)
    with CASES.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["id"] in ids:
                (folder / f"{row['id']}.txt").write_text(row["text"], encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/casebook-other-source"))
    args = ap.parse_args()
    questions = read_questions(HERE / "questions.jsonl")
    unanswerable = read_questions(HERE / "unanswerable.jsonl")
    write_corpus(args.workdir / "corpus", {q["doc"] for q in questions + unanswerable})
    settings = Settings(corpus_dir=args.workdir / "corpus", models_dir=args.workdir / "models")
    index = load_or_build(settings).index
    print(f"{len(index.docs)} case texts, "
          f"{len(questions)} answerable and {len(unanswerable)} unanswerable questions")
    print("| abstention | hit@1 | hit@3 | MRR@5 | answerable declined | unanswerable declined |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, threshold in (("as shipped", None), ("off", 0.0)):
        answerer = make_answerer(index, replace(settings, abstain_threshold=threshold))
        answerer.warm_up()
        rep = evaluate(answerer, questions, unanswerable)
        print(f"| {label} | {rep.hit1:.3f} | {rep.hit3:.3f} | {rep.mrr5:.3f} | "
              f"{rep.answered_abstained}/{rep.n} ({rep.answered_abstained / rep.n:.3f}) | "
              f"{rep.unanswerable_abstained}/{rep.n_unanswerable} "
              f"({rep.unanswerable_abstained / max(rep.n_unanswerable, 1):.3f}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
