"""The case at a glance: patient, presenting complaint, key findings, investigations, diagnosis,
treatment and outcome of one report, each with the offsets of the sentence it comes from.

The patient (age, sex) is extracted with the age patterns of qa.spans from the first narrative
sentence that states an age. Every other item is the answer to a fixed question asked restricted
to the report, with the same ranker and answerability model as any question: an item is null when
the service would decline. Answers in narrative sections (case report, abstract) are preferred to
the discussion, and one sentence fills at most one item.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .spans import PATTERNS

if TYPE_CHECKING:
    from .answerer import Answerer

# item -> the questions asked for it (the first that gets an answer wins)
QUESTIONS: dict[str, tuple[str, ...]] = {
    "presenting_complaint": ("What were the patient's presenting symptoms and complaints?",
                             "Why was the patient admitted?"),
    "key_findings": ("What was found on physical examination?",),
    "investigations": ("What did the laboratory tests show?", "What did the imaging show?"),
    "diagnosis": ("What was the final diagnosis?",),
    # outcome before treatment: a discharge sentence is the outcome, not the treatment
    "outcome": ("What was the outcome?", "What was the outcome at follow-up?"),
    "treatment": ("What treatment did the patient receive?", "How was the patient treated?"),
}
FIELDS = ("patient", *QUESTIONS)
# Items whose sentence must hold the kind of answer asked (a treatment word or a named drug or
# procedure; discharge, recovery or follow-up; a diagnosis), or the item stays null.
TYPED = frozenset({"treatment", "outcome", "diagnosis"})
NARRATIVE = ("case", "body", "abstract", "summary", "presentation", "history", "report")
GENERAL = ("discussion", "introduction", "background", "conclusion", "references")
SEX_WORDS = {"woman": "female", "female": "female", "girl": "female", "lady": "female", "mother": "female",
             "man": "male", "male": "male", "boy": "male", "gentleman": "male", "father": "male"}
_SEX = re.compile(r"\b(" + "|".join(SEX_WORDS) + r")\b", re.I)
MAX_TEXT = 240  # characters of an item's text; the offsets still cover its whole sentence


@dataclass(frozen=True)
class Item:
    text: str  # what the item says (the sentence, shortened, or the patient's age and sex)
    start: int  # the sentence's offsets in the report's cleaned text
    end: int
    section: str
    question: str | None = None  # the question that found it (None: extracted)
    age: str | None = None  # patient only
    sex: str | None = None  # patient only: female / male

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None or k in ("text", "start", "end")}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1].rsplit(" ", 1)[0] + "…"


def patient(answerer: "Answerer", d: int) -> Item | None:
    """Age and sex from the first sentence that states an age, narrative sections first."""
    doc = answerer.index.docs[d]
    order = sorted(range(len(doc.sentences)),
                   key=lambda k: (not doc.sections[doc.sentences[k].section].name.lower().startswith(NARRATIVE),
                                  doc.sections[doc.sentences[k].section].name.lower().startswith(GENERAL), k))
    for k in order:
        s = doc.sentences[k]
        text = doc.text[s.start:s.end]
        ages = [m for pat in PATTERNS["age"] for m in pat.finditer(text)]
        if not ages:
            continue
        age = min(ages, key=lambda m: m.start())
        sex = _SEX.search(text, age.start())
        sex = sex if sex is not None and sex.start() - age.end() <= 40 else _SEX.search(text)
        short = text[age.start():sex.end()] if sex is not None and 0 <= sex.start() - age.end() <= 40 else age.group()
        years = re.search(r"\d+", age.group())
        return Item(" ".join(short.split()), s.start, s.end, doc.sections[s.section].name, None,
                    years.group() if years else age.group(), SEX_WORDS[sex.group().lower()] if sex else None)
    return None


def summarize(answerer: "Answerer", doc_id: str) -> dict:
    """The summary of one report (UnknownDocument when the index does not hold it)."""
    d = answerer.doc_number(doc_id)
    doc = answerer.index.docs[d]
    out: dict[str, dict | None] = {"patient": None}
    p = patient(answerer, d)
    out["patient"] = p.to_dict() if p else None
    used: set[int] = set()
    for name, questions in QUESTIONS.items():
        out[name] = None
        for question in questions:
            answers = answerer.ask(question, top_k=5, document_id=doc_id).answers
            # about this patient: never the discussion's general knowledge
            answers = [a for a in answers if not a.section.lower().startswith(GENERAL)]
            pick = next((a for a in answers if a.start not in used
                         and (name not in TYPED or (a.reason or {}).get("type_found"))), None)
            if pick is not None:
                used.add(pick.start)
                out[name] = Item(_short(pick.text), pick.start, pick.end, pick.section, question).to_dict()
                break
    return {"id": doc.id, "title": doc.title, **{k: out.get(k) for k in FIELDS}}
