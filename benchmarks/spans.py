"""Exact short answers (issue 13 item 2): how often the span holds the evidence's number or term.

    .venv/bin/python benchmarks/spans.py [--set dev|train|all] [--workdir /tmp/casebook-spans] [-v]

Questions: the labelled case-report questions whose analysis asks for a strict answer type (age,
dose, count, measurement, date, duration, drug, test result; `qa.spans.span_type`), each asked
restricted to its report. Two figures per set:

- **on the evidence sentence**: the span found in the answer built at the sentence that holds the
  evidence (the span rules alone, whatever the ranker chose);
- **end to end**: the span of the service's top answer, over the questions whose top answer holds
  the evidence (hit@1), and over all strict questions (a miss or decline counts as wrong).

A span matches (`span_matches`) when it is at most 80 characters and: for a numeric type whose
evidence holds a number (digits, number words or ordinals), it holds one of the evidence's numbers;
otherwise its normalized text lies inside the normalized evidence (or the evidence inside it).
The rules were written on the dev questions only; the train questions are the out-of-sample check.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qa_service.text.tokenize import normalize_for_match  # noqa: E402
from qa_service.corpus.store import resolve_doc_id  # noqa: E402
from qa_service.qa.spans import NUMBER_WORDS, ORDINAL_WORDS, find_span, span_type  # noqa: E402

SHARED = ROOT.parent / "shared"
EVAL = SHARED / "eval"
ADA = SHARED / "data" / "ada_case_reports" / "case_reports.jsonl"
NUMERIC = {"age", "dose", "count", "measurement", "date", "duration"}


def numbers(text: str) -> set[str]:
    """Numbers written as digits, number words or ordinals, as canonical strings."""
    out = {re.sub(r"[,]", ".", n).rstrip("0").rstrip(".") if "." in n or "," in n else n.lstrip("0") or "0"
           for n in re.findall(r"\d+(?:[.,]\d+)?", text)}
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in NUMBER_WORDS:
            out.add(str(NUMBER_WORDS[w]))
        elif w in ORDINAL_WORDS:
            out.add(str(ORDINAL_WORDS[w]))
    return out


def _normalized_map(text: str) -> tuple[str, list[int]]:
    """The evaluation's normalized text and, for each of its characters, the offset in `text`."""
    chars, where = [], []
    for i, ch in enumerate(text.lower()):
        if ch.isascii() and ch.isalnum():
            chars.append(ch)
            where.append(i)
    return "".join(chars), where


def overlaps_evidence(answer_text: str, span: dict, evidence: list[str]) -> bool:
    """The span and the evidence share a stretch of the answer text at least one word long."""
    norm, where = _normalized_map(answer_text)
    for ev in evidence:
        i = norm.find(normalize_for_match(ev))
        if i < 0:
            continue
        ev_start, ev_end = where[i], where[i + len(normalize_for_match(ev)) - 1] + 1
        lo, hi = max(ev_start, span["start"]), min(ev_end, span["end"])
        if hi - lo >= 3 and re.search(r"[A-Za-z0-9]{3}", answer_text[lo:hi]):
            return True
    return False


def span_matches(span_text: str | None, evidence: list[str], kind: str, answer_text: str | None = None,
                 span: dict | None = None) -> bool:
    if not span_text or len(span_text) > 80:
        return False
    numeric_evidence = kind in NUMERIC and any(numbers(ev) for ev in evidence)
    if not numeric_evidence and answer_text is not None and span is not None \
            and overlaps_evidence(answer_text, span, evidence):
        return True
    for ev in evidence:
        ev_nums = numbers(ev)
        if kind in NUMERIC and ev_nums:
            if numbers(span_text) & ev_nums:
                return True
            continue
        a, b = normalize_for_match(span_text), normalize_for_match(ev)
        if len(a) >= 3 and (a in b or b in a):
            return True
    return False


def load(which: str) -> list[dict]:
    files = {"dev": ["dev_questions.jsonl", "dev_other_reports.jsonl"], "train": ["train_questions.jsonl"]}
    names = files["dev"] + files["train"] if which == "all" else files[which]
    rows = []
    for name in names:
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                r["source"] = name
                rows.append(r)
    return rows


