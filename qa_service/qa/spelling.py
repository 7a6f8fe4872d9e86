"""Repair misspelt question words against the words the index holds ("kidny" -> "kidney",
"wat did the chest xray sho" -> "what did the chest x ray show").

A question word is looked at only when the index does not hold its stem, it is not an everyday
English word (Zipf frequency < 4), and it is written in lower case (an acronym or a name --
"HAdV", "CoV", "Liew" -- is nobody's typo; the question's first word may be capitalised). Then:
1. its other spelling -- British or American ("anaemic" / "anemic", "titre" / "titer",
   "stabilise" / "stabilize", "tumour" / "tumor") -- when the index holds that one;
2. one edit from a question framing word ("wat", "sho") -> that word;
3. a run-together pair: a compound the index writes with a hyphen ("xray" -> "x ray" where the
   reports say "x-ray"), or, for a word English does not know (Zipf < 1), two words of the index;
4. for a word English does not know (Zipf < 1: "kidny", "recombiant"), the closest known English
   word (wordfreq's list: a word whose stem the index holds, or a common word, Zipf >= 3) within
   Damerau-Levenshtein distance 1 (2 for words of 7+ letters); the index's words first, then the
   most frequent.
Rules 3 and 4 are for words English does not know: a real word the report lacks ("lump", "stoma",
"warfarin", "murine") is a word the report lacks, not a typo of one it has ("l ump", "stroma",
"warfare", "m urine" -- what a looser rule did to 1 in 4 COVID-QA questions).
Lookups use the symmetric-delete scheme (SymSpell): every dictionary word is stored under itself
and its one-letter deletions; a word's own deletions (up to two) find its neighbours.
"""
from __future__ import annotations

import re
import threading
from typing import Callable, Iterable

import Stemmer

from ..text.tokenize import QUESTION_STOP_WORDS, stem
from ..clinical.rarity import zipf

DICTIONARY_WORDS = 200_000  # wordfreq's most frequent English words considered
EVERYDAY_ZIPF = 4.0
COMMON_ZIPF = 3.0
UNKNOWN_ZIPF = 1.0  # below: a word English does not know (wordfreq's list reaches ~zipf 1)
_stemmer = Stemmer.Stemmer("english")  # batch stemming for the dictionary (analysis.stem per word)
_WORD = re.compile(r"[A-Za-z]+")
_HYPHENATED = re.compile(r"\b([a-z]+)-([a-z]+)\b")
# British -> American and back, one rule at a time: (pattern, replacement). "ae"/"oe" inside a
# stem, never in an ending ("haemoglobin", "oedema", "petechiae" stays).
_SUFFIX_OUR = r"(?=$|s$|ed$|ing$|able$|al$|ite$)"
_SPELLINGS = tuple((re.compile(a), b) for a, b in (
    ("ae(?=[a-z])", "e"), ("oe(?=[a-z])", "e"), ("our" + _SUFFIX_OUR, "or"), ("(?<=[^aeiou])re(s?)$", r"er\1"),
    ("is(e|es|ed|ing|ation|ations)$", r"iz\1"), ("ys(e|es|ed|ing)$", r"yz\1"), ("ogue(s?)$", r"og\1"),
    ("ell(ed|ing)$", r"el\1"),
    ("(?<=[^aeiou])e(?=[^aeiou][a-z]{2})", "ae"), ("(?<=[^aeiou])e(?=[^aeiou][a-z]{2})", "oe"), ("^e(?=[ds][a-z]{2})", "oe"),
    ("(?<=[^aeiou])or" + _SUFFIX_OUR, "our"), ("(?<=[^aeiou])er(s?)$", r"re\1"),
    ("iz(e|es|ed|ing|ation|ations)$", r"is\1"), ("yz(e|es|ed|ing)$", r"ys\1"), ("el(ed|ing)$", r"ell\1")))


def spelling_variants(word: str) -> list[str]:
    """The word (5+ letters) with one British/American spelling rule applied, each rule at each place."""
    if len(word) < 5:
        return []
    out = []
    for pat, rep in _SPELLINGS:
        for m in pat.finditer(word):
            out.append(word[:m.start()] + m.expand(rep) + word[m.end():])
    return [w for w in dict.fromkeys(out) if w != word]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


