"""passages: the rule-based sentence splitter and the passage windows."""
from __future__ import annotations

from qa_service.domain import Section
from qa_service.text.passages import sentence_spans, split_sentences, window

TEXT = ("A 21-year-old woman presented with fever. Fig. 2 shows the lesion, e.g. on the arm. "
        "She was given 2.5 mg i.v. daily.\n\nDr. J. Smith saw her.")


def test_no_break_at_abbreviations_decimals_or_initials():
    sentences = split_sentences(TEXT, [Section("Case report", "body", 0, len(TEXT))])
    assert [TEXT[s.start:s.end] for s in sentences] == [
        "A 21-year-old woman presented with fever.",
        "Fig. 2 shows the lesion, e.g. on the arm.",
        "She was given 2.5 mg i.v. daily.",
        "Dr. J. Smith saw her.",
    ]
    assert [s.paragraph for s in sentences] == [1, 1, 1, 2]  # a blank line starts a paragraph
    assert {s.section for s in sentences} == {0}


def test_sentences_stay_inside_their_section():
    cut = TEXT.index("She was")
    sentences = split_sentences(TEXT, [Section("Case report", "body", 0, cut), Section("Outcome", "body", cut, len(TEXT))])
    assert [s.section for s in sentences] == [0, 0, 1, 1]
    assert sentence_spans(TEXT, 0, cut) == [(0, 41), (42, 83)]


def test_windows_of_three_sentences():
    sentences = split_sentences(TEXT, [Section("Case report", "body", 0, len(TEXT))])
    assert window(sentences, 0) == (0, 3)  # at the start: the sentence and the next two
    assert window(sentences, 2) == (1, 4)  # centred
    assert window(sentences, 3) == (1, 4)  # at the end: the last three
    assert window(sentences, 1, size=1) == (1, 2)
