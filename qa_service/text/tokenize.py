"""Text analysis shared by indexing and querying: tokens, stems, question stop words."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

_TOKEN = re.compile(r"[a-z0-9]+")
_stemmer = Stemmer.Stemmer("english")

# Function words: ignored when matching vocabulary concepts (clinical.concepts).
FUNCTION_WORDS = frozenset(
    """a an the and or of in on at to for from by with without into onto via as per is are was were be been
    being this that these those its his her their it he she they which who whom what when where how not no
    any some all both either""".split()
)

# Words of a question that say how it is asked, not what it is about. Removed from the query only:
# measured on the dev sets, removing stop words from the documents cost recall.
QUESTION_STOP_WORDS = frozenset(
    """a an the and or of in on at to for from by with about as into than then there this that these those
    what which who whom whose when where why how is are was were be been being do does did done have has had
    having can could would should may might must shall will it its it's he she his her hers him they them their
    we our us you your i me my any some anything something all was were get got s t also much many
    patient patients case report reported according
    show shows showed shown reveal revealed demonstrate demonstrated find found see seen note noted
    around near within during after before whether finding findings""".split()
)


def fold(text: str) -> str:
    """Lowercase and strip accents, so "México" and "Mexico" analyse alike."""
    if text.isascii():  # nothing to decompose or strip (the common case; same result, ~20x faster)
        return text.lower()
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


# Snowball strips "-itis" ("hepatitis" -> "hepat" = "hepatic"): inflammation words keep their suffix,
# so an organ is not confused with its inflammation. Plural "-itides" folds to "-itis".
_ITIS = re.compile(r"(?:itis|itides)$")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    if _ITIS.search(word) and len(word) > 6:
        return _ITIS.sub("itis", word)
    return _stemmer.stemWord(word)


def tokens(text: str) -> list[str]:
    """Lowercased, accent-folded word and number tokens."""
    return _TOKEN.findall(fold(text))


def terms(text: str) -> list[str]:
    """Stemmed tokens: the index's terms."""
    return [stem(t) for t in tokens(text)]


def query_terms(text: str) -> list[str]:
    """Stemmed content tokens of a question, without question stop words."""
    return [stem(t) for t in tokens(text) if t not in QUESTION_STOP_WORDS]


def query_words(text: str) -> dict[str, str]:
    """Stem -> the word as asked, for a question's content words."""
    return {stem(t): t for t in tokens(text) if t not in QUESTION_STOP_WORDS}


def normalize_for_match(text: str) -> str:
    """The evaluation's normalization: lowercase, keep only [a-z0-9]."""
    return re.sub(r"[^a-z0-9]", "", text.lower())
