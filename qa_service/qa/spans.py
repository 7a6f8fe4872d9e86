"""Exact short answers: the part of an answer sentence that answers a strict-type question.

"How old was she?" is answered by "21-year-old" inside "A 21-year-old woman was referred ...";
"At what rate was adrenaline infused?" by "0.25 micrograms/Kg/min". The span is found with
patterns for the expected answer type (age, dose, count, measurement, date, duration, drug,
test result) and, when a sentence holds several candidates, the one nearest to the words and
concepts the question asked about. Nothing here changes which sentence is the answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ..text.tokenize import stem
from ..domain import Entity
from .query import Query

# Number words count as numbers ("for seven days", "after one day").
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
                "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
                "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12}
_NW = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_OW = "|".join(ORDINAL_WORDS)
NUM = rf"(?:\d+(?:[.,]\d+)*|(?:{_NW})(?:[- ](?:{_NW}))?|a few|few|several)"
RANGE = rf"{NUM}(?:\s*(?:-|–|to|or|and)\s*{NUM})?"
ORD = rf"(?:\d+\s*(?:st|nd|rd|th)|{_OW})"
TIME_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?|weeks?|wks?|months?|mos?|years?|yrs?)"
# Units of doses (amount, optionally per weight / area / time) and of measurements.
DOSE_UNIT = (r"(?:mg|mcg|µg|μg|ug|ng|g|gr|grams?|milligrams?|micrograms?|ml|mL|l|L|iu|IU|units?|U|mmol|meq|mEq|%)"
             r"(?:\s*(?:/|per)\s*(?:kg|m2|m²|day|d|h|hr|hour|min|minute|dose|week|wk|24\s*h))*")
FREQUENCY = (r"(?:\s*(?:once|twice|three times|four times)\s+(?:a\s+|per\s+)?(?:day|daily|week|weekly)"
             r"|\s*(?:daily|bid|tid|qid|b\.i\.d\.?|t\.i\.d\.?|q\.i\.d\.?|every \d+\s*(?:h|hours?)|weekly))?")
MEASURE_UNIT = (r"(?:%|‰|°\s*[CF]?|℃|℉|mmhg|mm\s*hg|bpm|beats(?:/|\s+per\s+)min(?:ute)?|breaths(?:/|\s+per\s+)min(?:ute)?"
                r"|/min|msec|ms|sec|cm|mm|m|km|kg|g|lbs?|pounds?|mg|mcg|µg|ng|pg|mmol|µmol|umol|mol|meq|iu|miu|u"
                r"|units?|ml|l|dl|fl|pg|copies|cells)"
                r"(?:\s*(?:/|per)\s*(?:[a-zµμ]{1,4}(?:\s?[23³])?|hpf|µl|ul))*"
                r"|(?:x|×)\s*10\s*(?:\^|e)?\s*\d+\s*(?:/\s*[a-zµμ]{1,3})?"
                r"|/\s*(?:mm\s*3|mm³|µl|ul|l|hpf|dl)")

PATTERNS: dict[str, list[re.Pattern]] = {
    "age": [re.compile(p, re.I) for p in (
        rf"\b{NUM}[- ]?(?:year|yr|month|week|day)s?[- ]old\b",
        r"\baged?\s+\d{1,3}(?:\s*(?:years?|yrs?|months?))?\b",
        r"\b\d{1,3}\s*(?:years?|yrs?|months?)\s+of\s+age\b",
        r"\b\d{1,3}\s*(?:yo|y/o|y\.o\.)(?![a-z])",
        r"\bin (?:his|her|their) (?:early |mid |late )?(?:teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b",
        r"\bat (?:the )?age (?:of )?\d{1,3}\b",
    )],
    "dose": [re.compile(rf"(?<![\w.]){RANGE}\s*{DOSE_UNIT}\b{FREQUENCY}", re.I)],
    "measurement": [re.compile(p, re.I) for p in (
        r"(?<![\w.])\d+(?:[.,]\d+)?\s*[×x]\s*\d+(?:[.,]\d+)?(?:\s*[×x]\s*\d+(?:[.,]\d+)?)?\s*(?:cm|mm|m)\b",
        rf"(?<![\w.])[<>≤≥]?\s*\d+(?:[.,]\d+)*(?:\s*(?:-|–|to)\s*\d+(?:[.,]\d+)*)?\s*(?:{MEASURE_UNIT})(?![a-z])",
        r"(?<![\w.])\d+(?:[.,]\d+)?/\d+(?:[.,]\d+)?\s*(?:mm\s*hg)?",  # blood pressure
    )],
    "count": [re.compile(rf"\b{NUM}\s+(?:[a-z-]+\s+)?[a-z-]+s\b", re.I)],
    "duration": [re.compile(p, re.I) for p in (
        rf"\b(?:(?:for|during|over|within|after|in|lasting)\s+(?:the\s+)?(?:past\s+|last\s+|next\s+|following\s+|first\s+)?)?{RANGE}\s*{TIME_UNIT}\b",
        rf"\b(?:between\s+)?(?:the\s+)?{ORD}(?:\s+(?:and|to|or)\s+(?:the\s+)?{ORD})?\s+(?:day|week|month|year)s?\b",
        r"\b(?:for|after|within|in)\s+(?:a|an|one)\s+(?:day|week|month|year|hour)\b",
    )],
    "date": [re.compile(p, re.I) for p in (
        r"\b(?:on\s+)?(?:hospital\s+|postoperative\s+|post-operative\s+|admission\s+)?day\s+\d+\b",
        r"\b(?:on\s+)?(?:the\s+)?\d+(?:st|nd|rd|th)\s+(?:hospital\s+|postoperative\s+)?day\b",
        r"\b(?:(?:\d{1,2}\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(?:\d{1,2},?\s+)?(?:19|20)\d\d)\b",
        r"\b(?:in|since|during)\s+(?:19|20)\d\d\b",
        r"\b\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d\d\b",
        rf"\b{RANGE}\s*{TIME_UNIT}\s+(?:later|after\w*|before|earlier|previously|prior|ago|post\w*)\b",
        r"\b(?:on|at|upon|after|before)\s+(?:the\s+)?(?:admission|discharge|presentation|arrival)\b",
    )],
}
# A bare number right after a term of the question is a test value: "low potassium levels of 3.1".
BARE_VALUE = re.compile(r"(?:\bof|\bwas|\bwere|\bis|\bat|:|=)\s+([<>≤≥]?\d+(?:[.,]\d+)*)(?![\w.]*\d)", re.I)
# "Which drug / antibiotic / medication ...", "what was she given / put on / started on".
DRUG_QUESTION = re.compile(r"\b(?:drugs?|medications?|medicines?|medicaments?|antibiotics?|antivirals?|antifungals?|steroids?|"
                           r"corticosteroids?|tablets?|pills?|injections?|infusions?|agents?|inhibitors?|blockers?|"
                           r"chemotherapy|therapy with|treated with|given|prescribed|started on|put on|taking|took|received)\b", re.I)
TEST_RESULT_QUESTION = re.compile(r"\b(?:positive|negative|grew|growth|isolated|cultured|culture|bug|organism|bacteri\w*|"
                                  r"virus|pathogen|antibod\w*|markers?|stain\w*|result|results|test (?:show|reveal))\b", re.I)
# In a sentence: what follows a test's result cue, up to the end of the clause.
RESULT_CUE = re.compile(r"\b(?:positive|negative|positivity)\s+(?:for|to)\s+|\b(?:grew|isolated|identified|growth of|"
                        r"yielded|expressed|expression of)\s+(?!(?:in|on|at|by|from|with|as|to|after|during)\b)", re.I)
# ... and what stands before a finding verb: "Escherichia coli O104:H4 was identified in the stool".
RESULT_BEFORE = re.compile(r"\s+(?:was|were)\s+(?:identified|isolated|detected|found|grown|cultured|seen)\b", re.I)
# What a treatment verb names: "treated with imatinib", "Trichloroacetic acid ... was applied".
GIVEN_AFTER = re.compile(r"\b(?:treated with|treatment with|therapy with|received|was given|were given|started on|"
                         r"put on|commenced on|switched to|administration of|prescribed|takes|taking)\s+", re.I)
GIVEN_BEFORE = re.compile(r"(?:\s+at\s+\d+(?:[.,]\d+)?\s*%)?\s+(?:was|were)\s+(?:applied|administered|given|started|"
                          r"prescribed|instituted|initiated|used)\b", re.I)
_FUNCTION = frozenset("the a an and or of with in on at to for from by was were is are had has that which this "
                      "her his their she he it its after before then".split())
# Words that say what kind of answer is wanted, not what it is about: never anchors.
FRAME_WORDS = frozenset(stem(w) for w in """dose doses dosage dosing level levels value values count rate age old
    long time many much size big large small high low result results number amount given""".split())
CLAUSE_END = re.compile(r"[;:()]|,\s+(?:and|but|which|while|whereas|with)\b|\s(?:but|which|while|whereas|although)\s|\.(?:\s|$)")

# Words the vocabulary labels DRUG that name no drug ("The treatment was done with oxacillin").
GENERIC_DRUG_WORDS = frozenset("treatment treatments therapy therapies medication medications medicine medicines "
                               "drug drugs agent agents supplementation".split())
STRICT_SPAN_TYPES = ("age", "dose", "count", "measurement", "date", "duration", "drug", "test_result")
MAX_SPAN_CHARS = 80


@dataclass(frozen=True)
class Span:
    """The exact short answer: offsets into the answer text (not the document)."""
    text: str
    start: int
    end: int
    kind: str  # one of STRICT_SPAN_TYPES

    def to_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end, "type": self.kind}


def span_type(q: Query) -> str | None:
    """The strict answer type a question asks for, or None (findings, causes ... get no span)."""
    t = q.analysis.answer_type
    if t in ("age", "dose", "count", "measurement", "date", "duration"):
        return t
    if t == "treatment" and DRUG_QUESTION.search(q.text):
        return "drug"
    if t in ("finding", "findings", "other", "cause", "outcome") and TEST_RESULT_QUESTION.search(q.text) \
            and re.search(r"\b(?:which|what)\b", q.text, re.I):
        return "test_result"
    return None


_WORD = re.compile(r"[A-Za-z0-9]+")


def anchors(q: Query, text: str, entities: Sequence[Entity] = (), offset: int = 0,
            concepts: Callable[[str], list[str]] | None = None) -> list[tuple[int, int]]:
    """Where the question's words and concepts occur in `text` (character spans); an entity counts
    when its concept, or one of the ids its words match ("acne vulgaris" for "pimples"), was asked."""
    words = set(q.words) - FRAME_WORDS
    out = [(m.start(), m.end()) for m in _WORD.finditer(text) if stem(m.group().lower()) in words]
    asked = {cid for cid, stems in q.mentions if not stems <= FRAME_WORDS}
    for e in entities:
        ids = {e.concept} | (set(concepts(e.text)) if concepts is not None else set())
        if ids & asked:
            out.append((e.start - offset, e.end - offset))
    return sorted(out)


def _numbers_in(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:[.,]\d+)?", text))


def distance(s: int, e: int, spots: list[tuple[int, int]]) -> float:
    """Characters from the candidate to the nearest anchor; an anchor before the value (the term then
    its value: "potassium of 3.1") counts as nearer than one after it."""
    if not spots:
        return 0.0
    best = float("inf")
    for a, b in spots:
        d: float
        if b <= s:
            d = s - b
        elif a >= e:
            d = (a - e) * 1.5
        else:
            d = 0.0
        best = min(best, d)
    return best


def _phrase_after(text: str, start: int, limit: int = 5) -> tuple[int, int] | None:
    """A noun phrase starting at `start`: up to `limit` words, to a comma, a clause word or a dose."""
    s = start
    end = s
    for n, m in enumerate(re.finditer(r"[^\s,;:()]+", text[s:])):
        word = m.group().lower().strip(".")
        if n >= limit or (n and word in _FUNCTION) or re.match(r"\d", word):
            break
        end = s + m.end()
    while end > s and text[end - 1] in ".,":
        end -= 1
    return (s, end) if end > s else None


def _phrase_before(text: str, end: int, limit: int = 5) -> tuple[int, int] | None:
    """A noun phrase ending at `end`: up to `limit` words back, to a function word or punctuation."""
    words = list(re.finditer(r"[^\s,;()]+", text[:end]))
    start = end
    for n, m in enumerate(reversed(words)):
        word = m.group().lower()
        if n >= limit or word in _FUNCTION or text[m.end():start].strip():  # a comma or bracket between
            break
        start = m.start()
    return (start, end) if start < end else None


def _candidates(kind: str, text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for pat in PATTERNS.get(kind, ()):
        for m in pat.finditer(text):
            s, e = m.span()
            while e > s and text[e - 1] in " ,;.":  # "bid." keeps its dot only inside abbreviations
                e -= 1
            if e > s:
                found.append((s, e))
    # Longest first, no overlaps: "attack dose of 200 mcg" beats a shorter piece of it.
    found.sort(key=lambda se: (se[0] - se[1], se[0]))
    out: list[tuple[int, int]] = []
    for s, e in found:
        if not any(s < oe and os_ < e for os_, oe in out):
            out.append((s, e))
    return sorted(out)


def _results(text: str) -> list[tuple[int, int]]:
    """What a test found: "positive for cocaine", "Escherichia coli O104:H4 was identified"."""
    out = []
    for m in RESULT_CUE.finditer(text):
        end = CLAUSE_END.search(text, m.end())
        e = end.start() if end else len(text)
        if e - m.end() > 2:
            out.append((m.end(), min(e, m.end() + MAX_SPAN_CHARS)))
    for m in RESULT_BEFORE.finditer(text):
        ph = _phrase_before(text, m.start())
        if ph:
            out.append(ph)
    return out


def _treatments(text: str) -> list[tuple[int, int]]:
    """What a treatment verb names, for drugs the vocabulary does not list."""
    out = []
    for m in GIVEN_AFTER.finditer(text):
        ph = _phrase_after(text, m.end(), 4)
        if ph:
            out.append(ph)
    for m in GIVEN_BEFORE.finditer(text):
        ph = _phrase_before(text, m.start(), 4)
        if ph:
            out.append(ph)
    return out


# How long something lasted is said with "for", "during", "over the past" ...; "in few minutes" or
# "after one day" more often tell how soon something else happened.
_DURATIVE = re.compile(r"^(?:for|during|over|lasting|since)\b", re.I)


def find_span(q: Query, text: str, entities: Sequence[Entity] = (), offset: int = 0,
              kind: str | None = None, concepts: Callable[[str], list[str]] | None = None) -> Span | None:
    """The short answer inside an answer `text` (entities with document offsets, `offset` = where
    `text` starts in the document), or None when the sentence holds nothing of the expected type.
    `concepts` (optional) gives a phrase's concept ids, so a drug of the class the question names
    ("heart medicine") is preferred."""
    kind = kind or span_type(q)
    if kind is None:
        return None
    spots = anchors(q, text, entities, offset, concepts)
    asked = _numbers_in(q.text)  # "the first 12-lead ECG": a number of the question is not its answer
    cands: list[tuple[int, int]] = []
    if kind == "drug":
        cands = [(e.start - offset, e.end - offset) for e in entities if e.label == "DRUG"
                 and 0 <= e.start - offset < e.end - offset <= len(text)
                 and e.text.lower() not in GENERIC_DRUG_WORDS]
        # a drug followed by its dose reads as one answer: "amiodarone 200 mg/day"
        widened = []
        for s, e in cands:
            m = re.match(rf"\s*(?:\(\w+\s*®?\)\s*)?{RANGE}\s*{DOSE_UNIT}\b{FREQUENCY}", text[e:], re.I)
            widened.append((s, e + m.end()) if m else (s, e))
        cands = widened or _treatments(text) or _results(text)
    elif kind == "test_result":
        cands = _results(text) or _candidates("measurement", text)
    else:
        cands = _candidates(kind, text)
        if kind == "date":  # "when" is also answered by a relative time ("6 years previously")
            cands = cands or _candidates("duration", text)
        if kind in ("measurement", "count") and spots:
            for m in BARE_VALUE.finditer(text):
                s, e = m.span(1)
                if not any(s < ce and cs < e for cs, ce in cands) and distance(s, e, spots) <= 30:
                    cands.append((s, e))
    cands = [(s, e) for s, e in cands if e - s <= MAX_SPAN_CHARS
             and not (_numbers_in(text[s:e]) and _numbers_in(text[s:e]) <= asked)]
    if not cands:
        return None
    asked_ids = {cid for cid, _ in q.mentions}

    def cost(se: tuple[int, int]) -> tuple[float, int]:
        s, e = se
        d = distance(s, e, spots)
        if concepts is not None and kind in ("drug", "test_result") and asked_ids & set(concepts(text[s:e])):
            d = -1.0  # of the kind the question names
        if kind == "duration" and not _DURATIVE.match(text[s:e]):
            d += 40
        return d, s

    s, e = min(cands, key=cost)
    return Span(text[s:e], s, e, kind)
