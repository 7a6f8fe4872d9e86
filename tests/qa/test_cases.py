"""Case series: the patient a question names and the case each sentence of a report belongs to."""
from __future__ import annotations

import numpy as np

from qa_service.qa.cases import CaseReference, ages, case_reference, in_named_case, segment


def test_a_question_names_its_patient_by_number_ordinal_or_age():
    assert case_reference("Which drug did patient 2 receive?") == CaseReference(number=2)
    assert case_reference("What was the sodium of the case #5 patient?") == CaseReference(number=5)
    assert case_reference("Was the fourth boy deaf?") == CaseReference(number=4)
    assert case_reference("Where did the second elderly woman live?") == CaseReference(number=2)
    assert case_reference("What rash did the 7-month-old have?") == CaseReference(age="7m")
    assert case_reference("What rash did she have?") is None
    assert case_reference("Did the fever start first?") is None  # "first" without a person


def test_ages_read_as_number_and_unit():
    assert ages("a 64-year-old man and his 3 month old son, aged 40 years") == {"64y", "3m", "40y"}


def test_a_report_is_cut_into_its_cases_by_headings_and_age_openings():
    sentences = ["We describe three patients.",            # section 0: before any case
                 "Case 1 A 52-year-old farmer had a cough.", "His sputum grew fungi.",
                 "Case 2 A 33-year-old nurse had a rash.", "Her skin biopsy showed vasculitis.",
                 "A 61-year-old teacher had fever.", "Blood cultures were negative.",
                 "These cases show how varied it is."]      # section 2: discussion
    sections = [0, 1, 1, 1, 1, 1, 1, 2]
    case_of, case_ages = segment(sentences, sections)
    assert case_of == [0, 1, 1, 2, 2, 3, 3, 0]
    assert case_ages == {(1, 1): {"52y"}, (1, 2): {"33y"}, (1, 3): {"61y"}}
    assert [in_named_case(CaseReference(number=2), c, s, case_ages) for c, s in zip(case_of, sections)] \
        == [0, -1, -1, 1, 1, -1, -1, 0]
    assert [in_named_case(CaseReference(age="61y"), c, s, case_ages) for c, s in zip(case_of, sections)] \
        == [0, -1, -1, -1, -1, 1, 1, 0]
    # An age no case gives, or a number in a report of one patient, says nothing.
    assert in_named_case(CaseReference(age="80y"), 1, 1, case_ages) == 0
    assert in_named_case(CaseReference(number=2), 1, 1, {(1, 1): frozenset({"52y"})}) == 0


def test_the_ranker_reads_which_case_a_candidate_belongs_to(answerer):
    """On the real index: the shipped report is one patient, so naming a patient changes nothing."""
    from qa_service.qa.features import FEATURES

    p = answerer.prepare("What did the second patient's chest radiograph show?")
    cols = [FEATURES.index("case_named"), FEATURES.index("case_other")]
    assert p.query.analysis.case == CaseReference(number=2)
    assert len(p.cands) and not np.any(p.X[:, cols])


def test_the_parts_of_one_story_are_one_part_of_the_report():
    from qa_service.qa.features import story_parts

    names = ["Front matter", "Case report", "Physical examination", "Treatment", "Discussion", "Discussion", "Figure 1"]
    assert story_parts(names) == [0, 1, 1, 1, 4, 4, 6]
    # A case series told under story headings: the second case's age opening still starts case 2.
    parts = story_parts(["Chief complaint", "Physical examination", "Chief complaint", "Treatment"])
    cases, _ = segment(["A 40-year-old man had fever.", "He had a rash.", "A 62-year-old woman had fever.",
                        "She was given aciclovir."], parts)
    assert cases == [1, 1, 2, 2]
