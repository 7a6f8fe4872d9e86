"""Answers on the real index: shape and offsets, declines, unknown documents, thread safety."""
import pytest

from evaluation.evaluate import read_questions
from conftest import EVAL


def test_answer_fields_and_offsets(answerer, index):
    res = answerer.ask("What did the chest radiograph show?", top_k=3)
    assert res.answers
    doc = index.docs[0]
    for a in res.answers:
        assert doc.text[a.start:a.end] == a.text
        assert doc.text[a.passage_start:a.passage_end] == a.passage
        assert a.text in a.passage
        assert 0.0 <= a.score <= 1.0
        assert a.document_id == doc.id
    assert 0.0 <= res.answerability <= 1.0
    assert res.answers[0].score <= res.answerability


def test_unanswerable_question_gets_no_answer_and_a_message(answerer):
    res = answerer.ask("Which dose of rituximab was she given?")
    assert res.answers == []
    assert res.message == "The report never mentions rituximab."  # names what is missing (issue 13)


def test_restricting_to_an_unknown_document_raises(answerer):
    from qa_service.qa import UnknownDocument

    with pytest.raises(UnknownDocument):
        answerer.ask("What is calcinosis?", document_id="nope")


def test_concurrent_questions_across_reports_match_sequential_answers(ada_answerer):
    """The answerer is shared by a worker's threads: per-question state must not leak between them."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [q["question"] for q in read_questions(EVAL / "dev_other_reports.jsonl")][:24]

    def run(q):
        return [(a.document_id, a.start, a.score) for a in ada_answerer.ask(q, top_k=3).answers]

    expected = [run(q) for q in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(run, questions)) == expected
