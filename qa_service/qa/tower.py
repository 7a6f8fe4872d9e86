"""A question tower: MiniLM fine-tuned on the question side only, so that a question's vector lands
near its evidence sentence while every index vector stays the stock encoder's.

A linear map of the question vector (qa.adapter) can only rotate what the encoder already made of
the question; the tower changes how the question's words are read ("a breathing tube through her
neck" -> tracheostomy) with low-rank updates of each layer's weight matrices (LoRA):

    W' = W + (alpha / r) B A        A: (r, in), B: (out, r), for the query, key, value, attention
                                    output, intermediate and output matrices of every layer

fitted with the adapter's loss (softmax over each question's candidates of tau x cosine with the
frozen sentence vectors; evidence candidates are the positives). Fitting needs torch
(evaluation/tower.py, `pip install .[train]`); answering merges the factors into the NumPy
encoder once at load and needs nothing more. The factors (about 1.3 MB) live beside the model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..index.semantic import MINILM, MiniLMEncoder, load_encoder

TOWER_ENCODER = "lm"  # the one encoder (features.ENCODERS) with layers to fine-tune: MiniLM

# The six matrices of a BERT layer that carry a low-rank update, by their parameter names.
MODULES = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")


class QuestionTower:
    """Question vectors from MiniLM with fitted low-rank weight updates (see module docstring)."""

    def __init__(self, rank: int = 8, alpha: float = 16.0, epochs: int = 3, lr: float = 3e-4,
                 tau: float = 20.0, batch_size: int = 16, seed: int = 0, null: bool = False,
                 weight_decay: float = 0.01, warmup: int = 20, init_scale: float = 0.01):
        """`null`: fitted with a "no sentence answers" option that unanswerable questions target.
        `weight_decay` (AdamW), `warmup` (steps of linear warm-up before the linear decay) and
        `init_scale` (std of A's random start; B starts at 0, so the fit starts at the stock model)."""
        self.rank = rank
        self.alpha = alpha
        self.epochs = epochs
        self.lr = lr
        self.tau = tau
        self.batch_size = batch_size
        self.seed = seed
        self.null = null
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.init_scale = init_scale
        self._encoder: MiniLMEncoder | None = None

    def clone(self) -> "QuestionTower":
        """An unfitted tower with the same parameters."""
        return QuestionTower(**self.hyperparams())

    def hyperparams(self) -> dict:
        return {"rank": self.rank, "alpha": self.alpha, "epochs": self.epochs, "lr": self.lr, "tau": self.tau,
                "batch_size": self.batch_size, "seed": self.seed, "null": self.null,
                "weight_decay": self.weight_decay, "warmup": self.warmup, "init_scale": self.init_scale}

    def set_factors(self, factors: dict[str, tuple[np.ndarray, np.ndarray]], n_questions: int,
                    n_unanswerable: int = 0) -> "QuestionTower":
        """factors: "encoder.layer.<i>.<module>" -> (A (r, in), B (out, r)), float32."""
        self.factors_ = {k: (np.asarray(a, np.float32), np.asarray(b, np.float32)) for k, (a, b) in factors.items()}
        self.n_questions_ = int(n_questions)
        self.n_unanswerable_ = int(n_unanswerable)
        self._encoder = None
        return self

    def deltas(self) -> dict[str, np.ndarray]:
        """The weight updates, (out, in) as torch and the safetensors file store them."""
        s = np.float32(self.alpha / self.rank)
        return {f"{k}.weight": s * (b @ a) for k, (a, b) in self.factors_.items()}

    def encoder(self) -> MiniLMEncoder:
        if self._encoder is None:
            stock = load_encoder(MINILM)  # loaded once per process; its embedding tables are shared
            self._encoder = MiniLMEncoder(None, deltas=self.deltas(),
                                          embeddings_from=stock if isinstance(stock, MiniLMEncoder) else None)
        return self._encoder

    reads_vector = False  # adapt() encodes the text itself: the stock vector is not needed

    def adapt(self, qvecs: np.ndarray | None, texts: list[str]) -> np.ndarray:
        """The questions' tower vectors (n, dim), unit length; `qvecs` (the stock ones) go unused."""
        return self.encoder().encode(list(texts))

    def params(self) -> dict:
        return {"kind": "tower", **self.hyperparams(),
                "n_questions": self.n_questions_, "n_unanswerable": self.n_unanswerable_}


def save_tower(path: Path, tower: QuestionTower) -> None:
    """The factors in an .npz (float32), written atomically."""
    tmp = path.with_suffix(".tmp.npz")
    arrays: dict[str, np.ndarray] = {}
    for k, (a, b) in tower.factors_.items():
        arrays[f"{k}|A"], arrays[f"{k}|B"] = a, b
    np.savez_compressed(tmp, allow_pickle=False, **arrays)
    tmp.replace(path)


def load_tower(path: Path, meta: dict) -> QuestionTower:
    """The tower `meta` (its params) describes, from its .npz."""
    keys = {k for k in meta if k not in ("kind", "n_questions", "n_unanswerable")}
    tower = QuestionTower(**{k: meta[k] for k in keys})
    with np.load(path) as z:
        names = sorted({k.split("|")[0] for k in z.files})
        factors = {k: (z[f"{k}|A"], z[f"{k}|B"]) for k in names}
    for k, (a, b) in factors.items():
        if a.shape[0] != tower.rank or b.shape[1] != tower.rank:
            raise ValueError(f"tower factor {k} in {path} is not of rank {tower.rank}")
    return tower.set_factors(factors, meta["n_questions"], meta.get("n_unanswerable", 0))
