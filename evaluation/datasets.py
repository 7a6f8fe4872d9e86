"""Adapters for external question sets (PubMedQA, COVID-QA, MedQuAD) and the retrieval metrics used on them.

The data files are read in place (see ../shared/data/*/README.md); nothing here copies them.

- Document retrieval (PubMedQA, MedQuAD): a question has one or more gold document ids; a system
  returns documents in rank order; hit@k and MRR@k follow from the rank of the first gold document.
- Sentence retrieval inside one document (COVID-QA): a question has gold character spans in the raw
  text of its gold document. A returned sentence (or answer) counts when its span in the RAW text,
  [raw_start, raw_end), overlaps a gold span [start, end). Our answers and sentences keep raw
  offsets (the cleaning step's offset map), and for a JSONL row the raw text is the row's `text`
  field unchanged, so the comparison needs no text matching.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np


@dataclass(frozen=True)
class DocQuestion:
    """A question whose answer is a document (any of `gold_doc_ids`)."""

    id: str
    question: str
    gold_doc_ids: frozenset[str]


@dataclass(frozen=True)
class SpanQuestion:
    """A question answered by character spans of one document's raw text."""

    id: str
    question: str
    doc_id: str
    spans: tuple[tuple[int, int], ...]  # [start, end) in the raw text of doc_id
    answers: tuple[str, ...] = ()


def read_jsonl(path: Path) -> Iterator[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{n}: row is not a JSON object")
                yield row


def write_jsonl(rows: Iterable[dict], path: Path) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


# ------------------------------------------------------------------ question formats

def concatenated(parts: Sequence[Path], out: Path) -> Path:
    """One JSONL file holding the rows of `parts` in order (written once, atomically; reused after)."""
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in parts))
        tmp.replace(out)
    return out


def pubmedqa_questions(rows: Iterable[dict] | Path, split: str | None = "test") -> list[DocQuestion]:
    """PubMedQA `questions.jsonl` rows {id, question, gold_doc_id, split}; `split=None` keeps all."""
    rows = read_jsonl(rows) if isinstance(rows, (str, Path)) else rows
    return [DocQuestion(str(r["id"]), r["question"], frozenset([str(r["gold_doc_id"])]))
            for r in rows if split is None or r.get("split") == split]


def covidqa_questions(rows: Iterable[dict] | Path) -> list[SpanQuestion]:
    """COVID-QA `questions.jsonl` rows {id, question, gold_doc_id, answers: [{text, start, end}]}."""
    rows = read_jsonl(rows) if isinstance(rows, (str, Path)) else rows
    out = []
    for r in rows:
        answers = [a for a in r.get("answers") or [] if int(a["end"]) > int(a["start"])]
        if not answers:
            continue
        out.append(SpanQuestion(str(r["id"]), r["question"], str(r["gold_doc_id"]),
                                tuple((int(a["start"]), int(a["end"])) for a in answers),
                                tuple(a.get("text", "") for a in answers)))
    return out


def medquad_corpus(rows: Iterable[dict] | Path) -> Iterator[dict]:
    """MedQuAD `qa.jsonl` pairs as documents: {id, title (the focus), text (the answer)}."""
    rows = read_jsonl(rows) if isinstance(rows, (str, Path)) else rows
    for r in rows:
        if isinstance(r.get("answer"), str) and r["answer"].strip():
            yield {"id": str(r["id"]), "title": str(r.get("focus") or ""), "text": r["answer"]}


def medquad_questions(rows: Iterable[dict] | Path) -> list[DocQuestion]:
    """MedQuAD questions; every pair whose answer text is the same counts as a gold document."""
    rows = list(read_jsonl(rows) if isinstance(rows, (str, Path)) else rows)
    by_answer: dict[str, set[str]] = {}
    for r in rows:
        by_answer.setdefault(r.get("answer") or "", set()).add(str(r["id"]))
    return [DocQuestion(str(r["id"]), r["question"], frozenset(by_answer[r.get("answer") or ""]))
            for r in rows if (r.get("answer") or "").strip()]


# ------------------------------------------------------------------ metrics

def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether half-open spans [a0, a1) and [b0, b1) share a character."""
    return a[0] < b[1] and b[0] < a[1]


def first_hit(hits: Iterable[bool]) -> int | None:
    """1-based rank of the first True, or None."""
    for i, h in enumerate(hits, 1):
        if h:
            return i
    return None


def doc_hits(ranked_doc_ids: Sequence[str], q: DocQuestion) -> list[bool]:
    return [d in q.gold_doc_ids for d in ranked_doc_ids]


def span_hits(ranked_spans: Sequence[tuple[int, int]], q: SpanQuestion) -> list[bool]:
    return [any(overlaps(s, g) for g in q.spans) for s in ranked_spans]


def distinct(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats (a document ranked by its first answer)."""
    seen: set[str] = set()
    out = []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


@dataclass
class RankingScores:
    """hit@k for each k and MRR@mrr_k over a list of first-hit ranks (None = not found)."""

    ks: tuple[int, ...]
    mrr_k: int
    n: int = 0
    hits: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0

    @classmethod
    def from_ranks(cls, ranks: Sequence[int | None], ks: Sequence[int], mrr_k: int) -> "RankingScores":
        n = len(ranks)
        d = max(n, 1)
        return cls(tuple(ks), mrr_k, n,
                   {k: sum(1 for r in ranks if r is not None and r <= k) / d for k in ks},
                   sum(1.0 / r for r in ranks if r is not None and r <= mrr_k) / d)

    def to_dict(self) -> dict:
        return {"n": self.n, **{f"hit@{k}": round(v, 4) for k, v in self.hits.items()},
                f"MRR@{self.mrr_k}": round(self.mrr, 4)}


# ------------------------------------------------------------------ this service as a ranker

def index_doc_ranking(index, term_weights: dict[str, float], k: int = 10) -> list[str]:
    """Documents ranked by their best indexed sentence's BM25 score (the retrieval stage only)."""
    scores = index.score(term_weights) * index.sentences["indexed"]
    n_docs = len(index.docs)
    if not n_docs or not scores.any():
        return []
    starts = index.doc_rows[:-1]
    best = np.maximum.reduceat(np.append(scores, np.float32(0)), np.minimum(starts, len(scores)))
    best[index.doc_rows[1:] == starts] = 0.0  # documents without sentences
    k = min(k, int((best > 0).sum()))
    if k == 0:
        return []
    top = np.argpartition(-best, k - 1)[:k]
    top = top[np.argsort(-best[top], kind="stable")]
    return [index.docs[int(d)].id for d in top]


def index_sentence_ranking(index, term_weights: dict[str, float], doc_id: str,
                           k: int = 5) -> list[tuple[int, int]]:
    """Raw spans of a document's indexed sentences, best BM25 first (the retrieval stage only)."""
    d = index.doc_by_id[doc_id]
    rows = slice(int(index.doc_rows[d]), int(index.doc_rows[d + 1]))
    scores = index.score(term_weights, rows) * index.sentences["indexed"][rows]
    order = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
    s = index.sentences
    return [(int(s["raw_start"][rows.start + i]), int(s["raw_end"][rows.start + i])) for i in order]


def answer_doc_ranking(answers) -> list[str]:
    """Document ids in the order of their first answer."""
    return distinct(a.document_id for a in answers)


def answer_spans(answers) -> list[tuple[int, int]]:
    """Raw-text spans of the answers, in rank order."""
    return [(a.raw_start, a.raw_end) for a in answers]
