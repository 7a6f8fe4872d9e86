"""Exact short answers (issue 13 item 2): the span of a strict-type answer."""
from __future__ import annotations

import sys

import pytest

from conftest import ADA, EVAL, ROOT


@pytest.mark.parametrize("question, sentence, expected", [
    ("How old was the patient?", "A 47-year-old man presented with chest pain.", "47-year-old"),
    ("What was his age?", "The patient, aged 63 years, was admitted.", "aged 63 years"),
    ("What dose of heparin was given?", "He received heparin 5000 units twice daily and aspirin 75 mg.",
     "5000 units twice daily"),
    ("What was her sodium level?", "Her sodium was 128 mmol/L and potassium 3.2 mmol/L.", "128 mmol/L"),
    ("What was his potassium level?", "The ECG showed U waves with low potassium levels of 2.9.", "2.9"),
    ("How long had she had the cough?", "She had a dry cough for the past three weeks, worse at night.",
     "for the past three weeks"),
    ("When was he discharged?", "On postoperative day 9, he was discharged home.", "On postoperative day 9"),
    ("How many lesions were seen?", "MRI showed 4 lesions in the left lobe.", "4 lesions"),
    ("How big was the cyst?", "Ultrasound showed a 4.5 × 3 cm cyst in the right ovary.", "4.5 × 3 cm"),
    ("Which antibiotic was she given?", "She was treated with ceftriaxone 2 g daily for a week.", "ceftriaxone 2 g daily"),
    ("Which bacteria grew in the blood cultures?", "Blood cultures were positive for Staphylococcus aureus, and she improved.",
     "Staphylococcus aureus"),
])
def test_span_of_a_strict_answer(analyse_q, answerer, question, sentence, expected):
    from qa_service.qa.spans import find_span

    span = find_span(analyse_q(question), sentence, answerer.entities(sentence), 0, concepts=answerer.concepts)
    assert span is not None and span.text == expected
    assert sentence[span.start:span.end] == span.text


def test_no_span_for_open_questions(analyse_q, answerer):
    from qa_service.qa.spans import find_span, span_type

    for q in ("What did the renal biopsy confirm?", "Why was she admitted?", "What is calcinosis cutis?"):
        assert span_type(analyse_q(q)) is None
    # a number the question itself names is not its answer
    q = analyse_q("What did the 12-lead ECG show about the QT interval, in msec?")
    span = find_span(q, "The 12-lead ECG showed a QT interval of 520 msec.", [], 0)
    assert span is None or "12" not in span.text


def test_answers_carry_spans(answerer):
    a = answerer.ask("What age was the woman when she presented?", top_k=1).answers[0]
    assert a.span and a.span["text"] == "21-year-old" and a.text[a.span["start"]:a.span["end"]] == "21-year-old"
    assert "span" not in answerer.ask("What did the renal biopsy confirm?", top_k=1).answers[0].to_dict()


def test_span_exact_match_on_the_dev_questions(tmp_path_factory):
    if not (ADA.exists() and EVAL.exists()):
        pytest.skip("shared eval data not present")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import spans as bench

    got = bench.run("dev", tmp_path_factory.mktemp("spans"))["dev"]
    assert got["strict questions"] >= 25
    assert got["exact match on the evidence sentence"] >= 0.8, got
    assert got["exact match of the top answer, when it holds the evidence"] >= 0.8, got
