"""Yes/no verdicts: does the answer sentence say yes, no, or not say?

"Was calcifying panniculitis confirmed?" over "A diagnosis of calcifying panniculitis was
considered, but a skin biopsy showed no significant inflammatory infiltrate" is a no. The verdict
reads the sentence where it mentions what the question asks about (its words and concepts, the
anchors of qa.spans): ConText status of each mention (negated, hypothetical, historical, present,
with nlp's trigger lists), statements that deny a whole topic ("unremarkable", "previously
healthy"), a hedged diagnosis that was not confirmed, and opposite words ("common" asked, "rarely"
written). It never changes which sentence is the answer.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

from ..text.tokenize import stem
from ..domain import Entity
from ..clinical.entities import assertion
from .query import Query
from .spans import anchors

YES, NO, NOT_STATED = "yes", "no", "not stated"
SPECIFIC = 0.3  # general-English rarity (lexicon.rarity) from which a word names a topic, not a manner

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", re.I)
# A sentence that denies a whole topic at once.
DENIAL = re.compile(r"\b(?:unremarkable|previously (?:healthy|well)|(?:was|were) (?:otherwise )?(?:healthy|normal|negative)|"
                    r"no (?:significant |specific |relevant |other |known |previous |past |prior |family )*(?:medical |family |"
                    r"surgical |psychiatric )?history|non-contributory|noncontributory|nothing of note)\b", re.I)
# A diagnosis or cause that was only entertained ...
HEDGE = re.compile(r"\b(?:was|were) (?:considered|suspected|entertained|raised|thought|questioned)|\b(?:differential diagnosis|"
                   r"suspicion of|possible|possibly|hypothesis of|could not be (?:excluded|ruled out))\b", re.I)
# ... and then set aside.
CONTRAST = re.compile(r"\b(?:but|however|although|yet|instead|rather|final diagnosis|ruled out|excluded|not confirmed)\b", re.I)
# What a question asks to be established rather than mentioned.
ESTABLISH = re.compile(r"\b(?:confirm\w*|prove[dn]?|establish\w*|verif\w*|diagnos\w*|made)\b", re.I)
# Questions about what can happen in general ("Can X lead to Y?"): "may" in the report is a yes.
MODAL_QUESTION = re.compile(r"^\s*(?:can|could|may|might|is it possible|does|do)\b", re.I)
# Opposites: the question asks one side, the sentence states the other.
OPPOSITES = [
    ("common commonly frequent frequently often usual usually typical typically",
     "rare rarely uncommon uncommonly infrequent infrequently seldom unusual atypical"),
    ("normal", "abnormal elevated raised high low decreased increased reduced"),
    ("high elevated raised increased", "low decreased reduced normal"),
    ("effective successful helped improved responded", "ineffective unsuccessful failed poor worsened refractory"),
    ("positive", "negative"),
    ("large big", "small tiny"),
]
_OPPOSITES = [(frozenset(stem(w) for w in a.split()), frozenset(stem(w) for w in b.split())) for a, b in OPPOSITES]


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _index_at(toks: list[tuple[str, int, int]], char: int) -> int:
    for k, (_, s, e) in enumerate(toks):
        if s <= char < e or s >= char:
            return k
    return max(len(toks) - 1, 0)


_CLAUSE_BREAK = re.compile(r"[.;:]|\b(?:but|however|although|whereas|while)\b", re.I)


def _denied(text: str, s: int, e: int) -> bool:
    """The mention stands in a clause that denies its topic: "her past medical history was
    unremarkable", "she was previously healthy and had no ... history"."""
    for m in DENIAL.finditer(text):
        lo, hi = min(s, m.start()), max(e, m.end())
        if not _CLAUSE_BREAK.search(text[lo:hi].replace(text[s:e], " ")):
            return True
    return False


def _opposed(q: Query, text: str) -> bool:
    asked = {stem(w) for w in re.findall(r"[a-z]+", q.text.lower())}
    said = {stem(w) for w in re.findall(r"[a-z]+", text.lower())}
    for a, b in _OPPOSITES:
        if (asked & a and said & b and not said & a) or (asked & b and said & a and not said & b):
            return True
    return False


def verdict(q: Query, text: str, entities: Sequence[Entity] = (), offset: int = 0,
            concepts: Callable[[str], list[str]] | None = None) -> str | None:
    """yes / no / not stated for a yes/no question answered by `text`; None for other questions."""
    if not q.analysis.yes_no:
        return None
    spots = anchors(q, text, entities, offset, concepts)
    if not spots:
        return NOT_STATED
    toks = _tokens(text)
    words = [t for t, _, _ in toks]
    modal = bool(MODAL_QUESTION.match(q.text))
    statuses: list[str] = []
    specific_present = 0  # present mentions of a specific word or a concept, not of "previously"
    for s, e in spots:
        i, j = _index_at(toks, s), _index_at(toks, max(s, e - 1))
        ent = next((x for x in entities if x.start - offset == s and x.end - offset == e), None)
        status = "absent" if (ent is not None and ent.negated) or _denied(text, s, e) else assertion(words, i, j)
        statuses.append(status)
        if status != "absent" and (ent is not None or q.rarities.get(stem(text[s:e].lower()), 1.0) >= SPECIFIC):
            specific_present += 1
    negative = statuses.count("absent")
    positive = statuses.count("present") + statuses.count("historical") + (statuses.count("hypothetical") if modal else 0)
    if negative and negative >= positive:
        return NO
    if DENIAL.search(text) and not specific_present:
        return NO
    if ESTABLISH.search(q.text) and HEDGE.search(text) and CONTRAST.search(text):
        first = min(s for s, _ in spots)
        hedge = HEDGE.search(text)
        contrast = CONTRAST.search(text, hedge.end()) if hedge is not None else None
        if hedge is not None and contrast is not None and hedge.start() < contrast.start() and first < contrast.start():
            return NO
    if _opposed(q, text):
        return NO
    if DENIAL.search(text) and negative:
        return NO
    if not positive:
        return NOT_STATED  # only hypothetical mentions ("to rule out sepsis") for a question about the patient
    return YES
