"""Fit the answerability model (qa_service.answer.ABSTAIN_COEF) on the dev question sets.

Usage: .venv/bin/python benchmarks/calibrate.py
Prints the features of each question's top candidate, the fitted coefficients, and the
leave-one-out abstention figures, so the constants in answer.py can be checked and refitted.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import read_questions  # noqa: E402
from qa_service.service import load_or_build, make_answerer  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
ADA = ROOT.parent / "shared" / "data" / "ada_case_reports" / "case_reports.jsonl"
FEATURES = ["cover", "cover_win", "typed", "miss_doc", "miss_win", "untyped_strict"]


def top_features(answerer, question: dict) -> dict | None:
    captured = {}
    original = answerer._select

    def select(cands, top_k):
        captured["f"] = cands[0].features
        return original(cands, top_k)

    answerer._select = select
    try:
        answerer.ask(question["question"], top_k=1, document_id=question.get("doc"))
    finally:
        answerer._select = original
    return captured.get("f")


def main() -> None:
    tmp = Path("/tmp/qa-calibrate")
    sets = [
        (Settings(corpus_dir=ROOT / "corpus", models_dir=tmp / "seed"), "dev_questions.jsonl", "dev_unanswerable.jsonl"),
        (Settings(corpus_dir=tmp / "none", models_dir=tmp / "ada", jsonl_files=(ADA,)),
         "dev_other_reports.jsonl", "dev_other_unanswerable.jsonl"),
    ]
    X, y, ids = [], [], []
    for settings, answerable, unanswerable in sets:
        settings = replace(settings, abstain_threshold=0.0)
        answerer = make_answerer(load_or_build(settings).index, settings)
        for label, name in ((1, answerable), (0, unanswerable)):
            for q in read_questions(EVAL / name):
                f = top_features(answerer, q)
                if f is None:  # no sentence shares a term with the question: the service abstains anyway
                    print(f"  {q['id']:6s} no candidate (abstains)")
                    continue
                X.append([f[k] for k in FEATURES])
                y.append(label)
                ids.append(q["id"])
    X, y = np.array(X), np.array(y)
    # Unanswerable questions are few; weight them up so the model is not content to answer everything.
    model = LogisticRegression(C=1.0, class_weight="balanced").fit(X, y)
    print("ABSTAIN_COEF = {" + ", ".join([f'"bias": {model.intercept_[0]:.2f}'] +
                                         [f'"{k}": {c:.2f}' for k, c in zip(FEATURES, model.coef_[0])]) + "}")
    loo = np.zeros(len(y))
    for train, test in LeaveOneOut().split(X):
        m = LogisticRegression(C=1.0, class_weight="balanced").fit(X[train], y[train])
        loo[test] = m.predict_proba(X[test])[:, 1]
    for thr in (0.3, 0.4, 0.5, 0.6):
        wrong_abstain = int(((loo < thr) & (y == 1)).sum())
        right_abstain = int(((loo < thr) & (y == 0)).sum())
        print(f"leave-one-out threshold {thr}: answerable abstained {wrong_abstain}/{int(y.sum())}, "
              f"unanswerable abstained {right_abstain}/{int((y == 0).sum())}")
    for i, p in sorted(zip(ids, loo), key=lambda t: t[1])[:30]:
        print(f"  {i:6s} p={p:.2f}")


if __name__ == "__main__":
    main()
