"""question_analysis on questions written for these tests (not the dev questions)."""
from __future__ import annotations

import pytest

from qa_service.text.tokenize import query_terms
from qa_service.qa.question import analyze_question, holds_type


def analyze(q):
    return analyze_question(q, query_terms(q))


@pytest.mark.parametrize("question, answer_type", [
    ("How old was the farmer when he collapsed?", "age"),
    ("At what age did her seizures begin?", "age"),
    ("What dose of prednisolone did she receive?", "dose"),
    ("How much methotrexate was he given each week?", "dose"),
    ("How long did the fever last?", "duration"),
    ("For how many days was she ventilated?", "duration"),
    ("Which antibiotic was he started on?", "treatment"),
    ("What medication was given for the pain?", "treatment"),
    ("What did the abdominal ultrasound show?", "finding"),
    ("What did the biopsy reveal?", "finding"),
    ("What symptoms did the runner report?", "findings"),
    ("What was his creatinine level?", "measurement"),
    ("How many lymph nodes were involved?", "count"),
    ("When was the stent inserted?", "date"),
    ("Why was the child admitted?", "cause"),
    ("What was the final diagnosis?", "diagnosis"),
    ("How was she doing at follow-up?", "outcome"),
    ("Where was the mass located?", "location"),
    ("What is sarcoidosis?", "definition"),
    ("Did he have a rash?", "other"),
])
def test_answer_type(question, answer_type):
    assert analyze(question).answer_type == answer_type


def test_yes_no_and_patient():
    a = analyze("Was there any pleural effusion?")
    assert a.yes_no and a.about_patient and a.answer_type == "other"
    a = analyze("Which antibiotic was he started on?")
    assert not a.yes_no and a.about_patient


def test_general_question_and_named_section():
    a = analyze("What is sarcoidosis?")
    assert not a.about_patient
    a = analyze("According to the discussion, how common is this complication?")
    assert a.section == "Discussion" and not a.about_patient


def test_terms_drop_question_words():
    a = analyze("What dose of prednisolone did she receive?")
    assert a.terms == ["dose", "prednisolon", "receiv"]
    assert a.to_dict()["answer_type"] == "dose"


@pytest.mark.parametrize("answer_type, yes, no", [
    ("age", "A 58-year-old farmer presented with fatigue.", "The farmer presented with fatigue."),
    ("dose", "She received prednisolone 40 mg daily.", "She received prednisolone."),
    ("duration", "The fever lasted five days.", "The fever resolved."),
    ("measurement", "Creatinine was 2.4 mg/dL.", "Creatinine was measured."),
])
def test_sentences_holding_the_answer_type(answer_type, yes, no):
    assert holds_type(answer_type, yes)
    assert not holds_type(answer_type, no)


def test_only_normal_sentences_hold_no_finding():
    from collections import Counter

    from qa_service.qa.question import only_normal

    assert only_normal("The rest of the abdominal examination was unremarkable.")
    assert only_normal("His chest X-ray was normal.")
    assert not only_normal("The chest X-ray was normal apart from a small effusion.", Counter({"FINDING": 1}))
    assert not only_normal("The liver was enlarged.")
