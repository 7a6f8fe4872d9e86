"""A listwise linear ranker (conditional logit over a question's candidates), scikit-learn style.

For question q with candidate feature rows x_i (standardised: (x - mean_) / scale_),

    z_i = coef_ . x_i              P(i | q answerable) = exp(z_i) / sum_j exp(z_j)

fitted by minimising  sum_q w_q * -log sum_{i in positives(q)} P(i | q)  +  alpha/2 ||coef_||^2
(L-BFGS; w_q the question's sample weight, 1 by default). The probabilities are the model's own:
the order of answers is the order of z.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp


class ListwiseRanker:
    def __init__(self, alpha: float = 1.0, max_iter: int = 500):
        self.alpha = alpha
        self.max_iter = max_iter

    def fit(self, X: Sequence[np.ndarray], y: Sequence[np.ndarray], feature_names: Sequence[str] = (),
            sample_weight: Sequence[float] | None = None) -> "ListwiseRanker":
        """X: one (n_q, d) array per question; y: one boolean array per question (its positives);
        sample_weight: one weight per question. Questions without a positive candidate carry no
        ranking signal and are skipped."""
        weights = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        keep = [i for i, yy in enumerate(y) if yy.any() and len(yy) > 1]
        pairs = [(X[i], y[i].astype(bool)) for i in keep]
        wq = weights[keep]
        allx = np.vstack([x for x, _ in pairs])
        self.mean_ = allx.mean(axis=0)
        self.scale_ = allx.std(axis=0)
        self.scale_[self.scale_ < 1e-9] = 1.0
        # All questions' candidates stacked; segment reductions replace a loop over questions.
        Z = (allx - self.mean_) / self.scale_
        pos = np.concatenate([yy for _, yy in pairs])
        sizes = np.array([len(yy) for _, yy in pairs])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        seg = np.repeat(np.arange(len(pairs)), sizes)
        d = Z.shape[1]

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = Z @ w
            m = np.maximum.reduceat(z, starts)
            e = np.exp(z - m[seg])
            se = np.add.reduceat(e, starts)
            zp = np.where(pos, z, -np.inf)
            mp = np.maximum.reduceat(zp, starts)
            ep = np.where(pos, np.exp(np.where(pos, z - mp[seg], 0.0)), 0.0)
            sp = np.add.reduceat(ep, starts)
            total = np.sum(wq * (m + np.log(se) - mp - np.log(sp))) + 0.5 * self.alpha * w @ w
            grad = Z.T @ (wq[seg] * (e / se[seg] - ep / sp[seg])) + self.alpha * w
            return float(total), grad

        res = minimize(loss, np.zeros(d), jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        self.coef_ = res.x
        self.n_questions_ = len(pairs)
        self.feature_names_ = list(feature_names)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_) @ self.coef_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(candidate i answers | the question is answerable), over this question's candidates."""
        z = self.decision_function(X)
        if not len(z):
            return z
        return np.exp(z - logsumexp(z))

    def to_dict(self) -> dict:
        return {"kind": "listwise-logit", "alpha": self.alpha, "features": self.feature_names_,
                "mean": self.mean_.tolist(), "scale": self.scale_.tolist(), "coef": self.coef_.tolist(),
                "n_questions": self.n_questions_}

    @classmethod
    def from_dict(cls, d: dict, features: Sequence[str] | None = None) -> "ListwiseRanker":
        m = cls(alpha=d["alpha"])
        names = d["features"]
        if features is not None and list(features) != list(names):
            raise ValueError(f"ranker was fitted on features {names}, the code computes {list(features)}")
        m.mean_, m.scale_, m.coef_ = (np.array(d[k], dtype=np.float64) for k in ("mean", "scale", "coef"))
        m.feature_names_ = list(names)
        m.n_questions_ = d.get("n_questions", 0)
        return m
