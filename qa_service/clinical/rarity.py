"""Known English words, from wordfreq's frequency lists, for repairing words hyphenated across lines."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=100_000)
def zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_word(token: str) -> bool:
    """A word in its own right (Zipf frequency >= 2: a few per hundred million words)."""
    return zipf(token.lower()) >= 2.0


def rarity(word: str) -> float:
    """How specific a word is: 0 for everyday words (Zipf >= 5.5) up to 1 for rare ones (Zipf <= 2.5).
    Tells a missing clinical term ("colonoscopy") from a missing lay word ("already")."""
    return max(0.0, min(1.0, (5.5 - zipf(word.lower())) / 3.0))
