"""Assemble an answer from a chosen sentence: the focused text, its passage, offsets and entities."""
from __future__ import annotations

from typing import Callable

from ..domain import Answer, Entity
from ..index.bm25 import Index
from ..text.passages import window

SHORT_SENTENCE = 60  # characters: a shorter sentence ("She was pale.") reads better with the next one


def make_answer(index: Index, row: int, score: float,
                entities: Callable[[str], list[Entity]] | None = None,
                features: dict | None = None) -> tuple[Answer, range]:
    """The answer at a sentence row, and the rows it covers."""
    s = index.sentences
    d = int(s["doc"][row])
    doc = index.docs[d]
    lo_doc = int(index.doc_rows[d])
    local = row - lo_doc
    sentences = doc.sentences
    first = last = local
    if (sentences[local].end - sentences[local].start < SHORT_SENTENCE and local + 1 < len(sentences)
            and sentences[local + 1].paragraph == sentences[local].paragraph):
        last = local + 1
    plo, phi = window(sentences, local)
    plo, phi = min(plo, first), max(phi, last + 1)
    start, end = sentences[first].start, sentences[last].end
    p_start, p_end = sentences[plo].start, sentences[phi - 1].end
    found = entities(doc.text[start:end]) if entities else []
    found = [Entity(e.text, e.label, e.start + start, e.end + start, e.negated, e.assertion, e.concept) for e in found]
    answer = Answer(
        text=doc.text[start:end], passage=doc.text[p_start:p_end], document_id=doc.id,
        document_title=doc.title, section=doc.sections[sentences[local].section].name,
        score=round(float(score), 4), start=start, end=end, passage_start=p_start, passage_end=p_end,
        raw_start=sentences[first].raw_start, raw_end=sentences[last].raw_end, entities=found, features=features,
    )
    return answer, range(lo_doc + first, lo_doc + last + 1)
