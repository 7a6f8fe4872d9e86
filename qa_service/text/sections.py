"""Split cleaned text into sections: title, headings, figure/table captions, references."""
from __future__ import annotations

import re

from ..domain import Section
from .layout import (CAPTION_RE, CASE_OPENING_PARTS, HEADING_RE, UNINDEXED_SECTIONS, canonical_heading,
                     case_part_heading, caption_name)

_BLOCK = re.compile(r"[^\n]+(?:\n(?!\n)[^\n]*)*")
_LINE = re.compile(r"[^\n]+")
_PROSE_WORD = re.compile(r"\b[a-z]{3,}\b")
_SENTENCE_END_BEFORE = re.compile(r"(?:^|[.!?:;)\]\"”]\s*|\n\s*)$")


def _heading_hits(text: str) -> list[tuple[int, int, str, str]]:
    """(heading start, content start, canonical name, heading as written), navigation runs removed."""
    cands = []
    for m in HEADING_RE.finditer(text):
        head = m.group("head")
        name = canonical_heading(head)
        if not name or not head[:1].isupper():
            continue
        block_start = m.start() == 0 or text[m.start() - 1] == "\n"
        upper = head.isupper() and len(head) >= 4
        if not upper and not block_start and head.split()[0][1:] != head.split()[0][1:].lower():
            continue  # "Case Of" inside a title is not a heading; "Case report" and "CASE REPORT" are
        sentence_end = bool(_SENTENCE_END_BEFORE.search(text[max(0, m.start() - 3):m.start()]))
        cands.append((m.start(), m.end(), name, m.group(0).strip(), block_start or upper or sentence_end))
    hits: list[tuple[int, int, str, str]] = []
    i = 0
    while i < len(cands):
        # A run of headings with only white space between them is a navigation menu
        # ("Abstract Introduction Case presentation ..."); the last one may head real text.
        j = i
        while j + 1 < len(cands) and not text[cands[j][1]:cands[j + 1][0]].strip():
            j += 1
        start, cstart, name, written, context_ok = cands[j]
        next_start = cands[j + 1][0] if j + 1 < len(cands) else len(text)
        # Keyword lists have no final period, so the heading after them needs no sentence end.
        after_keywords = bool(hits) and hits[-1][2] == "Keywords" and start - hits[-1][1] < 400
        if j > i:
            ok = next_start - cstart >= 200
        else:
            ok = context_ok or after_keywords
        if ok:
            hits.append((start, cstart, name, written))
        i = j + 1
    return hits


def _case_part_hits(text: str) -> list[tuple[int, int, str, str]]:
    """Headings of the parts of the patient's story, each a line of its own (the cleaner keeps them so)."""
    hits = []
    for m in _LINE.finditer(text):
        got = case_part_heading(text[m.start():min(m.end(), m.start() + 220)])
        if got:
            name, end = got
            hits.append((m.start(), m.start() + end, name, text[m.start():m.start() + end].strip()))
    return hits


def _all_heading_hits(text: str) -> list[tuple[int, int, str, str]]:
    """The report's headings and, inside its narrative, the headings of the narrative's parts; a part
    such as "Treatment" that also heads paragraphs of a discussion counts only inside the narrative."""
    tagged = sorted([(*h, False) for h in _heading_hits(text)] + [(*h, True) for h in _case_part_hits(text)])
    hits: list[tuple[int, int, str, str]] = []
    in_story = True  # text before any heading may be the story itself
    for start, cstart, name, written, part in tagged:
        if not part or in_story or name in CASE_OPENING_PARTS:
            hits.append((start, cstart, name, written))
            in_story = part or name == "Case report"
        else:  # a paragraph heading inside the discussion: the discussion goes on
            hits.append((start, cstart, hits[-1][2], written))
    return hits


def _front_end(text: str, first: int) -> int:
    """Where the text before the first heading stops being front matter (title, authors): at the first
    block after the title that reads as prose; `first` if none does."""
    blocks = list(_BLOCK.finditer(text, 0, first))
    for m in blocks[1:]:
        block = m.group(0).rstrip()
        if len(block) >= 80 and block.endswith((".", "!", "?")) and len(_PROSE_WORD.findall(block)) >= 8:
            return m.start()
    return first


def split_sections(text: str) -> list[Section]:
    """Sections covering `text`; captions become their own sections; unknown layouts give one Body."""
    heads = _all_heading_hits(text)
    # Once a real References section starts, everything after it is references.
    for i, (_, _, name, _) in enumerate(heads):
        if name == "References" and i > 0:
            heads = heads[: i + 1]
            break
    sections: list[Section] = []
    first = heads[0][0] if heads else len(text)
    if text[:first].strip():
        body = _front_end(text, first) if heads else 0
        if body > 0:
            sections.append(Section("Front matter", "front", 0, body))
        if body < first:
            sections.append(Section("Body", "body", body, first))
    for i, (_, cstart, name, written) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        kind = "unindexed" if name in UNINDEXED_SECTIONS else "body"
        sections.append(Section(name, kind, cstart, end, written))
    return _split_out_captions(text, sections)


def _split_out_captions(text: str, sections: list[Section]) -> list[Section]:
    out: list[Section] = []
    for sec in sections:
        if sec.kind == "unindexed":
            out.append(sec)
            continue
        pos = sec.start
        for block in _BLOCK.finditer(text, sec.start, sec.end):
            m = CAPTION_RE.match(block.group(0))
            if not m:
                continue
            if text[pos:block.start()].strip():
                out.append(Section(sec.name, sec.kind, pos, block.start(), sec.heading if pos == sec.start else ""))
            out.append(Section(caption_name(m), "caption", block.start() + m.end(), block.end(), m.group(0).strip()))
            pos = block.end()
        if text[pos:sec.end].strip() or pos == sec.start:
            out.append(Section(sec.name, sec.kind, pos, sec.end, sec.heading if pos == sec.start else ""))
    return [_trim(text, s) for s in out]


def _trim(text: str, s: Section) -> Section:
    chunk = text[s.start:s.end]
    lead = len(chunk) - len(chunk.lstrip())
    tail = len(chunk.rstrip())
    return Section(s.name, s.kind, s.start + lead, s.start + max(tail, lead), s.heading)


def guess_title(raw: str, fallback: str) -> str:
    """The first line when it reads like a title, else `fallback`."""
    first = raw.strip().split("\n", 1)[0].strip()
    for sep in (" | ", " Warning:", "  "):
        first = first.split(sep, 1)[0]
    first = first.strip()
    if 8 <= len(first) <= 200 and not canonical_heading(first):
        return first
    return fallback
