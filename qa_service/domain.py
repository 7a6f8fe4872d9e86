"""Plain domain objects. Offsets are character offsets into the document's cleaned text."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Section:
    name: str  # canonical: "Abstract", "Case report", "Figure 3", "Body", ...
    kind: str  # "body" | "caption" | "front" | "unindexed"
    start: int  # start of the section's text (after its heading)
    end: int
    heading: str = ""  # the heading as written ("CASE REPORT", "Fig. 3.")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    section: int  # index into Document.sections
    paragraph: int  # running paragraph number within the document
    raw_start: int = 0  # the same span in the raw source text
    raw_end: int = 0


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str  # cleaned text
    sections: tuple[Section, ...]
    sentences: Sequence[Sentence]  # a tuple, or the index's SentenceView over its arrays
    source: str = ""  # file path or JSONL origin


@dataclass(frozen=True)
class Entity:
    text: str
    label: str  # FINDING | DISEASE | DRUG | TEST | ANATOMY | PROCEDURE ...
    start: int
    end: int
    negated: bool = False
    assertion: str = "present"  # present | absent | hypothetical | historical
    concept: str | None = None  # e.g. "HP:0003761"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    text: str  # the focused answer sentence(s)
    passage: str
    document_id: str
    document_title: str
    section: str
    score: float  # 0..1: the calibrated probability that this answer holds the answer
    start: int  # of `text` in the cleaned document text
    end: int
    passage_start: int
    passage_end: int
    raw_start: int  # of `text` in the raw source text
    raw_end: int
    entities: list[Entity] = field(default_factory=list)
    features: dict | None = None  # the ranker's feature values, only when asked for (debug)
    # Added on top of the ranked answer (qa.spans, qa.verdict, qa.reasons); never change its rank.
    span: dict | None = None  # the exact short answer {text, start, end, type}, offsets into `text`
    verdict: str | None = None  # yes / no / not stated, for a yes/no question
    reason: dict | None = None  # why this sentence was chosen

    def to_dict(self) -> dict:
        d = asdict(self)
        d["entities"] = [e.to_dict() if isinstance(e, Entity) else e for e in self.entities]
        for optional in ("features", "span", "verdict", "reason"):
            if d[optional] is None:
                d.pop(optional)
        return d
