"""Question analysis: the expected answer type, and which sentences hold an answer of that type."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from .cases import CaseReference, case_reference

_NUM_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|several|few|a few|many)"
_NUM = rf"(?:\d+(?:[.,]\d+)?|{_NUM_WORD})"
_TIME_UNIT = r"(?:second|sec|minute|min|hour|hr|h|day|week|wk|month|mo|year|yr)s?"

# What kind of text answers each type.
TYPE_EVIDENCE: dict[str, re.Pattern] = {
    "age": re.compile(rf"\b{_NUM}[- ](?:year|yr|month|week|day)s?[- ]old\b|\baged?\s+\d{{1,3}}\b|\b\d{{1,3}}\s*(?:years?|yrs?)\s+of\s+age\b|\b\d{{1,3}}\s*(?:yo|y/o)\b|\bin (?:his|her|their) (?:teens|twenties|thirties|forties|fifties|sixties|seventies|eighties)\b", re.I),
    "duration": re.compile(rf"\b{_NUM}(?:\s*(?:-|–|to|or)\s*{_NUM})?\s*{_TIME_UNIT}\b|\b(?:day|week|month|year)\s+\d+\b|\bsince\b|\bafter\b|\bwithin\b|\blater\b", re.I),
    "date": re.compile(r"\b(?:19|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d|\bday\s+\d+\b|\b\d+(?:st|nd|rd|th)\s+day\b|\bon admission\b|\bdischarged\b", re.I),
    "dose": re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|μg|ug|g|gr|ml|mL|l|iu|IU|units?|micrograms?|milligrams?|grams?|mmol|meq|mEq|%)(?:\s*/\s*(?:kg|day|d|m2|h|hr|min|dose))*\b|\b(?:once|twice|three times)\s+(?:a\s+)?(?:day|daily|weekly)\b|\b(?:daily|bid|tid|qid|b\.i\.d|t\.i\.d)\b", re.I),
    "measurement": re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:%|mg/dl|g/dl|g/l|mmol/l|µmol/l|umol/l|iu/l|u/l|mu/l|miu/l|ng/ml|ng/dl|pg/ml|mmhg|mm\s*hg|bpm|/min|beats|cm|mm|kg|°\s*[cf]?|℃|msec|ms|x\s*10|/mm|/µl|/ul|meq/l|units?)|\b\d+(?:[.,]\d+)?\s*[×x]\s*\d+(?:[.,]\d+)?\b|\b(?:elevated|raised|high|low|decreased|increased|normal|within normal limits)\b", re.I),
    "count": re.compile(rf"\b{_NUM}\s+[a-z]+s\b|\b\d+\b", re.I),
    "finding": re.compile(r"\b(?:show|reveal|demonstrat|confirm|disclos|found|identif|detect|noted|observ|positive|negative|normal|abnormal|consistent with|suggestive of|evidence of|compatible with)\w*", re.I),
    "diagnosis": re.compile(r"\b(?:diagnos\w*|consistent with|suggestive of|compatible with|confirmed|syndrome|disease)\b", re.I),
    "treatment": re.compile(r"\b(?:treat\w*|therap\w*|given|administ\w*|started|prescrib\w*|received|underwent|managed|surgery|surgical|resect\w*|excision|dose|mg|infusion|dialysis|transfus\w*)\b", re.I),
    "cause": re.compile(r"\b(?:because|due to|caused|owing to|secondary to|based on|on the basis of|in view of|given the|result(?:ed|ing)? (?:from|in)|associated with|attributed|led to|leading to|suspect\w*|induced)\b", re.I),
    "outcome": re.compile(r"\b(?:discharg\w*|recover\w*|improv\w*|resolv\w*|follow[- ]?up|died|death|surviv\w*|remission|recurrence|well|uneventful\w*|outcome)\b", re.I),
    "location": re.compile(r"\b(?:in|on|at|around|over|of)\s+(?:the\s+)?(?:left|right|both|upper|lower|proximal|distal|anterior|posterior)?\s*[a-z]+", re.I),
}

# Question patterns, first match wins; each yields the expected answer type.
_QUESTION_TYPES: list[tuple[str, re.Pattern]] = [
    ("age", re.compile(r"\bhow old\b|\bwhat(?:'s| is| was)? (?:the |his |her |their )?age\b|\bat what age\b|\bage (?:of|at)\b|\baged\b", re.I)),
    ("dose", re.compile(r"\b(?:what|which) (?:\w+ ){0,3}(?:dose|doses|dosage|dosing)\b|\bhow much\b.*\b(?:given|take|dose|drug|medic)|\bat what (?:rate|dose)\b|\bdose\b", re.I)),
    ("duration", re.compile(r"\bhow long\b|\bfor how many\b|\bhow (?:quickly|soon|fast)\b|\bhow many (?:days|weeks|months|years|hours)\b|\bsince when\b|\bduration\b", re.I)),
    ("date", re.compile(r"^\s*when\b|\bwhat (?:day|date|time|year|month)\b|\bon which day\b|\bwhen (?:was|were|did|is)\b", re.I)),
    ("count", re.compile(r"\bhow many\b|\bnumber of\b", re.I)),
    ("measurement", re.compile(r"\bhow (?:high|low|big|large|small|much|severe|fast|heavy|tall)\b|\bwhat (?:share|proportion|percentage|percent|fraction|ratio)\b|\b(?:level|levels|value|values|count|concentration|titer|titre|size|temperature|pressure|rate|weight|score|interval|result|results)\b(?!\s+(?:show|reveal|demonstrat))", re.I)),
    ("cause", re.compile(r"^\s*why\b|\bwhat caused\b|\bcause of\b|\bwhat (?:was|is) the (?:cause|reason|source|trigger|origin)\b|\breason\b|\bsource\b|\bwhat (?:grounds|basis) (?:was|were|is|are|did)\b|\bon what (?:grounds|basis)\b|\bbased on what\b|\bwhat made\b|\bwhich factors\b", re.I)),
    ("treatment", re.compile(r"\btreat(?:ed|ment|ments)?\b|\bmanag(?:ed|ement)\b|\btherap(?:y|ies)\b|\b(?:drug|drugs|medication|medications|medicine|medicines|antibiotic|antibiotics|steroid|steroids|tablet|tablets|pill|pills|injection|surgery|operation|procedure|resection)\b|\bgiven\b|\bprescribed\b|\bstarted on\b|\bput on\b", re.I)),
    ("diagnosis", re.compile(r"\bdiagnos\w*\b|\bwhat (?:disease|condition|illness|syndrome)\b|\bwhat did (?:she|he|they|the patient) have\b", re.I)),
    ("outcome", re.compile(r"\boutcome\b|\bfollow[- ]?up\b|\bprognosis\b|\brecover\w*\b|\bdischarg\w*\b|\bsent home\b|\bhow (?:was|is) (?:she|he|the patient) doing\b|\bsurviv\w*\b|\bdie[d]?\b", re.I)),
    ("findings", re.compile(r"\bwhat (?:[\w-]+ )?(?:symptoms|complaints|signs|illnesses|diseases|conditions|problems|features|manifestations|comorbidities)\b|\bwhich (?:\w+ )?(?:symptoms|signs|illnesses|conditions|features)\b|\bpresenting complaints?\b", re.I)),
    ("finding", re.compile(r"\bwhat did (?:the )?[\w\s-]{0,40}\b(?:show|reveal|demonstrate|find|detect|confirm|disclose)\b|\bwhat (?:was|were) (?:found|seen|noted|observed|detected)\b|\bfindings?\b|\bshow(?:ed|n)?\b|\breveal\w*\b|\bexamination\b|\bscan\b|\bbiopsy\b|\bimaging\b|\bpositive\b|\bnegative\b", re.I)),
    ("location", re.compile(r"^\s*where\b|\bwhich (?:areas?|sites?|parts?|regions?|organs?|joints?)\b|\bwhere on\b", re.I)),
    ("definition", re.compile(r"^\s*what (?:is|are)\s+(?:an?\s+)?[\w\s-]+\??$|\bdefin\w*\b|\bmeaning of\b", re.I)),
]

_YES_NO = re.compile(r"^\s*(?:is|are|was|were|did|does|do|had|has|have|can|could|will|would|should|may|might|any)\b", re.I)
_PATIENT = re.compile(r"\b(?:she|he|her|his|him|they|the patient|this patient|the woman|the man|the boy|the girl|the child|the baby|the infant)\b", re.I)
# Questions about the disease in general rather than about this patient.
_GENERAL = re.compile(r"^\s*(?:what (?:is|are) (?:an? )?(?!(?:the|her|his|their)\b)|can\b|could\b|is \w+ (?:\w+ )?(?:common|rare|frequent)|how (?:common|rare|often|frequent)|which \w+ are (?:seen|typical|common))"
                      r"|\b(?:usually|typically|generally|commonly|in general|according to (?:the )?(?:discussion|literature|introduction|authors)|of all\b|what share|what proportion|what percentage|per the)\b", re.I)
_SECTION_WORDS = {"conclusion": "Conclusion", "conclusions": "Conclusion", "discussion": "Discussion",
                  "introduction": "Introduction", "background": "Introduction", "abstract": "Abstract",
                  "summary": "Abstract"}
# A sentence about this patient (past tense narrative, patient words) rather than general knowledge.
PATIENT_SENTENCE = re.compile(r"\b(?:she|he|her|his|him|our patient|the patient|this patient|patient was|was|were|had|showed|revealed|underwent|received|presented|admitted|developed)\b", re.I)
GENERAL_SENTENCE = re.compile(r"\b(?:may|can|is|are|typically|usually|often|commonly|generally|reported|described|cases)\b", re.I)
_ONLY_NORMAL = re.compile(r"\b(?:within normal limits|unremarkable|was normal|were normal|no abnormalit\w*)\b", re.I)
_DEFINITION_CUE = re.compile(r"^[^.;]{0,60}?\b(?:is|are)\s+(?:an?|the|one|defined|characteri[sz]ed|known|called|referred)\b", re.I)


@dataclass(frozen=True)
class QuestionAnalysis:
    answer_type: str  # one of the keys of TYPE_EVIDENCE, or "other"
    yes_no: bool
    about_patient: bool  # asks about this patient rather than the disease in general
    section: str | None = None  # a section the question names ("according to the discussion")
    terms: list[str] = field(default_factory=list)  # content terms (stems)
    case: CaseReference | None = None  # the patient of a case series it names ("the second patient")

    def to_dict(self) -> dict:
        return asdict(self)


def analyze_question(question: str, terms: list[str]) -> QuestionAnalysis:
    answer_type = next((t for t, pat in _QUESTION_TYPES if pat.search(question)), "other")
    return QuestionAnalysis(
        answer_type=answer_type,
        yes_no=bool(_YES_NO.match(question)),
        about_patient=bool(_PATIENT.search(question)) or not _GENERAL.search(question),
        section=next((name for w, name in _SECTION_WORDS.items() if re.search(rf"\b{w}\b", question, re.I)), None),
        terms=terms,
        case=case_reference(question),
    )


def only_normal(sentence: str, labels: Counter | None = None) -> bool:
    """The sentence reports only normal results ("the rest of the examination was within normal
    limits"): no finding, whatever a "what was found" question's words it shares."""
    return not (labels or Counter())["FINDING"] and bool(_ONLY_NORMAL.search(sentence))


def holds_type(answer_type: str, sentence: str, labels: Counter | None = None) -> bool:
    """Whether a sentence holds text of the expected answer type (`labels`: how many concepts of
    each entity label it mentions, e.g. {"FINDING": 2, "DRUG": 1})."""
    labels = labels or Counter()
    n_findings = labels["FINDING"]
    if answer_type == "definition":
        return bool(_DEFINITION_CUE.search(sentence))
    if answer_type == "findings":
        return n_findings >= 2
    if answer_type == "treatment" and (labels["DRUG"] or labels["PROCEDURE"]):
        return True  # a named drug or procedure answers "how was she treated?"
    if answer_type == "date":  # "when" is answered by a date or a relative time ("6 years previously")
        return bool(TYPE_EVIDENCE["date"].search(sentence) or TYPE_EVIDENCE["duration"].search(sentence))
    pat = TYPE_EVIDENCE.get(answer_type)
    return bool(pat and pat.search(sentence))
