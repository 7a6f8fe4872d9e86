"""Patterns that describe a case report's layout: section headings and figure/table captions.

Shared by the cleaner (which keeps these as their own blocks) and the sectioner (which names them).
"""
from __future__ import annotations

import re

# Canonical section name for each heading spelling (matched case-insensitively).
HEADINGS: dict[str, str] = {
    "abstract": "Abstract",
    "summary": "Abstract",
    "background": "Introduction",
    "introduction": "Introduction",
    "case report": "Case report",
    "case reports": "Case report",
    "case presentation": "Case report",
    "case presentations": "Case report",
    "case description": "Case report",
    "case history": "Case report",
    "patient and methods": "Case report",
    "clinical case": "Case report",
    "results": "Results",
    "methods": "Methods",
    "discussion": "Discussion",
    "comment": "Discussion",
    "comments": "Discussion",
    "conclusion": "Conclusion",
    "conclusions": "Conclusion",
    "learning points": "Conclusion",
    "references": "References",
    "bibliography": "References",
    "acknowledgements": "Acknowledgements",
    "acknowledgments": "Acknowledgements",
    "acknowledgement": "Acknowledgements",
    "acknowledgment": "Acknowledgements",
    "consent": "Declarations",
    "competing interests": "Declarations",
    "conflict of interest": "Declarations",
    "conflicts of interest": "Declarations",
    "declarations": "Declarations",
    "funding": "Declarations",
    "abbreviations": "Abbreviations",
    "keywords": "Keywords",
    "key words": "Keywords",
}

# Sections whose text is never used as an answer.
UNINDEXED_SECTIONS = frozenset({"References", "Acknowledgements", "Declarations", "Abbreviations", "Keywords"})

_heading_alt = "|".join(sorted((re.escape(h).replace(r"\ ", r"\s+") for h in HEADINGS), key=len, reverse=True))

# A heading: optional numbering ("2.", "II."), a known heading in Title or UPPER case, then the start
# of the section's text (a capital letter, digit or opening bracket) or the end of a line.
# Linear time: white-space runs are bounded (cleaned text has single spaces and blank lines; a heading
# followed by a longer run of white space is not recognised), and the numbering starts only where a
# run of digits / numerals starts.
_heading_alt = _heading_alt.replace(r"\s+", r"\s{1,8}")
HEADING_RE = re.compile(
    r"(?:(?<=^)|(?<=[.!?:;)\]\s]))"  # after a sentence end or white space
    r"(?P<num>(?:\d{1,2}|[IVX]{1,4})\.?\s{1,8}+)?"
    r"(?P<head>" + _heading_alt + r")"
    r"(?P<colon>\s{0,8}+[:.])?"
    r"(?=\s{0,8}\n|\s{1,8}[A-Z0-9(\[\"“‘]|\s{0,8}$)",
    re.IGNORECASE,
)

# A caption at the start of a block: "Fig. 3.", "Figs 2a", "Figure 2:", "Table 1".
CAPTION_RE = re.compile(
    r"^(?P<kind>Fig(?:ure)?s?\.?|FIG(?:URE)?S?\.?|Table|TABLE)\s{0,8}+(?P<num>\d{1,4}+[a-z]?)"
    r"(?:\s{0,8}+(?:and|,|&)\s{0,8}+\d{0,4}+[a-z])?(?:\s{0,8}+[.:|])?\s{1,8}+(?=\S)"
)


def canonical_heading(text: str) -> str | None:
    """The canonical section name for a heading's text, or None."""
    key = " ".join(text.lower().replace(":", " ").split())
    return HEADINGS.get(key)



def caption_name(match: re.Match) -> str:
    kind = "Table" if match.group("kind").lower().startswith("tab") else "Figure"
    return f"{kind} {match.group('num')}"
