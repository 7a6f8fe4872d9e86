"""How common a word is in general English (wordfreq), to tell a missing clinical term from a lay word."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=50_000)
def rarity(word: str) -> float:
    """0 for everyday words (Zipf >= 5.5) up to 1 for rare ones (Zipf <= 2.5)."""
    from wordfreq import zipf_frequency

    z = zipf_frequency(word, "en")
    return max(0.0, min(1.0, (5.5 - z) / 3.0))