def answerers(workdir: Path):
    from qa_service.config import Settings
    from qa_service.service.importer import import_paths
    from qa_service.service.build import load_or_build, make_answerer

    shipped = Settings(corpus_dir=ROOT / "corpus", models_dir=workdir / "shipped")
    ada = Settings(corpus_dir=workdir / "ada-corpus", models_dir=workdir / "ada", encoders=("wl",))
    import_paths(ada, [ADA])  # a no-op once imported
    return (make_answerer(load_or_build(shipped).index, shipped), make_answerer(load_or_build(ada).index, ada))


def evidence_answer(answerer, doc_id: str | None, evidence: list[str]):
    """The answer the service would build at the sentence holding the evidence."""
    from qa_service.qa.focus import make_answer

    index = answerer.index
    d = index.doc_by_id[resolve_doc_id(index.doc_by_id, doc_id)] if doc_id is not None else 0
    lo, hi = int(index.doc_rows[d]), int(index.doc_rows[d + 1])
    targets = [normalize_for_match(e) for e in evidence]
    doc = index.docs[d]
    for row in range(lo, hi):
        s = doc.sentences[row - lo]
        text = normalize_for_match(doc.text[s.start:s.end])
        if any(t in text for t in targets):
            return make_answer(index, row, 1.0, answerer.entities)[0]
    for row in range(lo, hi - 1):  # evidence across two adjacent sentences
        a, b = doc.sentences[row - lo], doc.sentences[row - lo + 1]
        text = normalize_for_match(doc.text[a.start:b.end])
        if any(t in text for t in targets):
            return make_answer(index, row, 1.0, answerer.entities)[0]
    return None


def hit(text: str, evidence: list[str]) -> bool:
    t = normalize_for_match(text)
    return any(normalize_for_match(e) in t for e in evidence)


def run(which: str, workdir: Path, verbose: bool = False) -> dict:
    from qa_service.qa.query import analyse

    shipped, ada = answerers(workdir)
    out: dict = {}
    for source in (["dev", "train"] if which == "all" else [which]):
        rows = load(source)
        n = oracle_ok = e2e_ok = hits = hit_ok = 0
        by_kind: dict[str, list[int]] = {}
        for r in rows:
            a = ada if r.get("doc") else shipped
            q = analyse(r["question"], a.expand, a.concept_weight, a.correct)
            kind = span_type(q)
            if kind is None:
                continue
            n += 1
            ev_answer = evidence_answer(a, r.get("doc"), r["evidence"])
            ev_span = find_span(q, ev_answer.text, ev_answer.entities, ev_answer.start, concepts=a.concepts) if ev_answer else None
            ok = span_matches(ev_span.text if ev_span else None, r["evidence"], kind,
                              ev_answer.text if ev_answer else None, ev_span.to_dict() if ev_span else None)
            oracle_ok += ok
            by_kind.setdefault(kind, [0, 0])
            by_kind[kind][0] += 1
            by_kind[kind][1] += ok
            doc = resolve_doc_id(a.index.doc_by_id, r["doc"]) if r.get("doc") else None  # imported URL ids
            res = a.ask(r["question"], top_k=1, document_id=doc)
            top = res.answers[0] if res.answers else None
            top_span = (top.span or {}).get("text") if top is not None else None
            is_hit = top is not None and hit(top.text, r["evidence"])
            hits += is_hit
            good = is_hit and span_matches(top_span, r["evidence"], kind, top.text, top.span)
            hit_ok += good
            e2e_ok += good
            if verbose and not ok:
                print(f"[{source} {r['id']} {kind}] {r['question']}\n   evidence: {r['evidence']}\n"
                      f"   span: {ev_span.text if ev_span else None!r}\n   in: {ev_answer.text if ev_answer else None}\n")
        out[source] = {
            "strict questions": n,
            "exact match on the evidence sentence": round(oracle_ok / n, 3) if n else None,
            "exact match of the top answer, when it holds the evidence": round(hit_ok / hits, 3) if hits else None,
            "top answer holds the evidence": hits,
            "exact match end to end (misses count)": round(e2e_ok / n, 3) if n else None,
            "by type (n, matched on the evidence sentence)": {k: tuple(v) for k, v in sorted(by_kind.items())},
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="dev", choices=("dev", "train", "all"))
    p.add_argument("--workdir", default="/tmp/casebook-spans")
    p.add_argument("-v", "--verbose", action="store_true", help="print the misses")
    args = p.parse_args()
    print(json.dumps(run(args.set, Path(args.workdir), args.verbose), indent=1))


if __name__ == "__main__":
    main()
