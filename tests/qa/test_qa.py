"""The answering stages: the listwise ranker and answerability estimators, spelling repair, one score
one order, debug features, and answers on the real index with the shipped fitted model."""
from __future__ import annotations

import numpy as np
import pytest

from qa_service.qa.answerability import ANSWERABILITY_FEATURES, AnswerabilityModel
from qa_service.qa.features import FEATURES
from qa_service.qa.ranker import ListwiseRanker
from qa_service.qa.spelling import SpellingCorrector, distance, spelling_variants


def _synthetic(n_questions=60, n_cands=20, d=4, seed=0):
    rng = np.random.default_rng(seed)
    true = np.array([2.0, -1.0, 0.0, 0.5])[:d]
    X, y = [], []
    for _ in range(n_questions):
        x = rng.normal(size=(n_cands, d))
        z = x @ true + rng.gumbel(size=n_cands)
        yy = np.zeros(n_cands, dtype=bool)
        yy[np.argmax(z)] = True
        X.append(x)
        y.append(yy)
    return X, y, true


def test_listwise_ranker_recovers_the_direction_of_the_true_weights():
    X, y, true = _synthetic()
    r = ListwiseRanker(alpha=0.1).fit(X, y, ["a", "b", "c", "d"])
    w = r.coef_ / r.scale_
    assert np.corrcoef(w, true)[0, 1] > 0.9
    p = r.predict_proba(X[0])
    assert p.sum() == pytest.approx(1.0)
    assert np.argmax(p) == np.argmax(r.decision_function(X[0]))


def test_listwise_ranker_follows_the_questions_that_weigh():
    Xa, ya, true = _synthetic(seed=2)
    Xb, yb = [-x for x in Xa], ya  # the same questions with every feature's sign flipped
    for wa, wb, direction in ((1.0, 0.0, true), (0.0, 1.0, -true)):
        r = ListwiseRanker(alpha=0.1).fit(Xa + Xb, ya + yb, sample_weight=[wa] * len(Xa) + [wb] * len(Xb))
        assert np.corrcoef(r.coef_ / r.scale_, direction)[0, 1] > 0.9


def test_ranker_round_trips_through_json_and_checks_feature_names():
    X, y, _ = _synthetic()
    r = ListwiseRanker().fit(X, y, ["a", "b", "c", "d"])
    again = ListwiseRanker.from_dict(r.to_dict())
    assert np.allclose(again.decision_function(X[1]), r.decision_function(X[1]))
    with pytest.raises(ValueError):
        ListwiseRanker.from_dict(r.to_dict(), features=["a", "b", "c", "x"])


def test_answerability_model_is_a_calibrated_logistic_and_round_trips():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, len(ANSWERABILITY_FEATURES)))
    y = (X[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    m = AnswerabilityModel(C=1.0, threshold=0.4).fit(X, y)
    p = m.predict_proba(X)
    assert ((p > 0.5) == y).mean() > 0.85
    again = AnswerabilityModel.from_dict(m.to_dict())
    assert np.allclose(again.predict_proba(X[:5]), p[:5]) and again.threshold == 0.4


def test_damerau_levenshtein_distance():
    assert distance("kidny", "kidney") == 1
    assert distance("teh", "the") == 1  # a transposition is one edit
    assert distance("abc", "abc") == 0
    assert distance("", "abc") == 3


def test_spelling_repairs_words_the_index_lacks_and_leaves_known_ones(index):
    texts = [d.text for d in index.docs] + ["A chest x-ray was taken."]  # the report itself has no x-ray
    fix = SpellingCorrector(lambda stem: stem in index.vocab, texts=lambda: texts)
    text, fixes = fix("Was the kidny biopsy done?")
    assert fixes == {"kidny": "kidney"} and "kidney biopsy" in text
    text, fixes = fix("wat did the chest xray sho?")
    assert fixes["xray"] == "x ray"  # a compound the index hyphenates
    assert "wat" in fixes and "sho" in fixes  # framing words, no longer read as missing terms
    assert fix("Which antibodies were positive?") == ("Which antibodies were positive?", {})
    assert SpellingCorrector(lambda stem: stem in index.vocab)("Did the xray help?")[1] == {}


def test_spelling_leaves_real_words_acronyms_and_names_alone(index):
    fix = SpellingCorrector(lambda stem: stem in index.vocab, texts=lambda: [d.text for d in index.docs])
    # Real English words the report lacks are not typos of words it has (once: "l ump", "stroma",
    # "warfare", "m urine", "s ting", "c alves").
    for q in ("Could they feel a lump?", "Was a stoma made?", "Was she on warfarin?", "Was a murine model used?",
              "Did the cream sting?", "Were her calves bulky?", "Which MERS strain and HAdV type?",
              "Did Dr Liew see her?"):
        assert fix(q) == (q, {}), q


def test_spelling_takes_the_other_spelling_the_index_holds(index):
    fix = SpellingCorrector(lambda stem: stem in index.vocab)
    assert fix("How big was the tumour?")[1] == {"tumour": "tumor"}  # the report says "tumor"
    assert spelling_variants("anaemia") == ["anemia"] and "titer" in spelling_variants("titre")
    assert "stabilize" in spelling_variants("stabilise") and "anaemia" in spelling_variants("anemia")


def test_a_spelling_repair_does_not_make_an_open_question_yes_no(answerer):
    from qa_service.qa.query import analyse

    def yes_no(question: str) -> bool:
        return analyse(question, answerer.expand, answerer.concept_weight, answerer.correct).analysis.yes_no

    assert not yes_no("wat did the skin xray sho?")  # "wat" may be repaired to "was"
    assert yes_no("Was the kidny biopsy done?") and yes_no("Did she have a fevr?")
    assert answerer.ask("wat did the chest xray sho?").verdict is None


def test_answers_come_in_the_order_of_their_scores(answerer):
    for q in ("What did the chest radiograph show?", "Which drugs was she treated with?", "How old was she?"):
        scores = [a.score for a in answerer.ask(q, top_k=5).answers]
        assert scores == sorted(scores, reverse=True), q


def test_debug_answers_carry_their_feature_values(answerer):
    res = answerer.ask("Which antibodies were positive?", top_k=2, debug=True)
    assert res.answers
    feats = res.answers[0].features
    assert set(FEATURES) <= set(feats) and "ranker_z" in feats
    assert "features" not in answerer.ask("Which antibodies were positive?", top_k=1).answers[0].to_dict()


@pytest.mark.parametrize("question, expected", [
    ("How old was the woman?", "year-old"),
    ("What did the biopsy of the kidney show?", "lupus nephritis"),
    ("Was the misspelt kidny biopsy diagnostic?", "lupus nephritis"),
])
def test_own_questions_are_answered_from_the_right_sentence(answerer, question, expected):
    res = answerer.ask(question, top_k=3)
    assert res.answers, res.message
    assert any(expected in a.text for a in res.answers)


def test_a_question_about_something_the_report_never_mentions_is_declined(answerer):
    res = answerer.ask("What was the result of the echocardiogram?")
    assert res.answers == [] and res.message
