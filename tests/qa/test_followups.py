"""Follow-up questions (issue 13 item 1): resolution, standalone questions unchanged, API history."""
from __future__ import annotations

import json
import sys

import pytest

from conftest import ADA, EVAL, ROOT


def test_classify():
    from qa_service.qa.followup import classify

    assert classify("At what dose?")[0] == "fragment"
    assert classify("How long?")[0] == "fragment"
    assert classify("Was it treated?")[0] == "pronoun"
    assert classify("What about her kidneys?") == ("subject", "her kidneys")
    assert classify("And the CT scan?") == ("subject", "the CT scan")
    assert classify("and after surgery?") == ("qualifier", "after surgery")
    for q in ("How old was she?", "What did the renal biopsy confirm?", "Was she treated with steroids?",
              "What was put on the granulation tissue and did it work?"):
        assert classify(q)[0] == "standalone", q


def test_resolve_chain():
    from qa_service.qa.followup import Turn, resolve

    hist = [Turn("Which antibiotic was she given?", "d", 0, 10)]
    r = resolve("At what dose?", hist, lambda q, t: "ceftriaxone")
    assert r.followup and r.document_id == "d" and "ceftriaxone" in r.question and r.own_type
    r = resolve("What did the chest radiograph show?", [Turn("x", "d", 0, 1)])
    assert not r.followup and r.question == "What did the chest radiograph show?" and r.document_id is None
    r = resolve("And the CT scan?", [Turn("What did the chest radiograph show?", "d", 0, 1)])
    assert r.question == "What did the CT scan show?"
    # a declined turn keeps the subject but names no referent
    r = resolve("Where?", [Turn("Were ulcers seen?")])
    assert r.followup and "ulcers" in r.question and r.document_id is None


def _rows(name):
    return [json.loads(x) for x in (EVAL / name).read_text(encoding="utf-8").splitlines() if x.strip()]


def _same(a, b):
    return [(x.document_id, x.start, x.end, x.score) for x in a.answers] == \
        [(x.document_id, x.start, x.end, x.score) for x in b.answers]


def test_standalone_questions_unchanged_with_history(answerer, ada_answerer):
    """Every dev question, asked after an unrelated turn, gets exactly the answers it gets alone."""
    from qa_service.qa import Turn

    if not EVAL.exists():
        pytest.skip("shared eval data not present")
    first = answerer.ask("What did the chest radiograph show?", top_k=1).answers[0]
    hist = [Turn("What did the chest radiograph show?", first.document_id, first.start, first.end)]
    for r in _rows("dev_questions.jsonl") + _rows("dev_unanswerable.jsonl"):
        alone = answerer.ask(r["question"])
        along = answerer.ask(r["question"], history=hist)
        assert _same(alone, along), r["question"]
        assert along.to_dict()["resolved_question"] == r["question"] and not along.resolution.followup
    for r in _rows("dev_other_reports.jsonl"):
        alone = ada_answerer.ask(r["question"], document_id=r["doc"])
        along = ada_answerer.ask(r["question"], document_id=r["doc"], history=hist[:0] + [Turn("What was given?")])
        assert _same(alone, along), r["question"]


def test_followup_hit_ratio(answerer, ada_answerer):
    if not ADA.exists():
        pytest.skip("shared ADA corpus not present")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import followups

    got = followups.run(answerer, ada_answerer)
    assert got["conversations"] >= 30 and got["follow-up turns"] >= 30
    assert got["follow-up hit@1"] >= 0.8 * got["standalone hit@1"], got


def test_api_followup(client):
    first = client.post("/api/ask", json={"question": "What did the chest radiograph show?", "top_k": 1}).get_json()
    a = first["answers"][0]
    turn = {"question": "What did the chest radiograph show?",
            "answer": {"document_id": a["document_id"], "start": a["start"], "end": a["end"]}}
    body = client.post("/api/ask", json={"question": "What about the radiographs of the hips and hands?",
                                         "history": [turn]}).get_json()
    assert body["resolved_question"] == "What did the radiographs of the hips and hands show?"
    assert body["followup"]["is_followup"] and body["followup"]["document_id"] == a["document_id"]
    assert "widespread calcifications in the soft tissue" in body["answers"][0]["text"]
    # without history nothing changes, and there is no resolved_question
    body = client.post("/api/ask", json={"question": "What did the renal biopsy confirm?"}).get_json()
    assert "resolved_question" not in body and "followup" not in body
    ok = client.post("/api/ask", json={"question": "At what dose?", "history": [{"question": "Which drug?", "answer": None}]})
    assert ok.status_code == 200


@pytest.mark.parametrize("history", [
    "x", {"question": "q"}, [1], [{"question": ""}], [{"question": "q", "answer": "a"}],
    [{"question": "q", "extra": 1}], [{"question": 3, "answer": None}],
    [{"question": "q", "answer": {"document_id": "nope", "start": 0, "end": 5}}],
    [{"question": "q", "answer": {"document_id": "calcinosis-cutis-universalis-sle", "start": 5, "end": 2}}],
    [{"question": "q", "answer": {"document_id": "calcinosis-cutis-universalis-sle", "start": 0, "end": 10 ** 9}}],
    [{"question": "q", "answer": {"document_id": "calcinosis-cutis-universalis-sle", "start": True, "end": 5}}],
    [{"question": "q", "answer": {"document_id": "calcinosis-cutis-universalis-sle", "start": 0}}],
    [{"question": "q", "answer": None}] * 11,
    [{"question": "q" * 1001, "answer": None}],
])
def test_malformed_history_is_json_400(client, history):
    r = client.post("/api/ask", json={"question": "At what dose?", "history": history})
    assert r.status_code == 400 and r.content_type == "application/json"
    assert r.get_json()["error"]["code"] == "invalid_history"
