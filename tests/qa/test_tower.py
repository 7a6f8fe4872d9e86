"""The question tower: MiniLM with low-rank weight updates, merged into the NumPy encoder."""
from __future__ import annotations

import numpy as np
import pytest

from qa_service.index.semantic import MINILM, MiniLMEncoder, load_encoder, minilm_dir
from qa_service.qa.tower import MODULES, QuestionTower, load_tower, save_tower

pytestmark = pytest.mark.skipif(minilm_dir() is None, reason="MiniLM's package is not installed")

QUESTIONS = ["Did they put a breathing tube through her neck?", "How was the baby delivered?"]


def _factors(rank: int, rng: np.random.Generator | None = None, layers: int = 6) -> dict:
    """Factors of every matrix: zero B (no update) without `rng`, small random ones with it."""
    dims = {"attention.self.query": (384, 384), "attention.self.key": (384, 384), "attention.self.value": (384, 384),
            "attention.output.dense": (384, 384), "intermediate.dense": (1536, 384), "output.dense": (384, 1536)}
    out = {}
    for i in range(layers):
        for m in MODULES:
            o, n = dims[m]
            b = rng.normal(scale=0.05, size=(o, rank)) if rng is not None else np.zeros((o, rank))
            out[f"encoder.layer.{i}.{m}"] = (np.full((rank, n), 0.01), b)
    return out


def test_a_tower_without_updates_is_the_stock_encoder():
    tower = QuestionTower(rank=4).set_factors(_factors(4), n_questions=0)
    stock = load_encoder(MINILM)
    np.testing.assert_allclose(tower.adapt(np.zeros((2, 384)), QUESTIONS), stock.encode(QUESTIONS), atol=1e-6)


def test_updates_move_the_question_and_survive_their_file(tmp_path):
    tower = QuestionTower(rank=4, alpha=8.0).set_factors(_factors(4, np.random.default_rng(0)), n_questions=12)
    moved = tower.adapt(np.zeros((2, 384)), QUESTIONS)
    stock = load_encoder(MINILM).encode(QUESTIONS)
    assert np.all(np.sum(moved * stock, axis=1) < 0.999)
    np.testing.assert_allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    path = tmp_path / "tower.npz"
    save_tower(path, tower)
    back = load_tower(path, tower.params())
    assert back.params() == tower.params()
    np.testing.assert_array_equal(back.adapt(np.zeros((2, 384)), QUESTIONS), moved)
    with pytest.raises(ValueError, match="rank"):
        load_tower(path, tower.params() | {"rank": 8})


def test_the_update_is_alpha_over_rank_times_b_a():
    rng = np.random.default_rng(1)
    tower = QuestionTower(rank=2, alpha=6.0).set_factors(_factors(2, rng, layers=1), n_questions=1)
    a, b = tower.factors_["encoder.layer.0.intermediate.dense"]
    np.testing.assert_allclose(tower.deltas()["encoder.layer.0.intermediate.dense.weight"], 3.0 * (b @ a), rtol=1e-6)


def test_the_tower_shares_the_stock_encoders_embedding_tables():
    tower = QuestionTower(rank=4).set_factors(_factors(4, np.random.default_rng(3)), n_questions=1)
    assert tower.encoder().word is load_encoder(MINILM).word


