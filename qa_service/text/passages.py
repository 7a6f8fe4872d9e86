"""Split sections into paragraphs and sentences, and build passage windows around a sentence."""
from __future__ import annotations

import re
from collections.abc import Sequence

from ..domain import Section, Sentence

# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    "fig figs figure tab no nos vol dr mr mrs ms prof vs etc approx ca cf eg ie al st jr sr inc ltd "
    "resp ref refs eq dept univ med sci mt ft pt pts min max mo yr yrs wk wks hr hrs sec".split()
)
_DOTTED_ABBREV = re.compile(r"(?:\b[a-zA-Z]\.){2,}$")  # e.g. i.e. i.v. p.o. b.i.d.
# Starts only where a run of [.!?] starts, runs possessive: linear time on "......" or ". . . .".
_BOUNDARY = re.compile(r"(?<![.!?])[.!?]++[\"”’)\]]*+(?=\s++[\"“(\[]?[A-Z0-9])")
_WORD_BEFORE_DOT = re.compile(r"([A-Za-z]+)\.$")
_PARAGRAPH = re.compile(r"[^\n]+")
MAX_SENTENCE_CHARS = 600


def _is_abbreviation(text: str, dot: int) -> bool:
    head = text[max(0, dot - 12):dot + 1]
    if _DOTTED_ABBREV.search(head):
        return True
    word = _WORD_BEFORE_DOT.search(head)
    if not word:
        return False
    w = word.group(1)
    # A single capital is an initial ("E. coli", "J. Smith"); a known abbreviation does not end a sentence.
    return w.lower() in _ABBREVIATIONS or (len(w) == 1 and w.isupper())


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], never across a paragraph break (blank line)."""
    spans: list[tuple[int, int]] = []
    for para in _PARAGRAPH.finditer(text, start, end):
        pos = para.start()
        for m in _BOUNDARY.finditer(text, para.start(), para.end()):
            if _is_abbreviation(text, m.start()):
                continue
            spans.append((pos, m.end()))
            pos = m.end()
        spans.append((pos, para.end()))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        chunk = text[s:e]
        s2 = s + len(chunk) - len(chunk.lstrip())
        e2 = s + len(chunk.rstrip())
        if e2 > s2:
            out.extend(_cap_length(text, s2, e2))
    return out


def _cap_length(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split an overlong 'sentence' (navigation text, tables, OCR text without punctuation) at
    semicolons or spaces into pieces of at most MAX_SENTENCE_CHARS. Iterative, and each step looks at
    most MAX_SENTENCE_CHARS characters ahead, so it is linear in the span's length."""
    out: list[tuple[int, int]] = []
    while end - start > MAX_SENTENCE_CHARS:
        limit = start + MAX_SENTENCE_CHARS
        cut = text.rfind("; ", start, limit)
        if cut <= start + 100:
            cut = text.rfind(" ", start, limit)
        if cut <= start:
            cut = limit
        else:
            cut += 1
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        out.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        out.append((start, end))
    return out


def split_sentences(text: str, sections: list[Section], paragraph_base: int = 0) -> list[Sentence]:
    """Sentences of every section, each labelled with its section index and paragraph number."""
    out: list[Sentence] = []
    para = paragraph_base
    for si, sec in enumerate(sections):
        last_end = None
        for s, e in sentence_spans(text, sec.start, sec.end):
            if last_end is None or "\n" in text[last_end:s]:
                para += 1
            out.append(Sentence(s, e, si, para))
            last_end = e
    return out


def window(sentences: Sequence[Sentence], i: int, size: int = 3) -> tuple[int, int]:
    """Indices [lo, hi) of a window of up to `size` sentences around sentence i, within its section."""
    sec = sentences[i].section
    lo, hi = i, i + 1
    while hi - lo < size:
        grew = False
        if lo > 0 and sentences[lo - 1].section == sec:
            lo -= 1
            grew = True
        if hi - lo < size and hi < len(sentences) and sentences[hi].section == sec:
            hi += 1
            grew = True
        if not grew:
            break
    return lo, hi
