"""Repair misspelt question words against the words the index holds ("kidny" -> "kidney",
"wat did the chest xray sho" -> "what did the chest x ray show").

A question word is looked at only when the index does not hold its stem and it is not an everyday
English word (Zipf frequency < 4). Then:
1. one edit from a question framing word ("wat", "sho") -> that word;
2. the closest known English word (wordfreq's list: a word whose stem the index holds, or a common
   word, Zipf >= 3) within Damerau-Levenshtein distance 1 (2 for words of 7+ letters); the index's
   words first, then the most frequent;
3. a run-together pair: a letter or known word, then a known word ("xray" -> "x ray"); tried first.
Lookups use the symmetric-delete scheme (SymSpell): every dictionary word is stored under itself
and its one-letter deletions; a word's own deletions (up to two) find its neighbours.
"""
from __future__ import annotations

import re
import threading
from typing import Callable

import Stemmer

from ..text.tokenize import QUESTION_STOP_WORDS, stem
from ..clinical.rarity import zipf

DICTIONARY_WORDS = 200_000  # wordfreq's most frequent English words considered
EVERYDAY_ZIPF = 4.0
COMMON_ZIPF = 3.0
_stemmer = Stemmer.Stemmer("english")  # batch stemming for the dictionary (analysis.stem per word)
_WORD = re.compile(r"[A-Za-z]+")


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
    def __init__(self, has_stem: Callable[[str], bool], dictionary_words: int = DICTIONARY_WORDS):
        self.has_stem = has_stem
        self.dictionary_words = dictionary_words
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

    def _known(self, word: str) -> bool:
        return self.has_stem(stem(word)) or zipf(word) >= COMMON_ZIPF

    def suggest(self, word: str) -> str | None:
        """A replacement for a lower-case word the index lacks, or None."""
        if len(word) < 3 or word in QUESTION_STOP_WORDS or self.has_stem(stem(word)) or zipf(word) >= EVERYDAY_ZIPF:
            return None
        if len(word) <= 5:
            framing = [w for w in self._framing if abs(len(w) - len(word)) <= 1 and distance(word, w) == 1]
            if framing:
                return max(framing, key=lambda w: (w[0] == word[0], zipf(w)))
        for i in range(1, len(word) - 2):
            left, right = word[:i], word[i:]
            if (len(left) == 1 or (len(left) >= 3 and self._known(left))) and self._known(right):
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
            if low in fixes:
                return fixes[low]
            fix = self.suggest(low)
            if fix is None or fix == low:
                return word
            fixes[low] = fix
            return fix

        return _WORD.sub(repl, question), fixes
