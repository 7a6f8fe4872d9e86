"""Follow-up questions (issue 13 item 1): hit@1 of follow-up turns against their standalone versions.

    .venv/bin/python benchmarks/followups.py [--workdir /tmp/casebook-followups] [-v]

The scripted conversations of tests/fixtures/conversations.jsonl (two and three turns over the
shipped report and the five dev reports; written for this purpose, not taken from the eval
files). The first turn is asked restricted to its report (as the dev questions are); later turns
are asked with the conversation's history (the service's own top answers to the earlier turns)
and no report, which must carry over. Each follow-up turn names a standalone version of itself,
asked restricted to the report. A turn counts as answered when its top answer holds one of its
evidence strings (the eval scoring rule). The target: follow-up hit@1 >= 0.8 x standalone hit@1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qa_service.text.tokenize import normalize_for_match  # noqa: E402

CONVERSATIONS = ROOT / "tests" / "fixtures" / "conversations.jsonl"


def load() -> list[dict]:
    return [json.loads(x) for x in CONVERSATIONS.read_text(encoding="utf-8").splitlines() if x.strip()]


def hit(answers, evidence: list[str]) -> bool:
    if not answers:
        return False
    t = normalize_for_match(answers[0].text)
    return any(normalize_for_match(e) in t for e in evidence)


def run(shipped, ada, verbose: bool = False) -> dict:
    from qa_service.qa import Turn

    n = follow = alone = first = 0
    rows = []
    for conv in load():
        a = ada if conv.get("doc") else shipped
        doc = conv.get("doc")
        if doc:
            from qa_service.corpus.store import resolve_doc_id

            doc = resolve_doc_id(a.index.doc_by_id, doc)  # imported URL ids are found by the original
        history: list[Turn] = []
        for k, turn in enumerate(conv["turns"]):
            if k == 0:
                res = a.ask(turn["question"], top_k=1, document_id=doc)
                first += hit(res.answers, turn["evidence"])
            else:
                res = a.ask(turn["question"], top_k=1, history=history)
                solo = a.ask(turn["standalone"], top_k=1, document_id=doc)
                n += 1
                f, s = hit(res.answers, turn["evidence"]), hit(solo.answers, turn["evidence"])
                follow += f
                alone += s
                rows.append({"id": conv["id"], "turn": k + 1, "question": turn["question"],
                             "understood": res.to_dict().get("resolved_question"), "followup_hit": f,
                             "standalone_hit": s})
                if verbose and (not f or not s):
                    top = res.answers[0].text[:140] if res.answers else res.message
                    print(f"[{conv['id']} turn {k + 1}] {turn['question']!r} -> {rows[-1]['understood']!r}"
                          f" follow-up {'hit' if f else 'MISS'}, standalone {'hit' if s else 'MISS'}\n   {top}")
            top = res.answers[0] if res.answers else None
            history.append(Turn(turn["question"], top.document_id, top.start, top.end) if top else Turn(turn["question"]))
    out = {"conversations": len(load()), "follow-up turns": n,
           "first turns hit@1": round(first / len(load()), 3),
           "follow-up hit@1": round(follow / n, 3), "standalone hit@1": round(alone / n, 3),
           "ratio": round((follow / n) / (alone / n), 3) if alone else None}
    return out | ({"turns": rows} if verbose else {})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", default="/tmp/casebook-followups")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from spans import answerers

    shipped, ada = answerers(Path(args.workdir))
    out = run(shipped, ada, args.verbose)
    out.pop("turns", None)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
