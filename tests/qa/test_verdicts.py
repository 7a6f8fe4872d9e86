"""Yes/no verdicts (issue 13 item 3).

The dev questions that the question analysis flags as yes/no, with the verdict their evidence
sentence gives, labelled by hand from that sentence (ids only: the questions are read from the
shared eval files in place)."""
from __future__ import annotations

import json

import pytest

from conftest import EVAL

# id -> the verdict a reader takes from the evidence sentence
TRUTH = {
    "d09": "no",   # calcifying panniculitis was considered, but the biopsy showed no infiltrate
    "d11": "no",   # calcinosis cutis is rarely described in SLE
    "d15": "yes",  # local inflammation may occur, leading to ulceration
    "d16": "yes",  # soft tissue calcifications may be easily demonstrated on plain radiographs
    "d19": "no",   # she had not received any specialist care
    "o04": "yes",  # she takes amiodarone (and metoprolol)
    "o05": "yes",  # axillary temperature of 95 °F: hypothermic
    "o08": "no",   # no tumor or stroke was found in the tomography
    "o16": "yes",  # family history significant for sudden deaths at an early age
    "o19": "yes",  # urine toxicology screen positive for cocaine
    "o29": "no",   # no family antecedents of severe acne
    "o31": "yes",  # 10 kg weight loss in five months
    "o39": "no",   # previously healthy, no past medical history
    "o50": "no",   # medical and family history unremarkable
    "o56": "yes",  # a resection of the right hemicolon was performed
}


def _rows(name):
    return [json.loads(line) for line in (EVAL / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def dev_yes_no(answerer, ada_answerer):
    if not EVAL.exists():
        pytest.skip("shared eval data not present")
    out = []
    for name in ("dev_questions.jsonl", "dev_other_reports.jsonl"):
        for r in _rows(name):
            a = ada_answerer if r.get("doc") else answerer
            res = a.ask(r["question"], top_k=1, document_id=r.get("doc"))
            if res.analysis.yes_no:
                out.append((r["id"], res))
    return out


def test_every_yes_no_dev_question_is_labelled(dev_yes_no):
    assert {i for i, _ in dev_yes_no} == set(TRUTH)


def test_verdicts_on_the_yes_no_dev_questions(dev_yes_no):
    right = [i for i, res in dev_yes_no if res.verdict == TRUTH[i]]
    # End to end (a ranking miss counts): 14/15 when written, 13/15 after the ranker was refitted with
    # the research questions (d11's top answer moved to another sentence); the floor is one question
    # below that.
    assert len(right) / len(TRUTH) >= 0.8, {i: res.verdict for i, res in dev_yes_no if i not in right}
    for _, res in dev_yes_no:
        assert res.to_dict()["verdict"] in ("yes", "no", "not stated")
        assert res.answers[0].verdict == res.verdict


@pytest.mark.parametrize("question, sentence, expected", [
    ("Did she have a fever?", "She had no fever, chills or night sweats.", "no"),
    ("Did she have a rash?", "She had no fever but a widespread rash on her trunk.", "yes"),
    ("Was he treated with steroids?", "He was treated with oral steroids for six weeks.", "yes"),
    ("Was tuberculosis confirmed?", "Tuberculosis was suspected, but cultures and PCR were negative.", "no"),
    ("Is sarcoidosis common in children?", "Sarcoidosis is rarely seen in children.", "no"),
    ("Did she have any past medical problems?", "Her past medical history was unremarkable.", "no"),
    ("Were the cultures positive?", "Blood cultures were negative.", "no"),
    ("Did he smoke?", "The weather was warm in August.", "not stated"),
])
def test_verdict_of_a_sentence(analyse_q, answerer, question, sentence, expected):
    from qa_service.qa.verdict import verdict

    assert verdict(analyse_q(question), sentence, answerer.entities(sentence), 0, answerer.concepts) == expected


def test_no_verdict_for_open_questions(answerer):
    res = answerer.ask("What did the renal biopsy confirm?", top_k=1)
    assert res.verdict is None and "verdict" not in res.to_dict() and "verdict" not in res.answers[0].to_dict()


def test_declined_yes_no_question_is_not_stated(answerer):
    res = answerer.ask("Was a colonoscopy performed?")
    assert not res.answers and res.verdict == "not stated"
