"""The questions written for training over E3C case texts hold what their README promises."""
import json
from collections import Counter

import pytest

from evaluation import training as T
from qa_service.text.tokenize import normalize_for_match


pytestmark = pytest.mark.skipif(not T.E3C.exists(), reason="shared data not present")


def _cases(ids):
    with T.E3C.open(encoding="utf-8") as fh:
        return {r["id"]: r["text"] for r in map(json.loads, fh) if r["id"] in ids}


def test_evidence_is_verbatim_once_in_its_case():
    rows = T.read_jsonl(T.E3C_WRITTEN / "questions.jsonl")
    texts = _cases({r["doc"] for r in rows})
    for r in rows:
        text = texts[r["doc"]]
        for e in r["evidence"]:
            assert e in text, r["id"]
            assert normalize_for_match(text).count(normalize_for_match(e)) == 1, r["id"]
            assert 3 <= len(e.split()) <= 25, r["id"]


def test_eight_answerable_and_three_unanswerable_per_case_none_from_the_check_set():
    ans = Counter(r["doc"] for r in T.read_jsonl(T.E3C_WRITTEN / "questions.jsonl"))
    unans = Counter(r["doc"] for r in T.read_jsonl(T.E3C_WRITTEN / "unanswerable.jsonl"))
    assert set(ans) == set(unans) and len(ans) == 160
    assert set(ans.values()) == {8} and set(unans.values()) == {3}
    check = {r["doc"] for r in T.read_jsonl(T.ROOT / "evaluation" / "other_source" / "questions.jsonl")}
    assert not check & set(ans)  # the other-source set stays a check nothing is fitted on


def test_items_are_a_source_of_their_own(tmp_path):
    items = T.e3c_written_items(answerer=None)
    assert {it.source for it in items} == {T.E3C_SOURCE} and T.E3C_SOURCE not in T.CASE_SOURCES
    assert sum(not it.evidence for it in items) == 480
    corpus = T.e3c_written_corpus(tmp_path)
    assert len(corpus.read_text(encoding="utf-8").splitlines()) == 160