class SpellingCorrector:
    """`texts` (optional) yields the index's texts, read once for the compounds it hyphenates."""

    def __init__(self, has_stem: Callable[[str], bool], dictionary_words: int = DICTIONARY_WORDS,
                 texts: Callable[[], Iterable[str]] | None = None):
        self.has_stem = has_stem
        self.dictionary_words = dictionary_words
        self.texts = texts
        self.compounds_: dict[str, str] | None = None  # "xray" -> "x ray", built on first use
        self._framing = [w for w in QUESTION_STOP_WORDS if len(w) >= 3 and w.isalpha()]
        self._lock = threading.Lock()
        self.deletes_: dict[str, list[str]] | None = None  # built on first use

    def _build(self) -> dict[str, list[str]]:
        from wordfreq import top_n_list

        table: dict[str, list[str]] = {}
        words = [w for w in top_n_list("en", self.dictionary_words) if len(w) >= 3 and w.isalpha() and w.isascii()]
        for w, st in zip(words, _stemmer.stemWords(words)):
            # words of the index, and common English words (a lay word the concepts map: "kidney")
            if not self.has_stem(st) and zipf(w) < COMMON_ZIPF:
                continue
            for key in {w} | _deletes(w):
                table.setdefault(key, []).append(w)
        return table

    def _table(self) -> dict[str, list[str]]:
        if self.deletes_ is None:
            with self._lock:
                if self.deletes_ is None:
                    self.deletes_ = self._build()
        return self.deletes_

    def _compounds(self) -> dict[str, str]:
        if self.compounds_ is None:
            found: dict[str, str] = {}
            for text in (self.texts() if self.texts is not None else ()):
                for m in _HYPHENATED.finditer(text.lower()):
                    found.setdefault(m.group(1) + m.group(2), f"{m.group(1)} {m.group(2)}")
            self.compounds_ = found
        return self.compounds_

    def suggest(self, word: str) -> str | None:
        """A replacement for a lower-case word the index lacks, or None."""
        if len(word) < 3 or word in QUESTION_STOP_WORDS or self.has_stem(stem(word)) or zipf(word) >= EVERYDAY_ZIPF:
            return None
        for other in spelling_variants(word):
            if self.has_stem(stem(other)):
                return other
        if len(word) <= 5:
            framing = [w for w in self._framing if abs(len(w) - len(word)) <= 1 and distance(word, w) == 1]
            if framing:
                return max(framing, key=lambda w: (w[0] == word[0], zipf(w)))
        compound = self._compounds().get(word)
        if compound is not None:
            return compound
        if zipf(word) >= UNKNOWN_ZIPF:
            return None
        for i in range(3, len(word) - 2):
            left, right = word[:i], word[i:]
            if self.has_stem(stem(left)) and self.has_stem(stem(right)):
                return f"{left} {right}"
        max_d = 2 if len(word) >= 7 else 1
        keys = {word} | _deletes(word)
        if max_d == 2:
            keys |= {d2 for d1 in _deletes(word) for d2 in _deletes(d1)}
        table = self._table()
        found = {w for k in keys for w in table.get(k, ())}
        # Closest first; then a word of the index; then one keeping the first letter (typos seldom
        # hit it); then the most frequent.
        scored = [(distance(word, w), not self.has_stem(stem(w)), w[0] != word[0], -zipf(w), w) for w in found]
        scored = [s for s in scored if s[0] <= max_d]
        return min(scored)[-1] if scored else None

    def __call__(self, question: str) -> tuple[str, dict[str, str]]:
        """The question with its misspelt words replaced, and what was replaced."""
        fixes: dict[str, str] = {}

        def repl(m: re.Match) -> str:
            word = m.group(0)
            low = word.lower()
            if word[1:] != low[1:] or (word[0] != low[0] and question[:m.start()].strip()):
                return word  # an acronym or a name
            if low in fixes:
                return fixes[low]
            fix = self.suggest(low)
            if fix is None or fix == low:
                return word
            fixes[low] = fix
            return fix

        return _WORD.sub(repl, question), fixes
