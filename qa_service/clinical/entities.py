"""Clinical entities with spaCy: the model's tokenizer and sentence-level ConText rules on top of the
vocabulary's concept matcher (HPO findings, drugs, tests, anatomy, abbreviations).

Each entity says whether it is negated ("no evidence of pleural effusion"), hypothetical ("to rule
out sepsis") or historical ("history of asthma"). Abbreviations defined in a text
("systemic lupus erythematosus (SLE)") are found with the Schwartz–Hearst rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .concepts import ConceptMatcher
from ..domain import Entity
from ..text.passages import sentence_spans

# ConText trigger phrases (lowercase), after Chapman et al.'s NegEx/ConText lexicons.
_NEG_BEFORE = ["no", "not", "without", "denied", "denies", "deny", "negative for", "no evidence of", "no sign of",
               "no signs of", "absence of", "absent", "free of", "ruled out", "rule out of", "never", "nor",
               "neither", "lack of", "lacked", "no history of", "did not have", "did not show", "did not reveal",
               "was not", "were not", "unremarkable for", "resolution of", "resolved", "n't"]
_NEG_AFTER = ["was negative", "were negative", "was absent", "were absent", "was ruled out", "were ruled out",
              "not found", "was not found", "were not found", "was not seen", "were not seen", "not detected",
              "was not detected", "were not detected", "unlikely", "was excluded", "were excluded", "resolved"]
_HYPOTHETICAL = ["if", "should", "may", "might", "could", "risk of", "to rule out", "rule out", "suspected",
                 "suspicion of", "possible", "probable", "in case of", "would"]
_HISTORICAL = ["history of", "previous", "previously", "prior", "past", "former", "had been", "years ago",
               "known"]
_TERMINATORS = {"but", "however", "although", "though", "except", "yet", "which", "whereas", "while",
                "apart", "aside", "because", ";", ":"}
_WINDOW = 6  # tokens a trigger reaches
# Tokens of a list that do not use up the window: "no rash, fever, chills or night sweats".
_LIST_GLUE = {",", "or", "nor"}


def _by_word(phrases: list[str], last: bool) -> dict[str, list[list[str]]]:
    """Trigger phrases as word lists keyed by their last (or first) word, so a token is checked
    against the few phrases it can end (or start), not the whole lexicon."""
    out: dict[str, list[list[str]]] = {}
    for p in phrases:
        words = p.split()
        out.setdefault(words[-1] if last else words[0], []).append(words)
    return out


_NEG_BEFORE_IDX = _by_word(_NEG_BEFORE, last=True)
_NEG_AFTER_IDX = _by_word(_NEG_AFTER, last=False)
_HYPOTHETICAL_IDX = _by_word(_HYPOTHETICAL, last=True)
_HISTORICAL_IDX = _by_word(_HISTORICAL, last=True)

_LABEL_PRIORITY = {"HP": 0, "ABBR": 1, "DOC": 1, "LAY": 2, "FAMILY": 3}


@dataclass(frozen=True)
class Abbreviation:
    short: str
    long: str
    start: int  # of the short form's first definition


def find_abbreviations(text: str) -> list[Abbreviation]:
    """Schwartz–Hearst: "long form (SF)" where SF's characters appear in order in the long form,
    its first letter starting a word."""
    out: dict[str, Abbreviation] = {}
    for m in re.finditer(r"\(\s*([A-Za-z][A-Za-z0-9\-]{1,9})\s*\)", text):
        short = m.group(1)
        if not any(c.isupper() for c in short) or short.lower() in {"or", "and", "fig"}:
            continue
        words = re.findall(r"[\w\-']+", text[max(0, m.start() - 120):m.start()])
        limit = min(len(short) + 5, len(short) * 2)
        candidate = words[-limit:]
        long = _match_long_form(short, " ".join(candidate))
        if long and short not in out:
            out[short] = Abbreviation(short, long, m.start())
    return list(out.values())


def _match_long_form(short: str, candidate: str) -> str | None:
    s = [c.lower() for c in short if c.isalnum()]
    lf = candidate
    si, li = len(s) - 1, len(lf) - 1
    while si >= 0:
        c = s[si]
        while li >= 0 and (lf[li].lower() != c or (si == 0 and li > 0 and lf[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return None
        li -= 1
        si -= 1
    start = lf.rfind(" ", 0, li + 1) + 1
    long = lf[start:].strip()
    return long if len(long) > len(short) else None


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    # spaCy's English rules alone: the same tokens as en_core_web_sm's tokenizer (measured: 169,556
    # tokens of the 54 shipped and scraped reports, all identical) without a model package.
    return spacy.blank("en").tokenizer


class ClinicalNLP:
    """Entities with assertion status, for answers, questions and whole documents."""

    def __init__(self, matcher: ConceptMatcher):
        self.matcher = matcher

    @property
    def tokenizer(self):
        """spaCy's tokenizer, loaded on first use so start-up does not wait for it."""
        return _tokenizer()

    def entities(self, text: str) -> list[Entity]:
        out: list[Entity] = []
        spans = sentence_spans(text, 0, len(text)) or [(0, len(text))]
        for s, e in spans:
            out.extend(self._sentence_entities(text, s, e))
        return self._resolve_abbreviations(text, out)

    def _resolve_abbreviations(self, text: str, entities: list[Entity]) -> list[Entity]:
        """Uses of an abbreviation the text defines take the concept of its long form."""
        added = []
        taken = [(e.start, e.end) for e in entities]
        for ab in find_abbreviations(text):
            # The long form's head (its last word, before a "type 1") must be the entity: "DM protein
            # kinase gene (DMPK)" is a gene, not the finding "DM".
            head_end = len(re.sub(r"\s+type\s+[0-9ivx]+$", "", ab.long, flags=re.I))
            long_ents = [e for e in self._sentence_entities(ab.long, 0, len(ab.long)) if e.end >= head_end]
            if not long_ents:
                continue
            best = max(long_ents, key=lambda e: e.end - e.start)
            for m in re.finditer(rf"(?<![A-Za-z0-9]){re.escape(ab.short)}(?![A-Za-z0-9])", text):
                if any(m.start() < te and ts < m.end() for ts, te in taken):
                    continue
                added.append(Entity(ab.short, best.label, m.start(), m.end(), False, "present", best.concept))
        if not added:
            return entities
        # Assertion of an added mention follows the sentence it sits in.
        return sorted(entities + [self._with_assertion(text, e) for e in added], key=lambda e: e.start)

    def _with_assertion(self, text: str, ent: Entity) -> Entity:
        for s, e in sentence_spans(text, 0, len(text)):
            if s <= ent.start < e:
                doc = self.tokenizer(text[s:e])
                toks = [t.lower_ for t in doc if not t.is_space]
                pos = [t.idx + s for t in doc if not t.is_space]
                i = _token_index(pos, ent.start)
                a = _assertion(toks, i, _token_index(pos, ent.end - 1))
                return Entity(ent.text, ent.label, ent.start, ent.end, a == "absent", a, ent.concept)
        return ent

    def _sentence_entities(self, text: str, start: int, end: int) -> list[Entity]:
        doc = self.tokenizer(text[start:end])
        words = [(t.lower_, t.idx + start, t.idx + start + len(t.text), t.text) for t in doc if not t.is_space]
        # Roots and suffixes ("colo-", "-itis") help retrieval; as entities they mislabel ("colonoscopy"),
        # except drug-name suffixes, which are how unlisted drugs are recognised. Words keep their case:
        # "US" is an ultrasound, "us" is not.
        alnum = [w for w in words if re.match(r"[a-z0-9]", w[0])]
        found = self.matcher.find(alnum, roots=False)
        found += [m for m in self.matcher.find(alnum) if self.matcher.concepts.get(m[2]) is not None
                  and self.matcher.concepts[m[2]].label == "DRUG"]
        chosen = _resolve(found, self.matcher)
        lowered = [w[0] for w in words]
        positions = [w[1] for w in words]
        entities = []
        for s, e, cid in chosen:
            info = self.matcher.concepts.get(cid)
            # Broad families ("treatment", "scan") are retrieval aids, not entities; drug-name suffixes are.
            if info is None or info.label == "CONTEXT" or (cid.startswith("FAMILY:") and info.label != "DRUG"):
                continue
            i = _token_index(positions, s)
            j = _token_index(positions, e - 1)
            assertion = _assertion(lowered, i, j)
            entities.append(Entity(text[s:e], info.label, s, e, assertion == "absent", assertion,
                                   cid if not cid.startswith(("LAY:", "FAMILY:")) else None))
        return entities


