"""The analysed question: its terms, concepts, weights and expected answer type."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

from ..text.tokenize import query_terms, query_words, stem
from ..clinical.rarity import rarity
from .question import QuestionAnalysis, analyze_question
from .spelling import spelling_variants

Mentions = list[tuple[str, frozenset[str]]]

# The query weight of the most everyday word relative to a rare one is a retrieval parameter
# (BM25 query side), not a ranking weight: the ranker sees coverage and rarity as features.
COMMON_WORD_WEIGHT = 0.5


@dataclass
class Query:
    text: str  # the question as analysed (misspellings corrected)
    terms: list[str]  # content stems, in order, with repeats
    words: list[str]  # distinct content stems
    analysis: QuestionAnalysis
    mentions: Mentions  # (concept id, the question stems it stands for)
    rarities: dict[str, float]  # stem -> general-English rarity of the word as asked (0..1)
    weights: dict[str, float] = field(default_factory=dict)  # BM25 query term -> weight
    alternatives: dict[str, list[str]] = field(default_factory=dict)  # stem -> concept ids standing for it
    strict_alternatives: dict[str, list[str]] = field(default_factory=dict)  # ... without broad families
    corrected: dict[str, str] = field(default_factory=dict)  # misspelt word -> correction used
    surface: dict[str, str] = field(default_factory=dict)  # stem -> the word as asked
    variants: dict[str, list[str]] = field(default_factory=dict)  # stem -> its other spellings' stems

    def forms(self, t: str) -> list[str]:
        """The index terms that spell question word `t`: its stem and its British/American other."""
        return [t, *self.variants.get(t, ())]


def analyse(question: str, expand: Callable[[str], Mentions] | None = None,
            concept_weight: float = 0.5, correct: Callable[[str], tuple[str, dict[str, str]]] | None = None) -> Query:
    """Analyse a question; `correct` (optional) repairs misspelt words first."""
    corrected: dict[str, str] = {}
    text = question
    if correct is not None:
        text, corrected = correct(question)
    terms = query_terms(text)
    analysis = analyze_question(text, terms)
    if corrected and analysis.yes_no and not analyze_question(question, terms).yes_no:
        # A repair must not make a yes/no question of an open one ("wat did ..." read as "was did ...").
        analysis = replace(analysis, yes_no=False)
    mentions = expand(text) if expand else []
    surface = query_words(text)
    words = list(dict.fromkeys(terms))
    rarities = {t: rarity(surface.get(t, t)) for t in words}
    weights = {t: n * (COMMON_WORD_WEIGHT + (1 - COMMON_WORD_WEIGHT) * rarities[t]) for t, n in Counter(terms).items()}
    # "anaemia" finds "anemia": the other spelling is the same word (weighted as asked).
    variants = {t: vs for t in words if (vs := [v for v in dict.fromkeys(stem(w) for w in spelling_variants(surface.get(t, t)))
                                               if v != t])}
    for t, vs in variants.items():
        for v in vs:
            weights[v] = max(weights.get(v, 0.0), weights[t])
    for cid, _ in mentions:
        weights[cid] = max(weights.get(cid, 0.0), concept_weight)
    alternatives = {t: [cid for cid, stems in mentions if t in stems] for t in words}
    strict = {t: [c for c in alts if not c.startswith("FAMILY:")] for t, alts in alternatives.items()}
    return Query(text, terms, words, analysis, mentions, rarities, weights, alternatives, strict, corrected, surface, variants)
