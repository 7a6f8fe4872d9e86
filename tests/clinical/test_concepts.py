"""concepts: the order-free matcher over the compiled vocabulary (HPO, lay terms, abbreviations)."""
from __future__ import annotations


def test_order_free_matching(matcher):
    enlarged_heart = "HP:0001640"  # Cardiomegaly
    assert enlarged_heart in matcher.ids("Chest radiograph: enlarged heart.")
    assert enlarged_heart in matcher.ids("The heart was enlarged.")
    assert enlarged_heart not in matcher.ids("The liver was enlarged.")


def test_roots_and_lay_terms(matcher):
    ids = matcher.ids("hepatomegaly and kidney failure")
    assert "HP:0002240" in ids  # Hepatomegaly, from the word itself
    assert "LAY:kidney" in ids
    assert matcher.label("HP:0002240") == "FINDING"


def test_mentions_name_the_matched_stems(matcher):
    mentions = dict(matcher.mentions("fluid around the lung"))
    assert "LAY:fluid around the lung" in mentions
    assert {"fluid", "lung"} <= mentions["LAY:fluid around the lung"]


def test_no_concept_in_plain_words(matcher):
    assert matcher.ids("The weather was mild on Tuesday.") == []
