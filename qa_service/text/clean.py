"""Repair text extracted from PDFs and web pages, keeping a map from cleaned offsets to raw offsets.

Blocks (paragraphs, headings, captions) are separated by a blank line in the cleaned text; inside
a block, line breaks become spaces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .layout import CAPTION_RE, canonical_heading, case_part_heading

IsWord = Callable[[str], bool]


@dataclass(frozen=True, eq=False)
class CleanText:
    """Cleaned text plus `to_raw`: for each cleaned character the offset of its source character."""

    text: str
    to_raw: np.ndarray  # int64, len(text) + 1; the last entry is len(raw)

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """Raw offsets [start, end) covering the cleaned span [start, end)."""
        if end <= start:
            pos = int(self.to_raw[start])
            return pos, pos
        return int(self.to_raw[start]), int(self.to_raw[end - 1]) + 1


def _align(match_text: str, repl: str, base: np.ndarray) -> np.ndarray:
    """Map each replacement character to the matched character it came from (greedy alignment)."""
    out = np.empty(len(repl), dtype=np.int64)
    j = 0
    n = len(match_text)
    for i, ch in enumerate(repl):
        k = match_text.find(ch, j)
        if k >= 0:
            out[i] = base[k]
            j = k + 1
        else:  # inserted character: it stands where the next source character is
            out[i] = base[min(j, n - 1)] if n else base[0]
    return out


class _Editor:
    """A string with its offset map, edited by regex substitutions that keep the map true."""

    def __init__(self, raw: str):
        self.text = raw
        self.map = np.arange(len(raw) + 1, dtype=np.int64)

    def sub(self, pattern: re.Pattern, repl: str | Callable[[re.Match], str]) -> None:
        texts: list[str] = []
        maps: list[np.ndarray] = []
        chunks: list[np.ndarray] = []
        last = 0  # end of the last match, in the text
        last_map = 0  # end of the last length-changing match: same-length replacements keep the map
        literal = None if callable(repl) or "\\" in repl else repl  # expand() re-parses per call
        for m in pattern.finditer(self.text):
            old = m.group(0)
            new = literal if literal is not None else repl(m) if callable(repl) else m.expand(repl)
            if new == old:
                continue
            texts.append(self.text[last:m.start()])
            texts.append(new)
            last = m.end()
            if len(new) != len(old):
                maps.append(self.map[last_map:m.start()])
                maps.append(_align(old, new, self.map[m.start():m.end() + 1]))
                last_map = m.end()
                if len(maps) >= 8192:  # merge as we go: millions of small slices cost memory and time
                    chunks.append(np.concatenate(maps))
                    maps = []
        if not texts:
            return
        texts.append(self.text[last:])
        self.text = "".join(texts)
        if maps or chunks:
            chunks.extend(maps)
            chunks.append(self.map[last_map:])
            self.map = np.concatenate(chunks)

    def translate(self, table: dict[int, str]) -> None:
        """One-for-one character replacements: the offset map stays as it is."""
        self.text = self.text.translate(table)

    def rebuild(self, pieces: list[tuple[int, int] | str]) -> None:
        """Replace the text by spans of itself and literal separators (mapped to the next span)."""
        texts: list[str] = []
        maps: list[np.ndarray] = []
        pending: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                pending.append(piece)
                continue
            start, end = piece
            if pending:
                sep = "".join(pending)
                texts.append(sep)
                maps.append(np.full(len(sep), self.map[start], dtype=np.int64))
                pending = []
            texts.append(self.text[start:end])
            maps.append(self.map[start:end])
        end_pos = self.map[-1]
        self.text = "".join(texts)
        self.map = np.concatenate(maps + [np.array([end_pos], dtype=np.int64)]) if maps else np.array([end_pos])


# Characters that become a plain space, one for one: tabs, Unicode spaces, a byte-order mark inside
# the text; and control characters
# (NUL & co.; \r and \f are line breaks, handled before), which have no place in a report's text.
_TO_SPACE = {c: " " for c in [0x09, 0xA0, *range(0x2000, 0x200C), 0x202F, 0x205F, 0x3000, 0xFEFF,
                              *range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0xFFFE, 0xFFFF]}
_CRLF = re.compile(r"\r\n?|\f|\u2028|\u2029")
_SOFT_HYPHEN = re.compile("\u00ad")
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_LIGATURE_RE = re.compile("[" + "".join(_LIGATURES) + "]")
# Linear-time rule for every pattern here (tests/text/test_robust_text.py, benchmarks/text_stages.py): a
# pattern that starts with a repeated class starts only where a run of that class starts (a negative
# lookbehind on the same class), its runs are possessive (`*+`, `++`: no backtracking into them) or
# bounded, so each character is scanned a bounded number of times whatever the input.
_TRAILING_SPACE = re.compile(r"(?<! ) ++(?=\n)")
MAX_WORD = 64  # longest word part that de-hyphenation considers (no English word is longer)
_HYPHEN_BREAK = re.compile(r"(?<![A-Za-z])(?P<a>[A-Za-z]{1,%d}+)-[ ]*+\n(?:[ ]*+\n)*+[ ]*+(?P<b>[a-z]{1,%d}+)"
                           % (MAX_WORD, MAX_WORD))
_SLASH_BREAK = re.compile(r"(?<=\w/)[ ]*+\n[ ]*+(?=\w)")
_BLOCK_SPLIT = re.compile(r"\n[ ]*+\n\s*+")
_TERMINAL = tuple(".?!:")

_COMMA_GLUE = re.compile(r"(?<=[a-z]{2}),(?=[a-z]{2})")
_PERIOD_GLUE = re.compile(r"(?<=[a-z]{3})\.(?=[A-Z][a-z]{2})")
_CITE_AFTER_PUNCT = re.compile(r"(?<=[A-Za-z)\]][.,;])(\d{1,3}(?:[,–-]\d{1,3})*)(?=\s|$)")
_CITE_GLUED = re.compile(r"(?<=[a-z]{4})(\d{1,2}(?:[,–-]\d{1,2})*)(?=[\s.,;:)]|$)")
_CITE_BRACKET = re.compile(r"\s?\[\s*\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\s*\]")
_CITE_SPACED = re.compile(r"(?<=[A-Za-z)][.,])[ ]\d{1,3}(?:[ ]?[,–-][ ]?\d{1,3})*(?=[ ]{2})")
_NO_CITE_BEFORE = re.compile(r"(?:\b(?:fig|figs|figure|table|no|nos|vol|p|pp|ref|refs|grade|class|type|stage|day|lead|step|phase)|\d)[.,]?$", re.I)
_MULTISPACE = re.compile(r"(?<! )[ ]{2,}+")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<! )[ ]++(?=[.,;:)\]](?:\s|$|[.,;:)\]]))")
_SPACE_AFTER_OPEN = re.compile(r"(?<=[(\[])[ ]++")
# A single line break, not a block break (inside a block there are no blank lines and no trailing spaces).
_LINE_BREAK = re.compile(r"(?<![\n ])[ ]*+\n[ ]*+(?!\n)")
_WORDS = re.compile(r"(?<![a-z])[a-z]{1,%d}+(?:-[a-z]{1,%d}+)*+(?![a-z])" % (MAX_WORD, MAX_WORD))
_HEADING_NUMBER = re.compile(r"\s*+(?:\d{1,2}|[IVX]{1,4})\.?\s+")


# A heading marked up as Markdown ("## Discussion", "**Physical examination**"): the marks go.
_MARKED_LINE = re.compile(r"(?m)^[ \t]{0,8}+(?P<open>#{1,6}[ \t]{1,8}+|\*\*|__)(?P<head>[^\n*#_]{1,80}?)"
                          r"(?P<close>\*\*|__)?[ \t]{0,8}+$")


def _unmark_heading(m: re.Match) -> str:
    head, opened, closed = m.group("head"), m.group("open").strip(), m.group("close")
    if (opened in ("**", "__")) != (closed == opened):
        return m.group(0)
    return head if _is_heading_line(head) or _is_case_part_line(head) else m.group(0)


def _no_cite_context(m: re.Match) -> bool:
    before = m.string[max(0, m.start() - 12):m.start()]
    return bool(_NO_CITE_BEFORE.search(before))


def clean(raw: str, is_word: IsWord | None = None) -> CleanText:
    """Clean PDF/web text; `is_word` decides whether `soft-\\ntissue` keeps its hyphen."""
    ed = _Editor(raw)
    ed.sub(_CRLF, "\n")
    ed.translate(_TO_SPACE)
    ed.sub(_SOFT_HYPHEN, "")
    ed.sub(_LIGATURE_RE, lambda m: _LIGATURES[m.group(0)])
    ed.sub(_TRAILING_SPACE, "")
    ed.sub(_MARKED_LINE, _unmark_heading)
    known = is_word or (lambda w: False)
    # Words (and hyphenated compounds) the report itself spells; longer runs of letters are not words.
    words_here = set(_WORDS.findall(ed.text.lower()))

    def dehyphenate(m: re.Match) -> str:
        a, b = m.group("a"), m.group("b")
        joined = (a + b).lower()
        hyphenated = f"{a}-{b}".lower()
        # "soft-\ntissue" keeps its hyphen (two words, no word "softtissue"); "treat-\nment" and
        # "pharmacologi-\ncal" are one word split by the line break.
        keep = hyphenated in words_here or (
            joined not in words_here and not known(joined) and known(a.lower()) and known(b.lower()) and len(a) > 1
        )
        return f"{a}-{b}" if keep else a + b

    ed.sub(_HYPHEN_BREAK, dehyphenate)
    ed.sub(_SLASH_BREAK, "")
    _assemble_blocks(ed)
    ed.sub(_CITE_BRACKET, "")
    ed.sub(_CITE_SPACED, lambda m: m.group(0) if _no_cite_context(m) else "")
    ed.sub(_CITE_AFTER_PUNCT, lambda m: m.group(0) if _no_cite_context(m) else "")
    ed.sub(_CITE_GLUED, "")
    ed.sub(_COMMA_GLUE, ", ")
    ed.sub(_PERIOD_GLUE, ". ")
    ed.sub(_MULTISPACE, " ")
    ed.sub(_SPACE_BEFORE_PUNCT, "")
    ed.sub(_SPACE_AFTER_OPEN, "")
    return CleanText(ed.text, ed.map)


def _blocks(text: str) -> list[tuple[int, int]]:
    """Blank-line separated blocks, with captions split off into blocks of their own."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in list(_BLOCK_SPLIT.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        spans.extend(_split_captions(text, pos, end))
        pos = m.end() if m else len(text)
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _split_captions(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A caption starts a line and ends with the first line that ends a sentence."""
    out: list[tuple[int, int]] = []
    block_start = start
    in_caption = False
    line_start = start
    after_break = True  # the line starts the block, or follows a heading or a sentence's end
    while line_start < end:
        nl = text.find("\n", line_start, end)
        line_end = end if nl < 0 else nl
        line = text[line_start:line_end]
        stripped_offset = len(line) - len(line.lstrip())
        if not in_caption and (_is_heading_line(line) or after_break and _is_case_part_line(line)):
            if line_start > block_start:
                out.append((block_start, line_start))
            out.append((line_start + stripped_offset, line_end))
            block_start = line_end
            line_start = line_end + 1
            continue
        after_break = line.rstrip().endswith(_TERMINAL) or not line.strip()
        if not in_caption and CAPTION_RE.match(line.lstrip()):
            if line_start > block_start:
                out.append((block_start, line_start))
            block_start = line_start + stripped_offset
            in_caption = True
        if in_caption and line.rstrip().endswith(_TERMINAL):
            out.append((block_start, line_end))
            block_start = line_end
            in_caption = False
        line_start = line_end + 1
    if block_start < end:
        out.append((block_start, end))
    return out


def _is_heading_line(line: str) -> bool:
    if len(line) > 200:  # headings are short; never scan a long line
        return False
    m = _HEADING_NUMBER.match(line)
    words = (line[m.end():] if m else line).strip()
    return bool(words) and words[:1].isupper() and canonical_heading(words) is not None


def _is_case_part_line(line: str) -> bool:
    """A heading of a part of the patient's story on a line of its own, after a sentence's end."""
    return case_part_heading(line) is not None


def _is_caption(text: str) -> bool:
    return bool(CAPTION_RE.match(text))


def _assemble_blocks(ed: _Editor) -> None:
    """Join blocks that a page break split mid-sentence (moving captions after them); flatten lines."""
    text = ed.text
    blocks = [(s + len(text[s:e]) - len(text[s:e].lstrip()), s + len(text[s:e].rstrip())) for s, e in _blocks(text)]
    ordered: list[list[tuple[int, int]]] = []  # groups of spans that form one block
    held_captions: list[list[tuple[int, int]]] = []
    # Whether the last group may take a continuation: it is not a caption and its last block is not a
    # heading and does not end a sentence (decided once per block, so the loop stays linear).
    open_group = False
    for span in blocks:
        body = text[span[0]:span[1]]
        if _is_caption(body):
            held_captions.append([span])
            continue
        if ordered and open_group and body[:1].islower():
            ordered[-1].append(span)  # continuation of the interrupted sentence
        else:
            ordered.extend(held_captions)
            held_captions = []
            ordered.append([span])
        open_group = not (_is_heading_line(body) or _is_case_part_line(body)) and not body.endswith(_TERMINAL)
    ordered.extend(held_captions)
    pieces: list[tuple[int, int] | str] = []
    for i, group in enumerate(ordered):
        if i:
            pieces.append("\n\n")
        for j, span in enumerate(group):
            if j:
                pieces.append(" ")
            pieces.append(span)
    ed.rebuild(pieces)
    ed.sub(_LINE_BREAK, " ")
