"""Does the report answer the question at all? A logistic model over question-level evidence
(the best candidate's features and the ranker's confidence), scikit-learn style.

    P(answerable) = 1 / (1 + exp(-(intercept_ + coef_ . (x - mean_) / scale_)))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .features import ENCODERS, FEATURES

SEM = tuple(f"sem_{e}" for e in ENCODERS)
# Evidence from the whole report of the best candidate (Answerer.doc_evidence computes it).
DOC_EVIDENCE = ("miss_doc", "miss_doc_soft", "miss_doc_any", "doc_cover")

# Question-level features: the top candidate's features named here, plus the ranker's view.
FROM_TOP = ("cover", "cover_win", "cover_plain", "concept_cover", "miss_win", "all_covered", "soft_cover", "soft_min", *SEM, "typed",
            "untyped_strict", "bm25", "doc")
ANSWERABILITY_FEATURES: tuple[str, ...] = (*(f"top_{n}" for n in FROM_TOP), "p_top", "margin", "z_top",
                                           *DOC_EVIDENCE, "typed_cover", *(f"{s}_max" for s in SEM), "strict", "cross", "n_words")


def question_features(Xc: np.ndarray, z: np.ndarray, p: np.ndarray, doc: dict[str, float],
                      strict: bool, cross: bool, n_words: int) -> np.ndarray:
    """One row for a question from its candidates' features Xc, ranker scores z and probabilities p,
    and `doc`, the report-level evidence (DOC_EVIDENCE):

    miss_doc: rarity of the most specific question word the report never mentions (0 if none);
    miss_doc_soft: the same, times (1 - its best cosine with a word of the report);
    miss_doc_any: the rarity of the rarest question word the report never mentions, specific or not;
    doc_cover: idf-weighted share of the question's words the report mentions.
    typed_cover: the best question coverage (with neighbours) of a sentence holding the expected type.
    """
    out = dict.fromkeys(ANSWERABILITY_FEATURES, 0.0)
    out.update({k: doc[k] for k in DOC_EVIDENCE})
    out.update(strict=float(strict), cross=float(cross), n_words=min(n_words, 10) / 10)
    if len(z) == 0:
        out["z_top"] = -5.0
        return np.array(list(out.values()))
    top = int(np.argmax(z))
    col = {n: i for i, n in enumerate(FEATURES)}
    out.update({f"top_{n}": Xc[top, col[n]] for n in FROM_TOP})
    ps = np.sort(p)[::-1]
    out.update(p_top=ps[0], margin=ps[0] - (ps[1] if len(ps) > 1 else 0.0), z_top=z[top],
               typed_cover=float((Xc[:, col["cover_win"]] * (Xc[:, col["typed"]] > 0)).max()))
    out.update({f"{s}_max": Xc[:, col[s]].max() for s in SEM})
    return np.array(list(out.values()))


class AnswerabilityModel:
    """`decline_target`: the share of answerable case-report training questions the fitted
    `threshold` declines (the policy it was set by; None when set by hand)."""

    def __init__(self, C: float = 1.0, threshold: float = 0.5, decline_target: float | None = None):
        self.C = C
        self.threshold = threshold
        self.decline_target = decline_target

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "AnswerabilityModel":
        from sklearn.linear_model import LogisticRegression

        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0)
        self.scale_[self.scale_ < 1e-9] = 1.0
        lr = LogisticRegression(C=self.C, max_iter=2000)
        lr.fit((X - self.mean_) / self.scale_, y, sample_weight=sample_weight)
        self.coef_ = lr.coef_[0]
        self.intercept_ = float(lr.intercept_[0])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self.intercept_ + ((np.atleast_2d(X) - self.mean_) / self.scale_) @ self.coef_
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"kind": "logistic", "C": self.C, "threshold": self.threshold, "decline_target": self.decline_target,
                "features": list(ANSWERABILITY_FEATURES),
                "mean": self.mean_.tolist(), "scale": self.scale_.tolist(), "coef": self.coef_.tolist(),
                "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, d: dict, features: Sequence[str] | None = None) -> "AnswerabilityModel":
        names = d["features"]
        if list(names) != list(features if features is not None else ANSWERABILITY_FEATURES):
            raise ValueError(f"answerability model was fitted on features {names}")
        m = cls(C=d["C"], threshold=d["threshold"], decline_target=d.get("decline_target"))
        m.mean_, m.scale_, m.coef_ = (np.array(d[k], dtype=np.float64) for k in ("mean", "scale", "coef"))
        m.intercept_ = float(d["intercept"])
        return m
