"""A learned linear map of the question's sentence vector, fitted so that its cosine with the
evidence sentence beats the cosine with the other candidates (scikit-learn style).

The sentence encoders were trained on general paraphrase data; a question in lay words ("How was
her heart pumping?") and its clinical evidence ("decreased left ventricular function") sit further
apart than a paraphrase does. The adapter moves the question, not the sentences, so the index
vectors stay as they are:

    u = q + A q,      s_i = (u . c_i) / |u|        (c_i: the candidate's unit vector)

    minimise  sum_q -log sum_{i in positives(q)} softmax(tau * s)_i  +  lambda ||A||^2   (L-BFGS)

With A = 0 the cosine is the encoder's own; lambda keeps A near it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.optimize import minimize


class QueryAdapter:
    def __init__(self, lam: float = 0.03, tau: float = 20.0, max_iter: int = 300):
        self.lam = lam
        self.tau = tau
        self.max_iter = max_iter

    def fit(self, q: Sequence[np.ndarray], c: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> "QueryAdapter":
        """q: one question vector each; c: its candidates' unit vectors (n_q, d); y: its positives.
        Questions without a positive candidate carry no signal and are skipped."""
        keep = [i for i, yy in enumerate(y) if len(yy) and np.asarray(yy).any()]
        Q = np.stack([np.asarray(q[i], dtype=np.float64) for i in keep])
        C = np.concatenate([np.asarray(c[i], dtype=np.float64) for i in keep])
        Y = np.concatenate([np.asarray(y[i], dtype=np.float64) for i in keep])
        sizes = np.array([len(y[i]) for i in keep])
        seg = np.repeat(np.arange(len(keep)), sizes)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        m, d = Q.shape
        tau, lam = self.tau, self.lam

        def loss(a: np.ndarray) -> tuple[float, np.ndarray]:
            A = a.reshape(d, d)
            U = Q + Q @ A.T
            n = np.linalg.norm(U, axis=1) + 1e-9
            dot = (C * U[seg]).sum(axis=1)
            z = tau * dot / n[seg]
            e = np.exp(z - np.maximum.reduceat(z, starts)[seg])
            p = e / np.add.reduceat(e, starts)[seg]
            p_pos = np.add.reduceat(p * Y, starts)
            g = p * Y / p_pos[seg]
            w = tau * (p - g) / m  # d loss / d s_i
            dU = np.zeros_like(U)
            np.add.at(dU, seg, w[:, None] * C / n[seg][:, None])
            dU -= (np.bincount(seg, weights=w * dot, minlength=m) / n ** 3)[:, None] * U
            return float(-np.log(p_pos + 1e-12).sum() / m + lam * (A * A).sum()), (dU.T @ Q + 2 * lam * A).ravel()

        res = minimize(loss, np.zeros(d * d), jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        self.A_ = res.x.reshape(d, d).astype(np.float32)
        self.n_questions_ = m
        return self

    def transform(self, q: np.ndarray) -> np.ndarray:
        """The adapted question vector(s), L2-normalised."""
        u = q + q @ self.A_.T
        n = np.linalg.norm(u, axis=-1, keepdims=True)
        return (u / np.where(n > 0, n, 1.0)).astype(np.float32)

    reads_vector = True  # adapt() maps the encoder's own question vector

    def adapt(self, qvecs: np.ndarray | None, texts: list[str]) -> np.ndarray:
        """transform() of the questions' vectors (the texts go unused; a QuestionTower reads them)."""
        if qvecs is None:
            raise ValueError("a linear adapter maps the encoder's question vector; none was given")
        return self.transform(qvecs)

    def params(self) -> dict:
        return {"lam": self.lam, "tau": self.tau, "n_questions": self.n_questions_, "dim": int(self.A_.shape[0])}


def save_adapters(path: Path, adapters: dict[str, QueryAdapter]) -> None:
    """One matrix per encoder in an .npz (float32), written atomically."""
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{k: a.A_ for k, a in adapters.items()})
    tmp.replace(path)


def load_adapters(path: Path, meta: dict[str, dict]) -> dict[str, QueryAdapter]:
    """The adapters `meta` (encoder -> params) names, from their .npz."""
    out = {}
    with np.load(path) as z:
        for k, p in meta.items():
            a = QueryAdapter(lam=p["lam"], tau=p["tau"])
            a.A_ = z[k].astype(np.float32)
            if a.A_.shape != (p["dim"], p["dim"]):
                raise ValueError(f"adapter {k} in {path} has shape {a.A_.shape}, expected {p['dim']}")
            a.n_questions_ = p["n_questions"]
            out[k] = a
    return out