def test_the_encoder_refuses_an_update_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        MiniLMEncoder(minilm_dir(), deltas={"encoder.layer.0.output.dense.weight": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="does not fit"):
        MiniLMEncoder(minilm_dir(), deltas={"no.such.weight": np.zeros((3, 3))})


def test_fitting_pulls_questions_to_their_evidence():
    """Fitted with torch (the `train` extra) on questions of our own: after fitting, each question's
    tower vector is nearer its evidence sentence than the stock vector was."""
    pytest.importorskip("torch")
    from evaluation.tower import fit_tower

    stock = load_encoder(MINILM)
    pairs = [("Did they put a breathing tube through her neck?", "She underwent a percutaneous tracheostomy."),
             ("Was her sugar high?", "Fasting plasma glucose was 14 mmol/L."),
             ("Did his kidneys stop working?", "He developed acute renal failure requiring dialysis."),
             ("How was the baby delivered?", "He was born at term by elective caesarean section."),
             ("Was she short of breath?", "She reported progressive dyspnoea on exertion."),
             ("Did he have a stroke?", "MRI showed an acute ischaemic infarct in the left MCA territory.")]
    distractors = stock.encode(["The patient was discharged home.", "Written consent was obtained.",
                                "Blood cultures were negative.", "The family history was unremarkable."])
    texts = [q for q, _ in pairs]
    gold = stock.encode([e for _, e in pairs])
    cands = [np.vstack([g, distractors]) for g in gold]
    ys = [np.array([True] + [False] * len(distractors)) for _ in pairs]
    tower = fit_tower(texts, cands, ys, QuestionTower(rank=4, epochs=8, lr=2e-3, batch_size=3))
    before = np.sum(stock.encode(texts) * gold, axis=1)
    after = np.sum(tower.adapt(np.zeros((len(texts), 384)), texts) * gold, axis=1)
    assert np.mean(after) > np.mean(before) + 0.05, (before, after)


def test_the_torch_pass_that_fits_is_the_numpy_pass_that_serves():
    """The same nonzero factors give the same question vectors in the torch forward pass fitting
    differentiates and in the merged NumPy pass answering runs."""
    torch = pytest.importorskip("torch")
    from evaluation.tower import TorchTower

    factors = _factors(4, np.random.default_rng(2))
    tower = QuestionTower(rank=4, alpha=8.0).set_factors(factors, n_questions=1)
    net = TorchTower(scale=2.0)
    net.A = {k: torch.from_numpy(a.astype(np.float32)) for k, (a, _) in factors.items()}
    net.B = {k: torch.from_numpy(b.astype(np.float32)) for k, (_, b) in factors.items()}
    served = tower.adapt(None, QUESTIONS)
    assert np.all(np.sum(served * load_encoder(MINILM).encode(QUESTIONS), axis=1) < 0.999)  # the update matters
    with torch.no_grad():
        np.testing.assert_allclose(net.encode(QUESTIONS).numpy(), served, atol=2e-5)


def test_the_shipped_answerer_asks_minilm_through_its_question_tower(answerer):
    """The shipped model's MiniLM side is a fitted tower: its question vector differs from the
    stock encoder's, stays a unit vector, and the answer to a lay question still comes back."""
    from qa_service.qa.answerer import load_model

    towers = load_model()["variants"][answerer.variant].get("towers", {})
    if "lm" not in answerer.encoders:
        pytest.skip("the shipped variant does not use MiniLM")
    assert "lm" in towers and isinstance(answerer.adapters["lm"], QuestionTower)
    tower = answerer.adapters["lm"]
    assert tower.params()["n_questions"] > 400
    stock = answerer.encoders["lm"][0](QUESTIONS)
    moved = tower.adapt(stock, QUESTIONS)
    np.testing.assert_allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(moved * stock, axis=1) < 0.999)


def test_adapted_retrieval_skips_the_stock_forward_pass(answerer, monkeypatch):
    """With retrieval "adapted" the tower's vector picks the semantic candidates and MiniLM's own
    question vector is never computed (one forward pass per question instead of two)."""
    if not isinstance(answerer.adapters.get("lm"), QuestionTower):
        pytest.skip("the shipped variant has no MiniLM question tower")
    encode, vectors = answerer.encoders["lm"]
    calls = []
    monkeypatch.setitem(answerer.encoders, "lm", (lambda texts: calls.append(texts) or encode(texts), vectors))
    question = "How well was her heart pumping?"
    adapted = answerer.prepare(question, retrieval="adapted")
    assert calls == [] and "lm" not in adapted.qvec
    stock = answerer.prepare(question, retrieval="stock")
    assert len(calls) == 1 and "lm" in stock.qvec
    u = answerer.adapters["lm"].adapt(None, [adapted.query.text])[0]
    col = list(answerer.encoders).index("lm")
    np.testing.assert_allclose(adapted.cands.sem[:, col], vectors[adapted.cands.rows] @ u, atol=1e-5)
    # both ways the features read the tower's cosines: where the candidates agree, so do the rows
    common, ia, ib = np.intersect1d(adapted.cands.rows, stock.cands.rows, return_indices=True)
    assert len(common) > 10
    np.testing.assert_allclose(adapted.cands.sem[ia, col], vectors[common] @ u, atol=1e-5)
    with pytest.raises(ValueError, match="retrieval"):
        answerer.prepare(question, retrieval="sideways")


def test_the_null_option_is_the_target_of_an_unanswerable_question():
    """question_loss: without a null option it is the softmax loss of the positives; with one, an
    unanswerable question's loss falls as the null level rises above its candidates' cosines, an
    answerable question's rises."""
    torch = pytest.importorskip("torch")
    from evaluation.tower import question_loss

    z = torch.tensor([8.0, 6.0, 2.0])
    y = torch.tensor([False, True, False])
    plain = question_loss(z, y, False)
    assert abs(float(plain) - float(torch.logsumexp(z, 0) - z[1])) < 1e-6
    low, high = torch.tensor(4.0), torch.tensor(12.0)
    assert float(question_loss(z, y, True, high)) < float(question_loss(z, y, True, low))
    assert float(question_loss(z, y, False, high)) > float(question_loss(z, y, False, low)) > float(plain)
    proto = QuestionTower(rank=4, null=True)
    copy = proto.clone()
    assert copy is not proto and copy.null and copy.rank == 4 and not hasattr(copy, "factors_")
