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

# Headings of the parts of a patient's narrative (CARE guideline, BMJ Case Reports, clinical notes),
# recognised only as a line of their own ("Physical examination", "HISTORY:"): as words inside a
# sentence they are ordinary prose. Canonical name -> other spellings.
_CASE_PARTS: dict[str, tuple[str, ...]] = {
    "Chief complaint": ("presenting complaint", "presenting complaints", "reason for admission",
                        "reason for referral"),
    "History of present illness": ("history of presenting illness", "history of the present illness",
                                   "present illness", "hpi"),
    "Patient information": ("patient history", "clinical history", "case summary"),
    "Past medical history": ("past history", "medical history", "pmh"),
    "Family history": (),
    "Social history": (),
    "Medications": ("medication", "drug history", "medication history", "current medications"),
    "Allergies": (),
    "Clinical presentation": ("initial presentation",),
    "Physical examination": ("clinical examination", "on examination", "examination", "physical exam",
                             "exam"),
    "Clinical findings": (),
    "Findings": (),
    "Investigations": ("investigation", "laboratory findings", "laboratory results", "laboratory data",
                       "laboratory investigations", "laboratory tests", "laboratory studies", "labs",
                       "imaging", "imaging findings", "imaging studies", "radiological findings",
                       "diagnostic assessment", "diagnostic workup", "diagnostic work-up", "work-up",
                       "workup"),
    "Pathology": ("histopathology", "histology", "pathological findings", "histological findings",
                  "histopathological findings"),
    "Differential diagnosis": (),
    "Diagnosis": ("final diagnosis", "diagnoses"),
    "Treatment": ("management", "therapeutic intervention", "therapeutic interventions", "intervention",
                  "interventions", "treatment and management", "surgery", "surgical procedure",
                  "operative findings", "procedure"),
    "Hospital course": ("clinical course", "course", "course in hospital", "hospital stay"),
    "Outcome and follow-up": ("outcome", "outcomes", "follow-up", "follow up", "outcome and follow up",
                              "outcomes and follow-up", "follow-up and outcome", "follow-up and outcomes",
                              "treatment and outcome", "discharge", "disposition"),
    "Assessment and plan": ("assessment", "plan", "impression", "assessment & plan"),
    "Timeline": (),
    "Patient perspective": (),
}
# Parts that only ever head a patient's own story; the others ("Treatment", "Diagnosis", "Outcome")
# also head paragraphs of a discussion, so they start a part of the narrative only inside one.
CASE_OPENING_PARTS = frozenset({
    "Chief complaint", "History of present illness", "Patient information", "Past medical history",
    "Family history", "Social history", "Clinical presentation", "Physical examination", "Clinical findings",
    "Investigations", "Hospital course", "Timeline", "Patient perspective",
})
CASE_PART_HEADINGS: dict[str, str] = {
    spelling: name for name, others in _CASE_PARTS.items() for spelling in (name.lower(), *others)
}
CASE_PARTS = frozenset(_CASE_PARTS)
# Section names that hold the patient's own story.
NARRATIVE_SECTIONS = frozenset({"Case report", "Body", *CASE_PARTS})

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


def _heading_key(text: str) -> str:
    return " ".join(text.lower().replace(":", " ").split())


def canonical_heading(text: str) -> str | None:
    """The canonical section name for a heading's text, or None."""
    return HEADINGS.get(_heading_key(text))


# Numbering before a heading on a line of its own ("2. ", "IV ").
HEADING_NUMBER = re.compile(r"\s{0,8}+(?:\d{1,2}|[IVX]{1,4})\.?\s{1,8}+")


def case_part_heading(line: str) -> tuple[str, int] | None:
    """(canonical name, end of the heading in `line`) when `line` opens, after any numbering, with the
    heading of a part of the patient's narrative: the whole line ("Physical Examination", "2. HISTORY
    OF PRESENT ILLNESS") or the words before its colon ("HPI: 45-year-old man ..."); else None."""
    num = HEADING_NUMBER.match(line, 0, 16)
    at = num.end() if num else len(line[:16]) - len(line[:16].lstrip())
    rest = line[at:at + 200]
    if not rest[:1].isupper():
        return None
    colon = rest.find(":", 0, 42)
    head = rest[:colon] if colon > 0 else rest
    if len(head) > 40:
        return None
    name = CASE_PART_HEADINGS.get(_heading_key(head))
    if name is None:
        return None
    return name, at + (colon + 1 if colon > 0 else len(rest.rstrip()))


def caption_name(match: re.Match) -> str:
    kind = "Table" if match.group("kind").lower().startswith("tab") else "Figure"
    return f"{kind} {match.group('num')}"
