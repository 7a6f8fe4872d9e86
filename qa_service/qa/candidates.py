"""Candidate sentences for a question: the rows that BM25 (with neighbour context) or the semantic
similarity reach, with the retrieval scores the features start from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.bm25 import Index
from .query import Query


@dataclass
class Candidates:
    rows: np.ndarray  # global sentence rows, int64
    bm25: np.ndarray  # the sentence's own BM25 score
    ctx: np.ndarray  # BM25 with neighbour context (and the report's score, across reports)
    doc: np.ndarray  # the sentence's report BM25 relative to the best report (0 within one report)
    sem: np.ndarray  # (n, number of encoders): cosine of question and sentence vectors

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, order: np.ndarray) -> "Candidates":
        return Candidates(self.rows[order], self.bm25[order], self.ctx[order], self.doc[order], self.sem[order])


class CandidateRetriever:
    """Rows of a slice of the index that may answer a question.

    ctx(s) = bm25(s) + c * (bm25(prev) + bm25(next))   (neighbours in the same section only)
    across reports: ctx(s) += w * max(ctx) * bm25_doc(d(s)) / max_d bm25_doc(d)
    The candidates are the top `n_lexical` rows by ctx and the top `n_semantic` rows by cosine.
    """

    def __init__(self, index: Index, *, context_weight: float = 0.35, doc_weight: float = 2.0,
                 n_lexical: int = 80, n_semantic: int = 40, section_ids: np.ndarray | None = None,
                 section_index: dict[str, int] | None = None, n_findings: np.ndarray | None = None):
        self.index = index
        self.context_weight = context_weight
        self.doc_weight = doc_weight
        self.n_lexical = n_lexical
        self.n_semantic = n_semantic
        s = index.sentences
        same = (s["doc"][1:] == s["doc"][:-1]) & (s["section"][1:] == s["section"][:-1])
        self.same_prev_ = np.concatenate([[False], same])
        self.same_next_ = np.concatenate([same, [False]])
        self.section_ids_ = section_ids
        self.section_index_ = section_index or {}
        self.n_findings_ = n_findings

    def spans_documents(self, rows: slice) -> bool:
        doc = self.index.sentences["doc"]
        return rows.stop > rows.start and doc[rows.start] != doc[rows.stop - 1]

    def retrieve(self, q: Query, rows: slice, section: str | None = None,
                 sem: np.ndarray | None = None) -> Candidates:
        """`sem`: (rows, encoders) cosines of the question with every row of `rows` (or None)."""
        idx = self.index
        base = idx.score(q.weights, rows) if q.weights else np.zeros(rows.stop - rows.start, dtype=np.float32)
        ctx = base.astype(np.float64)
        prev_ok = self.same_prev_[rows]
        next_ok = self.same_next_[rows]
        ctx[1:] += self.context_weight * base[:-1] * prev_ok[1:]
        ctx[:-1] += self.context_weight * base[1:] * next_ok[:-1]
        indexed = idx.sentences["indexed"][rows].astype(bool)
        ctx *= indexed
        doc_rel = np.zeros(len(ctx))
        doc_of = idx.sentences["doc"][rows]
        if self.doc_weight and self.spans_documents(rows) and q.weights:
            docs = idx.doc_scores(q.weights)
            if docs.max() > 0:
                per_doc = docs / docs.max()
                doc_rel = per_doc[doc_of]
                ctx += (ctx > 0) * self.doc_weight * ctx.max() * doc_rel
        allowed = indexed.copy()
        if section and self.section_ids_ is not None:
            allowed &= self.section_ids_[rows] == self.section_index_.get(section.strip().lower(), -1)
        pool: list[np.ndarray] = []
        lex = np.flatnonzero((ctx > 0) & allowed)
        pool.append(_top(lex, ctx[lex], self.n_lexical))
        if sem is not None and len(sem):
            ok = np.flatnonzero(allowed)
            for k in range(sem.shape[1]):
                pool.append(_top(ok, sem[ok, k], self.n_semantic))
        extra = np.zeros(len(ctx), dtype=bool)
        if q.analysis.section and self.section_ids_ is not None:  # "what is the conclusion?"
            extra |= self.section_ids_[rows] == self.section_index_.get(q.analysis.section.lower(), -1)
        if q.analysis.answer_type == "findings" and self.n_findings_ is not None:
            extra |= self.n_findings_[rows] >= 2  # sentences listing findings may share no word
        if extra.any():
            ex = np.flatnonzero(extra & allowed)
            pool.append(_top(ex, ctx[ex] + (sem[ex].sum(axis=1) if sem is not None else 0), self.n_semantic))
        local = np.unique(np.concatenate(pool)) if pool else np.zeros(0, dtype=np.int64)
        sem_vals = sem[local] if sem is not None else np.zeros((len(local), 0))
        return Candidates(rows.start + local.astype(np.int64), base[local].astype(np.float64), ctx[local],
                          doc_rel[local], sem_vals.astype(np.float64))


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    if len(ids) <= k:
        return ids
    return ids[np.argpartition(-scores, k - 1)[:k]]