def _token_index(positions: list[int], char: int) -> int:
    lo = 0
    for k, p in enumerate(positions):
        if p <= char:
            lo = k
        else:
            break
    return lo


def _resolve(found: list[tuple[int, int, str]], matcher: ConceptMatcher) -> list[tuple[int, int, str]]:
    """One concept per span, longest spans first, no overlaps."""
    best: dict[tuple[int, int], str] = {}
    for s, e, cid in found:
        key = (s, e)
        prio = _LABEL_PRIORITY.get(cid.split(":", 1)[0], 9)
        if key not in best or prio < _LABEL_PRIORITY.get(best[key].split(":", 1)[0], 9):
            best[key] = cid
    out: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for (s, e), cid in sorted(best.items(), key=lambda kv: (-(kv[0][1] - kv[0][0]), kv[0][0])):
        if any(s < te and ts < e for ts, te in taken):
            continue
        taken.append((s, e))
        out.append((s, e, cid))
    return sorted(out)


def _phrase_before(tokens: list[str], i: int, phrases: dict[str, list[list[str]]]) -> bool:
    """A trigger phrase (keyed by its last word) ends within _WINDOW tokens before token i (list
    commas and "or" not counted), with no terminator between."""
    k, used = i - 1, 0
    while k >= 0 and used < _WINDOW:
        if tokens[k] in _TERMINATORS or tokens[k] == ".":
            return False
        for words in phrases.get(tokens[k], ()):
            n = len(words)
            if k - n + 1 >= 0 and tokens[k - n + 1:k + 1] == words:
                return True
        used += tokens[k] not in _LIST_GLUE
        k -= 1
    return False


def _phrase_after(tokens: list[str], j: int, phrases: dict[str, list[list[str]]]) -> bool:
    """A trigger phrase (keyed by its first word) starts within _WINDOW tokens after token j."""
    hi = min(len(tokens), j + 1 + _WINDOW)
    for k in range(j + 1, hi):
        if tokens[k] in _TERMINATORS:
            return False
        for words in phrases.get(tokens[k], ()):
            if tokens[k:k + len(words)] == words:
                return True
    return False


def assertion(tokens: list[str], i: int, j: int) -> str:
    """ConText status of tokens[i..j] (lowercased tokens of one sentence): present, absent,
    hypothetical or historical. Public for the answering layer's yes/no verdicts."""
    return _assertion(tokens, i, j)


def _assertion(tokens: list[str], i: int, j: int) -> str:
    if _phrase_before(tokens, i, _NEG_BEFORE_IDX) or _phrase_after(tokens, j, _NEG_AFTER_IDX):
        return "absent"
    if _phrase_before(tokens, i, _HYPOTHETICAL_IDX):
        return "hypothetical"
    if _phrase_before(tokens, i, _HISTORICAL_IDX):
        return "historical"
    return "present"
