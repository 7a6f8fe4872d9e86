"""Why an answer was chosen, and what is missing when the service declines.

An answer's `reason` lists the question's words the sentence shares (as written in the sentence),
the question's concepts it names under other words ("kidney" asked, "renal" written), whether it
holds the expected answer type (and the exact short answer when there is one) and its section. A
decline names the question's most specific term that the report never mentions ("The report
never mentions a free T3 level"), or, when every term is there, what the report does not give.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..text.tokenize import QUESTION_STOP_WORDS, stem
from ..domain import Entity
from ..index.bm25 import Index
from .question import holds_type
from .query import Query
from .spans import FRAME_WORDS

RARE = 0.62  # features.RARE: rarity from which a missing word counts as a specific term
TYPE_NAMES = {"age": "an age", "dose": "a dose", "duration": "a duration", "date": "a date or time",
              "count": "a number", "measurement": "a value", "findings": "findings", "finding": "a finding",
              "diagnosis": "a diagnosis", "treatment": "a treatment", "cause": "a cause", "outcome": "an outcome",
              "location": "a place in the body", "definition": "a definition"}
# What a decline says the report lacks when it names every term: "never gives her age".
TYPE_LACKS = {"age": "an age", "dose": "a dose", "duration": "how long", "date": "when",
              "count": "how many", "measurement": "a value", "cause": "a cause", "outcome": "an outcome",
              "treatment": "a treatment", "diagnosis": "a diagnosis", "location": "where"}
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")


@dataclass
class Reason:
    matched: list[str] = field(default_factory=list)  # question words the sentence shares, as written there
    concepts: list[str] = field(default_factory=list)  # concepts named with other words
    answer_type: str = "other"
    type_found: bool = False
    section: str = ""
    text: str = ""  # the same in one plain sentence

    def to_dict(self) -> dict:
        return {"matched": self.matched, "concepts": self.concepts, "answer_type": self.answer_type,
                "type_found": self.type_found, "section": self.section, "text": self.text}


def _quote(items: Sequence[str]) -> str:
    items = [f"“{x}”" for x in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def explain(q: Query, text: str, section: str, entities: Sequence[Entity] = (), offset: int = 0,
            concepts: Callable[[str], list[str]] | None = None, span: dict | None = None) -> Reason:
    words = set(q.words) - FRAME_WORDS
    matched: dict[str, str] = {}
    for m in _WORD.finditer(text):
        st = stem(m.group().lower())
        if st in words and st not in matched:
            matched[st] = m.group()
    asked = {cid for cid, _ in q.mentions}
    named: list[str] = []
    for e in entities:
        if not asked:
            break
        ids = {e.concept} | (set(concepts(e.text)) if concepts is not None else set())
        own = {stem(w.lower()) for w in _WORD.findall(e.text)}
        if ids & asked and not own <= set(matched) and e.text not in named:
            named.append(e.text)
    t = q.analysis.answer_type
    found = bool(span) or (t != "other" and holds_type(t, text))
    parts = []
    if matched:
        parts.append(f"It shares {_quote(list(matched.values()))} with the question")
    if named:
        parts.append(f"names {_quote(named[:4])}, which the question asks about in other words")
    if span:
        parts.append(f"gives {TYPE_NAMES.get(t, 'the answer')}: “{span['text']}”")
    elif found and t in TYPE_NAMES:
        parts.append(f"holds {TYPE_NAMES[t]}, the kind of answer asked for")
    # A part of the story under its own heading ("Treatment") answers "How was he treated?" by where it stands.
    heads = {stem(w.lower()) for w in _WORD.findall(section or "")}
    by_heading = any(len(w) >= 4 and (h.startswith(w) or w.startswith(h)) for h in heads if len(h) >= 4
                     for w in words - set(matched))
    if not matched and not named and not by_heading:
        parts.append("it is the sentence closest in meaning to the question, sharing none of its words")
    if section:
        parts.append(f"it comes from the {section} section" + (", the part the question asks about" if by_heading else ""))
    sentence = "; ".join(p for p in parts if p)
    sentence = sentence[0].upper() + sentence[1:] + "." if sentence else ""
    return Reason(list(matched.values()), named[:6], t, found, section, sentence)


_CLAUSE_WORDS = frozenset("while whilst because since until unless if so".split())


def _stems_of(token: str) -> set[str]:
    """A token's stems, and those of its hyphenated parts ("X-rays" -> x-ray, x, ray)."""
    low = token.lower()
    return {stem(low)} | {stem(part) for part in re.findall(r"[a-z0-9]+", low)}


