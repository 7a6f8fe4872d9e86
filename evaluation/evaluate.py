"""Score the service on question files: hit@k, MRR@5, passage hit@1, abstention, answer length, latency."""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa_service.text.tokenize import normalize_for_match
from qa_service.corpus.store import resolve_doc_id
from qa_service.qa import Answerer, UnknownDocument


@dataclass
class EvalReport:
    n: int = 0
    hit1: float = 0.0
    hit3: float = 0.0
    mrr5: float = 0.0
    passage_hit1: float = 0.0
    answered_abstained: int = 0  # answerable questions wrongly abstained on
    n_unanswerable: int = 0
    unanswerable_abstained: int = 0
    median_answer_chars: float = 0.0
    median_latency_ms: float = 0.0
    p95_latency_ms: float = 0.0
    misses: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"answerable questions   {self.n}",
            f"hit@1                  {self.hit1:.3f}",
            f"hit@3                  {self.hit3:.3f}",
            f"MRR@5                  {self.mrr5:.3f}",
            f"passage hit@1          {self.passage_hit1:.3f}",
            f"wrongly abstained      {self.answered_abstained}/{self.n}",
            f"unanswerable abstained {self.unanswerable_abstained}/{self.n_unanswerable}",
            f"median answer chars    {self.median_answer_chars:.0f}",
            f"median latency ms      {self.median_latency_ms:.1f} (p95 {self.p95_latency_ms:.1f})",
        ]
        return "\n".join(lines)


def read_questions(path: Path) -> list[dict]:
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _hit(text: str, evidence: list[str]) -> bool:
    norm = normalize_for_match(text)
    return any(normalize_for_match(e) in norm for e in evidence if normalize_for_match(e))


def _doc(answerer: Answerer, q: dict) -> str | None:
    """The question's report id, as the index knows it (an imported URL id was given a file-safe id)."""
    doc = q.get("doc")
    return resolve_doc_id(answerer.index.doc_by_id, doc) if isinstance(doc, str) else doc


def evaluate(answerer: Answerer, questions: list[dict], unanswerable: list[dict] = (), k: int = 5) -> EvalReport:
    rep = EvalReport(n=len(questions), n_unanswerable=len(unanswerable))
    lengths: list[int] = []
    latencies: list[float] = []
    hit1 = hit3 = p1 = 0
    rr = 0.0
    for q in questions:
        t0 = time.perf_counter()
        try:
            res = answerer.ask(q["question"], top_k=k, document_id=_doc(answerer, q))
        except UnknownDocument:
            rep.misses.append({"id": q.get("id"), "question": q["question"], "error": "unknown document"})
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        texts = [a.text for a in res.answers]
        if texts:
            lengths.append(len(texts[0]))
        else:
            rep.answered_abstained += 1
        ranks = [i for i, t in enumerate(texts, 1) if _hit(t, q["evidence"])]
        first = ranks[0] if ranks else None
        hit1 += first == 1
        hit3 += bool(first and first <= 3)
        rr += 1.0 / first if first else 0.0
        p1 += bool(res.answers and _hit(res.answers[0].passage, q["evidence"]))
        if first != 1:
            rep.misses.append({"id": q.get("id"), "question": q["question"], "rank": first,
                               "top": texts[0] if texts else None, "evidence": q["evidence"]})
    for q in unanswerable:
        t0 = time.perf_counter()
        try:
            res = answerer.ask(q["question"], top_k=k, document_id=_doc(answerer, q))
        except UnknownDocument:
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        if not res.answers:
            rep.unanswerable_abstained += 1
        else:
            rep.misses.append({"id": q.get("id"), "question": q["question"], "unanswerable": True,
                               "top": res.answers[0].text, "score": res.answers[0].score})
    n = max(rep.n, 1)
    rep.hit1, rep.hit3, rep.mrr5, rep.passage_hit1 = hit1 / n, hit3 / n, rr / n, p1 / n
    rep.median_answer_chars = statistics.median(lengths) if lengths else 0.0
    if latencies:
        latencies.sort()
        rep.median_latency_ms = statistics.median(latencies)
        rep.p95_latency_ms = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return rep
