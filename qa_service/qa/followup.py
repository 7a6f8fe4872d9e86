"""Follow-up questions: resolve an elliptical or pronominal question against the conversation.

"Which antibiotic was she given?" then "At what dose?" asks for the dose of that antibiotic;
"What did the chest radiograph show?" then "And the CT scan?" asks what the CT scan showed;
"What did the renal biopsy confirm?" then "Was it treated?" asks whether lupus nephritis (the
answer) was treated. The new words lead: the answer type and the yes/no flag come from the new
question when it says them; the subject (and the report) carry over from the last turns.

A question that stands on its own (it names what it is about) is never changed, so it gets the
same answers with or without history. Only string work here: the answer texts of earlier turns
and their key terms come from the answerer through `referent`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..text.tokenize import QUESTION_STOP_WORDS

MAX_TURNS = 10

# Words that say what is asked, not what it is about: a question made only of these (and stop
# words) needs a subject from the conversation ("At what dose?", "How long?", "Why?").
FRAME = frozenset("""
    dose doses dosage dosing level levels value values long old age much many often big large small high low
    treat treated treatment treatments therapy manage managed management give given receive received start started
    cause caused causes reason why result results finding findings show showed shown reveal revealed
    confirm confirmed diagnose diagnosed diagnosis happen happened outcome work worked help helped effective
    improve improved resolve resolved respond responded change changed else other kind type sort same
    size rate time times day days date number amount duration severe serious bad worse better
    done do does did performed found seen first last next then later after before during still
    was were is are be been since when where how why what which period over under per up out
""".split())
# Pronouns for a thing (not for the patient: "she", "he" are the patient, who never changes).
THING_PRONOUN = re.compile(r"\b(?:it|its|itself|them|this|that|these|those)\b(?!\s+(?:patient|woman|man|case|report|girl|boy|child))", re.I)
PATIENT_WORDS = re.compile(r"\b(?:she|he|her|his|him|hers|the patient|this patient|the woman|the man|the child|the boy|the girl)\b", re.I)
# "and ...", "what about ...", "how about ..." hand over a new subject or a qualifier.
CONTINUATION = re.compile(r"^\s*(?:(?:and|but)\s+)?(?:what|how)\s+about\b[\s,]*|^\s*what\s+of\b[\s,]*|^\s*(?:and|also|then|so)\b[\s,]*", re.I)
# A fragment starting with one of these qualifies the previous question ("and after surgery?").
QUALIFIER = re.compile(r"^(?:after|before|during|on|at|in|following|since|until|by|at the time of|when|while|with|without)\b", re.I)
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Turn:
    """An earlier turn: its question as asked and the top answer the service gave (None: declined)."""
    question: str
    document_id: str | None = None
    start: int | None = None
    end: int | None = None


@dataclass
class Resolution:
    asked: str  # the question as asked
    question: str  # the question as understood (= asked when it stands on its own)
    followup: bool = False
    kind: str = "standalone"  # standalone | qualifier | subject | pronoun | fragment
    document_id: str | None = None  # the report the conversation is about (follow-ups only)
    carried: list[str] = field(default_factory=list)  # phrases taken from earlier turns
    own_type: bool = False  # the answer type and yes/no come from the asked question


def _content(text: str) -> list[re.Match]:
    """Words of a question that say what it is about."""
    return [m for m in _WORD.finditer(text)
            if m.group().lower() not in QUESTION_STOP_WORDS and m.group().lower() not in FRAME
            and not THING_PRONOUN.fullmatch(m.group())]


def subject(question: str) -> tuple[int, int] | None:
    """Where a question names what it is about: from its first to its last content word."""
    words = _content(question)
    if not words:
        return None
    start = words[0].start()
    det = re.search(r"\b(?:the|a|an|her|his|their|its)\s+$", question[:start], re.I)
    if det:  # "the chest radiograph" is replaced whole by "the CT scan"
        start = det.start()
    return start, words[-1].end()


def _strip(text: str) -> str:
    return text.strip().rstrip("?.!").strip()


def classify(question: str) -> tuple[str, str]:
    """(kind, fragment): how a question leans on the conversation, and its own words."""
    m = CONTINUATION.match(question)
    if m and _strip(question[m.end():]):
        rest = _strip(question[m.end():])
        if QUALIFIER.match(rest):
            return "qualifier", rest
        if _content(rest) and not re.match(r"^(?:what|which|how|when|why|where|who|did|was|were|is|are|do|does|had|has)\b", rest, re.I):
            return "subject", rest
        question = rest  # "and was it treated?": a full question after the "and"
    content = _content(question)
    if THING_PRONOUN.search(question) and len(content) <= 2:
        return "pronoun", _strip(question)
    if not content and not PATIENT_WORDS.search(question):
        return "fragment", _strip(question)
    return "standalone", question


def resolve_one(question: str, previous: str | None, referent: str | None) -> Resolution:
    """Resolve one question against the previous turn's understood question and its referent
    (the key term of its answer, e.g. the drug or the finding it named)."""
    kind, fragment = classify(question)
    if kind == "standalone" or previous is None:
        return Resolution(question, question)
    prev = _strip(previous)
    span = subject(prev)
    # what the previous question was about, in its own words ("ulcers", not "ulcers seen on examination")
    prev_subject = " ".join(m.group() for m in _content(prev))
    thing = referent or prev_subject
    if kind == "qualifier":
        return Resolution(question, f"{prev} {fragment}?", True, kind, carried=[prev])
    if kind == "subject":
        understood = f"{prev[:span[0]]}{fragment}{prev[span[1]:]}?" if span else f"{fragment}: {prev}?"
        return Resolution(question, understood, True, kind, carried=[prev_subject] if prev_subject else [prev])
    if not thing:
        return Resolution(question, question)
    if kind == "pronoun":
        understood = THING_PRONOUN.sub(lambda m: (thing + "'s") if m.group().lower() == "its" else thing, fragment, count=1)
        carried = [thing] + ([prev_subject] if referent and prev_subject and prev_subject.lower() not in thing.lower() else [])
        extra = f" ({prev_subject})" if len(carried) > 1 else ""
        return Resolution(question, f"{understood}{extra}?", True, kind, carried=carried, own_type=True)
    carried = [x for x in dict.fromkeys([referent, prev_subject]) if x]
    return Resolution(question, f"{fragment} ({', '.join(carried)})?", True, kind, carried=carried, own_type=True)


def resolve(question: str, history: Sequence[Turn],
            referent: Callable[[str, Turn], str | None] | None = None) -> Resolution:
    """Resolve `question` against the conversation so far (oldest turn first). Earlier follow-ups
    are resolved in turn, so a chain ("Which drug?" -> "At what dose?" -> "For how long?") keeps
    its subject. `referent(understood question, turn)` names the key term of a turn's answer."""
    understood: str | None = None
    ref: str | None = None
    doc: str | None = None
    for turn in list(history)[-MAX_TURNS:]:
        r = resolve_one(turn.question, understood, ref)
        understood = r.question
        if turn.document_id is not None:
            doc = turn.document_id
            ref = referent(understood, turn) if referent is not None else None
        else:
            ref = None
    r = resolve_one(question, understood, ref)
    if r.followup:
        r.document_id = doc
    return r