def _phrase(question: str, term: str) -> str | None:
    """The question's words around a term, as asked: "free T3 level" for "t3". Verbs ("performed",
    "showing") and clause words end the phrase."""
    toks = list(_WORD.finditer(question))
    at = next((k for k, m in enumerate(toks) if term in _stems_of(m.group())), None)
    if at is None:
        return None

    def content(k: int) -> bool:
        w = toks[k].group().lower()
        verb_like = len(w) > 4 and (w.endswith("ed") or w.endswith("ing"))
        return w not in QUESTION_STOP_WORDS and w not in _CLAUSE_WORDS and not verb_like

    lo = hi = at

    while lo > 0 and content(lo - 1) and toks[lo].start() - toks[lo - 1].end() <= 1:
        lo -= 1
    while hi + 1 < len(toks) and content(hi + 1) and toks[hi + 1].start() - toks[hi].end() <= 1:
        hi += 1
    return question[toks[lo].start():toks[hi].end()]


# Heads of countable things ("a colonoscopy", "a free T3 level"); drugs, substances and findings
# read better bare ("prednisolone", "discharge").
_COUNTABLE = re.compile(r"(?:scopy|graphy|gram|ectomy|otomy|plasty|test|scan|biopsy|level|value|rate|count|score|"
                        r"result|examination|exam|ray|titre|titer|measurement|dose|culture|antibiotic|procedure|"
                        r"operation|ultrasound|echocardiogram|smear|panel|swab)$", re.I)


def _with_article(phrase: str) -> str:
    if not _COUNTABLE.search(phrase):
        return phrase
    return ("an " if phrase[0].lower() in "aeiou" else "a ") + phrase


def decline_message(q: Query, index: Index, doc: int | None, default: str, asked: str | None = None) -> str:
    """Why the service declines, in plain words. `doc`: the report the question was restricted to,
    or None for the whole corpus; `asked`: the question as the user wrote it."""
    many = doc is None and len(index.docs) > 1
    subject = "None of the reports mentions" if many else "The report never mentions"

    def present(t: str) -> bool:
        alts = q.forms(t) + q.strict_alternatives.get(t, [])
        if doc is None:
            return any(a in index.vocab for a in alts)
        return any(index.doc_has_term(doc, a) for a in alts)

    specific = [t for t in q.words if t not in FRAME_WORDS
                and (q.rarities.get(t, 0.0) >= RARE or q.strict_alternatives.get(t))]
    missing = [t for t in specific if not present(t)]
    if not missing:  # a rarer-than-everyday word the report lacks still tells the reader something
        missing = [t for t in q.words if t not in FRAME_WORDS and q.rarities.get(t, 0.0) >= 0.45 and not present(t)]
    if missing:
        term = max(missing, key=lambda t: q.rarities.get(t, 0.0))
        # as the user wrote it (spelling repair may have split a word the corpus lacks: "kilo grams")
        phrase = _phrase(asked or q.text, term)
        for wrong, right in q.corrected.items():
            if phrase is None and term in {stem(w) for w in re.findall(r"[a-z0-9]+", right.lower())}:
                phrase = _phrase(asked or q.text, stem(wrong.lower()))
        phrase = phrase or _phrase(q.text, term) or q.surface.get(term, term)
        return f"{subject} {_with_article(phrase)}."
    there = [q.surface.get(t, t) for t in q.words if t not in FRAME_WORDS and present(t)
             and not re.search(r"(?:ed|ing)$", q.surface.get(t, t))]
    lacks = TYPE_LACKS.get(q.analysis.answer_type)
    where = "the reports" if many else "the report"
    if there and lacks:
        return (f"{where.capitalize()} mentions {_quote(there[:3])}, but no sentence gives {lacks} for it."
                if not many else f"The reports mention {_quote(there[:3])}, but no sentence gives {lacks} for it.")
    if there:
        verb = "mention" if many else "mentions"
        return f"{where.capitalize()} {verb} {_quote(there[:3])}, but no sentence answers this question."
    return default
