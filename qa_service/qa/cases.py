"""Case series: which patient a question names ("the second patient", "case #4", "the
29-year-old") and which case of a report a sentence belongs to.

A report's cases are read from its sentences in order, section by section: a sentence that opens
with a case heading ("Case 2", "Patient 3", "Case #4", "The second patient") starts that case; one
that opens a narrative with an age ("A 71-year-old woman ...") starts the next case of its section.
A section starts outside any case. Each case keeps the ages its sentences give, so a question that
names a patient by age finds the case that speaks of that age.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
                 "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}
_ORDINAL = r"(first|second|third|fourth|fifth|sixth)"
_PERSON = (r"(?:patient|case|woman|man|lady|gentleman|child|boy|girl|infant|baby|neonate|brother|sister|"
           r"sibling|twin|daughter|son|subject|female|male)")
_AGED = r"(\d{1,3})[- ]?(year|yr|month|week|day)s?[- ]old\b"  # "29-year-old", "3 month old"
_AGE = re.compile(rf"\b{_AGED}|\baged\s+(\d{{1,3}})\s+(year|month|week|day)s?\b", re.I)
_QUESTION_CASE = re.compile(rf"\b(?:case|patient)\s*(?:no\.?\s*|number\s*)?#?\s*(\d+)\b|\b{_ORDINAL}\s+(?:[a-z-]+\s+)?{_PERSON}\b",
                            re.I)
_CASE_HEADING = re.compile(rf"^\W*(?:case|patient)\s*(?:no\.?\s*)?#?\s*(\d+|[ivx]+|one|two|three|four|five|six)\b"
                           rf"|^\W*(?:in\s+)?(?:the|our)\s+{_ORDINAL}\s+(?:case|patient)\b", re.I)
_AGE_OPENING = re.compile(rf"^\W*an?\s+{_AGED}", re.I)


@dataclass(frozen=True)
class CaseReference:
    """The patient a question names: by number, or by age ("29y")."""
    number: int | None = None
    age: str | None = None


def ages(text: str) -> frozenset[str]:
    """The ages a text gives, as "29y", "31d" ("a 29-year-old", "aged 31 days")."""
    out = set()
    for m in _AGE.finditer(text):
        n, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        out.add(f"{int(n)}{unit[0].lower()}")
    return frozenset(out)


def case_reference(question: str) -> CaseReference | None:
    """Which patient of a case series the question names, if it names one."""
    m = _QUESTION_CASE.search(question)
    if m:
        return CaseReference(number=int(m.group(1)) if m.group(1) else _NUMBER_WORDS[m.group(2).lower()])
    found = sorted(ages(question))
    return CaseReference(age=found[0]) if len(found) == 1 else None


def _heading_number(sentence: str) -> int | None:
    m = _CASE_HEADING.match(sentence)
    if not m:
        return None
    word = (m.group(1) or m.group(2)).lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


CaseAges = dict[tuple[int, int], frozenset[str]]  # (section, case number) -> the ages it gives


def segment(sentences: list[str], sections: list[int]) -> tuple[list[int], CaseAges]:
    """The case of each sentence (0: outside any case, numbered within its section as the report
    numbers them) and the ages each case's sentences give."""
    case_of: list[int] = []
    case_ages: dict[tuple[int, int], set[str]] = {}
    current, last_section = 0, None
    for text, section in zip(sentences, sections):
        if section != last_section:
            current, last_section = 0, section
        number = _heading_number(text)
        if number is None and _AGE_OPENING.match(text):
            number = current + 1
        if number is not None:
            current = number
        case_of.append(current)
        if current:
            case_ages.setdefault((section, current), set()).update(ages(text))
    return case_of, {k: frozenset(v) for k, v in case_ages.items()}


def in_named_case(ref: CaseReference, case: int, section: int, case_ages: CaseAges) -> int:
    """+1 if a sentence of case `case` (in `section`) is about the patient `ref` names, -1 if it is
    about another patient of the series, 0 if the report does not say."""
    if not case:
        return 0
    if ref.number is not None:
        if len({number for _, number in case_ages}) < 2:
            return 0  # one patient: no series to pick from
        return 1 if case == ref.number else -1
    if ref.age is not None and any(ref.age in a for a in case_ages.values()):
        return 1 if ref.age in case_ages.get((section, case), frozenset()) else -1
    return 0
