"""The question adapter: a linear map learned so that a question's vector lands nearer its evidence."""
from __future__ import annotations

import numpy as np
import pytest

from qa_service.qa.adapter import QueryAdapter, load_adapters, save_adapters


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _questions(rng: np.random.Generator, M: np.ndarray, n: int, d: int = 16, k: int = 8):
    """Questions whose evidence sentence is M q (a fixed change of wording), among k - 1 distractors
    each nearer to the question itself than the evidence is."""
    q, c, y = [], [], []
    for _ in range(n):
        qi = _unit(rng.normal(size=d))
        gold = _unit(M @ qi)
        near = _unit(qi + 0.3 * rng.normal(size=(k - 1, d)))
        c.append(np.vstack([gold, near]).astype(np.float32))
        q.append(qi.astype(np.float32))
        y.append(np.array([True] + [False] * (k - 1)))
    return q, c, y


def _hit1(q, c, y, adapter: QueryAdapter | None = None) -> float:
    hits = [yy[int(np.argmax(cc @ (adapter.transform(qq) if adapter else qq)))] for qq, cc, yy in zip(q, c, y)]
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def rotation() -> np.ndarray:
    rng = np.random.default_rng(7)
    M, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    return 0.5 * np.eye(16) + 0.5 * M  # evidence shares half its direction with the question


def test_adapter_learns_a_change_of_wording_that_holds_on_new_questions(rotation):
    rng = np.random.default_rng(0)
    train = _questions(rng, rotation, 300)
    test = _questions(rng, rotation, 200)
    adapter = QueryAdapter(lam=0.001).fit(*train)
    before, after = _hit1(*test), _hit1(*test, adapter)
    assert before < 0.5
    assert after > before + 0.3


def test_strong_penalty_keeps_the_encoders_own_cosine(rotation):
    rng = np.random.default_rng(1)
    q, c, y = _questions(rng, rotation, 50)
    adapter = QueryAdapter(lam=1e6).fit(q, c, y)
    assert np.abs(adapter.A_).max() < 1e-3
    np.testing.assert_allclose(adapter.transform(q[0]), q[0], atol=1e-3)


def test_questions_without_a_positive_candidate_are_skipped(rotation):
    rng = np.random.default_rng(2)
    q, c, y = _questions(rng, rotation, 20)
    y = [yy if i % 2 else np.zeros_like(yy) for i, yy in enumerate(y)]
    assert QueryAdapter().fit(q, c, y).n_questions_ == 10


def test_adapters_round_trip_through_their_file(tmp_path, rotation):
    rng = np.random.default_rng(3)
    adapter = QueryAdapter(lam=0.01).fit(*_questions(rng, rotation, 40))
    path = tmp_path / "adapters.npz"
    save_adapters(path, {"lm": adapter})
    back = load_adapters(path, {"lm": adapter.params()})["lm"]
    np.testing.assert_array_equal(back.A_, adapter.A_)
    with pytest.raises(ValueError, match="shape"):
        load_adapters(path, {"lm": adapter.params() | {"dim": 8}})


def test_the_shipped_answerer_reads_adapted_cosines(answerer):
    """The fitted model names one adapter (or question tower) per encoder; the answerer applies them
    to the question, so its semantic features differ from the encoders' own cosines."""
    from qa_service.qa.answerer import load_model

    model = load_model()
    fitted = model["variants"][answerer.variant]
    fitted_adapters = set(fitted.get("adapters", {}).get("encoders", {})) | set(fitted.get("towers", {}))
    assert set(answerer.adapters) == fitted_adapters == set(answerer.encoders)
    p = answerer.prepare("How well was her heart pumping?")
    assert len(p.cands)
    raw = answerer.refeature(p, {})
    # equal up to float rounding (BLAS sums the candidates' cosines in another order)
    np.testing.assert_allclose(answerer.refeature(p, answerer.adapters), p.X, rtol=0, atol=1e-6)
    assert not np.allclose(raw, p.X)
