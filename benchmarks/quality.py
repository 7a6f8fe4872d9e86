"""Retrieval quality across datasets: this service vs bm25s, rank_bm25 and TF-IDF cosine.

    /work/main/.venv/bin/python benchmarks/quality.py [--workdir /tmp/casebook-bench] [--json]

- PubMedQA (PQA-L test split, 500 questions over all 1,000 abstracts; the model was fitted with
  questions of the other split): document retrieval,
  hit@1 / hit@10 / MRR@10. The service ranks a document by its first answer (`Answerer.ask` with
  top_k=60 over the whole corpus), or, for the retrieval stage alone, by its best sentence's BM25.
- COVID-QA (the questions of the 49 papers the shipped model was not fitted on, of 98): answer-sentence
  retrieval restricted to the gold paper,
  hit@1 / hit@5 / MRR@5. A returned answer or sentence counts when its span in the paper's RAW text
  overlaps a gold answer span (service answers and sentences carry raw offsets; see
  evaluation/datasets.py).

Anchors see the same text the service indexes: for PubMedQA the whole document (sections joined
with their headings, `corpus.jsonl_text`); for COVID-QA the service's own indexed sentences (the
same units, cleaned text), so only the ranking differs. Tokenization: bm25s and rank_bm25 use
`bm25s.tokenize(stopwords="en", stemmer=PyStemmer english)`; TF-IDF is scikit-learn's default
`TfidfVectorizer()` (lowercase, `\\b\\w\\w+\\b`, smooth idf, l2) with cosine similarity.
The datasets are read in place; derived indexes go under --workdir (never into the repository).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evaluation import datasets as ds  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ASK_TOP_K_DOCS = 60  # answers asked for when ranking documents (= the default re-rank candidates)


# ------------------------------------------------------------------ anchors

def anchor_tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                          return_ids=False, show_progress=False)


class Bm25sRanker:
    name = "bm25s"

    def __init__(self, texts: list[str]):
        import bm25s

        self.r = bm25s.BM25()
        self.r.index(anchor_tokenize(texts), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        toks = anchor_tokenize([query])[0]
        return self.r.get_scores(toks) if toks else np.zeros(self.r.scores["num_docs"], np.float32)


class RankBm25Ranker:
    name = "rank_bm25 (Okapi)"

    def __init__(self, texts: list[str]):
        from rank_bm25 import BM25Okapi

        self.r = BM25Okapi(anchor_tokenize(texts))

    def scores(self, query: str, ids: list[int] | None = None) -> np.ndarray:
        toks = anchor_tokenize([query])[0]
        if ids is not None:
            return np.asarray(self.r.get_batch_scores(toks, ids))
        return self.r.get_scores(toks)


class TfidfRanker:
    name = "TF-IDF cosine (sklearn default)"

    def __init__(self, texts: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.v = TfidfVectorizer()
        self.x = self.v.fit_transform(texts).tocsr()

    def scores(self, query: str) -> np.ndarray:
        return np.asarray((self.x @ self.v.transform([query]).T).todense()).ravel()


ANCHORS = (Bm25sRanker, RankBm25Ranker, TfidfRanker)


def top(scores: np.ndarray, k: int) -> list[int]:
    k = min(k, len(scores))
    if k == 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in idx[np.argsort(-scores[idx], kind="stable")] if scores[i] > 0]


# ------------------------------------------------------------------ the service

def service_index(jsonl: Path, models: Path):
    """Build (or reuse) the service's index of one JSONL corpus; returns (index, settings).
    Sentence encoders come from QA_ENCODERS (default here `wl`: MiniLM over ~20k research-paper
    sentences costs minutes of CPU per run)."""
    import os

    from qa_service.config import Settings
    from qa_service.service.importer import import_paths
    from qa_service.service.build import load_or_build

    encoders = tuple(e for e in os.environ.get("QA_ENCODERS", "wl").split(",") if e)
    s = Settings(corpus_dir=models / "corpus", models_dir=models / "+".join(encoders or ("none",)), encoders=encoders)
    import_paths(s, [jsonl])  # a no-op once imported
    return load_or_build(s).index, s


def service_rankers(index, settings):
    """(name, answerer-or-None) variants of the service: shipped, abstention off, retrieval stage."""
    from dataclasses import replace

    from qa_service.service.build import make_answerer

    return [("casebook ask (shipped; abstains)", make_answerer(index, settings)),
            ("casebook ask, abstention off", make_answerer(index, replace(settings, abstain_threshold=0.0))),
            ("casebook retrieval stage (sentence BM25)", None)]


def _weights(question: str) -> dict[str, float]:
    from collections import Counter

    from qa_service.text.tokenize import query_terms

    return dict(Counter(query_terms(question)))


# ------------------------------------------------------------------ PubMedQA

def pubmedqa(workdir: Path, data: Path = DATA, log=print, distractors: Path | None = None) -> dict:
    """PubMedQA's 1,000 abstracts, or with `distractors` (E3C's 10,034 case texts) 11,034 documents."""
    from qa_service.corpus.store import jsonl_text

    corpus_path = data / "pubmedqa" / "corpus.jsonl"
    if distractors is not None:
        corpus_path = ds.concatenated((corpus_path, distractors), workdir / "pubmedqa+distractors.jsonl")
    rows = list(ds.read_jsonl(corpus_path))
    ids = [str(r["id"]) for r in rows]
    texts = [jsonl_text(r) for r in rows]
    qs = ds.pubmedqa_questions(data / "pubmedqa" / "questions.jsonl", split="test")
    ks, mrr_k = (1, 10), 10
    out: dict[str, dict] = {}
    t0 = time.perf_counter()
    index, settings = service_index(corpus_path, workdir / f"quality-pubmedqa-{len(rows)}")
    log(f"  pubmedqa: service index {len(index.docs)} docs, {index.n_sentences} sentences "
        f"({time.perf_counter() - t0:.1f} s)")
    for name, answerer in service_rankers(index, settings):
        ranks = []
        for q in qs:
            if answerer is None:
                ranked = ds.index_doc_ranking(index, _weights(q.question), k=mrr_k)
            else:
                ranked = ds.answer_doc_ranking(answerer.ask(q.question, top_k=ASK_TOP_K_DOCS).answers)
            ranks.append(ds.first_hit(ds.doc_hits(ranked[:mrr_k], q)))
        out[name] = ds.RankingScores.from_ranks(ranks, ks, mrr_k).to_dict()
    for cls in ANCHORS:
        r = cls(texts)
        ranks = [ds.first_hit(ds.doc_hits([ids[i] for i in top(r.scores(q.question), mrr_k)], q)) for q in qs]
        out[r.name] = ds.RankingScores.from_ranks(ranks, ks, mrr_k).to_dict()
    log(f"  pubmedqa: {len(qs)} questions scored ({time.perf_counter() - t0:.1f} s)")
    return {"dataset": "PubMedQA PQA-L test" + (" + E3C distractors" if distractors else ""), "n_docs": len(rows), "n_questions": len(qs),
            "task": "document retrieval", "metrics": ["hit@1", "hit@10", "MRR@10"], "systems": out}


# ------------------------------------------------------------------ COVID-QA

def covidqa(workdir: Path, data: Path = DATA, log=print) -> dict:
    corpus_path = data / "covid_qa" / "corpus.jsonl"
    from evaluation.training import covidqa_training_papers

    qs = ds.covidqa_questions(data / "covid_qa" / "questions.jsonl")
    # The shipped ranker was fitted with questions of half the papers: score the other half only.
    seen = covidqa_training_papers({q.doc_id for q in qs})
    qs = [q for q in qs if q.doc_id not in seen]
    ks, mrr_k = (1, 5), 5
    t0 = time.perf_counter()
    index, settings = service_index(corpus_path, workdir / "quality-covidqa")
    log(f"  covidqa: service index {len(index.docs)} docs, {index.n_sentences} sentences "
        f"({time.perf_counter() - t0:.1f} s)")
    s = index.sentences
    # The units every system ranks: the service's indexed sentences (cleaned text, raw spans).
    units = np.flatnonzero(s["indexed"])
    unit_text = [index.docs[int(s["doc"][r])].text[int(s["start"][r]):int(s["end"][r])] for r in units]
    unit_span = [(int(s["raw_start"][r]), int(s["raw_end"][r])) for r in units]
    unit_doc = s["doc"][units]
    doc_units = {index.docs[d].id: np.flatnonzero(unit_doc == d) for d in range(len(index.docs))}
    reachable = sum(bool(ds.first_hit(ds.span_hits([unit_span[i] for i in doc_units[q.doc_id]], q)))
                    for q in qs)
    out: dict[str, dict] = {}
    for name, answerer in service_rankers(index, settings):
        ranks = []
        for q in qs:
            if answerer is None:
                spans = ds.index_sentence_ranking(index, _weights(q.question), q.doc_id, k=mrr_k)
            else:
                spans = ds.answer_spans(answerer.ask(q.question, top_k=mrr_k, document_id=q.doc_id).answers)
            ranks.append(ds.first_hit(ds.span_hits(spans[:mrr_k], q)))
        out[name] = ds.RankingScores.from_ranks(ranks, ks, mrr_k).to_dict()
    for cls in ANCHORS:
        r = cls(unit_text)
        ranks = []
        for q in qs:
            mine = doc_units[q.doc_id]
            if isinstance(r, RankBm25Ranker):  # score only the gold paper's sentences (its batch API)
                sc = r.scores(q.question, [int(i) for i in mine])
            else:
                sc = r.scores(q.question)[mine]
            ranks.append(ds.first_hit(ds.span_hits([unit_span[mine[i]] for i in top(sc, mrr_k)], q)))
        out[r.name] = ds.RankingScores.from_ranks(ranks, ks, mrr_k).to_dict()
    log(f"  covidqa: {len(qs)} questions scored ({time.perf_counter() - t0:.1f} s)")
    return {"dataset": "COVID-QA (2020-04-23), the held-out half of the papers", "n_docs": len(index.docs), "n_questions": len(qs),
            "n_units": int(len(units)), "reachable": reachable,
            "task": "answer sentence inside the gold paper", "metrics": ["hit@1", "hit@5", "MRR@5"],
            "systems": out}


def run(workdir: Path, data: Path = DATA, log=print, large: bool = False) -> list[dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    out = [pubmedqa(workdir, data, log), covidqa(workdir, data, log)]
    if large:
        out.append(pubmedqa(workdir, data, log, distractors=data / "e3c_en_cases" / "cases.jsonl"))
    return out


def to_markdown(results: list[dict]) -> str:
    lines = []
    for res in results:
        head = f"**{res['dataset']}** — {res['task']}, {res['n_questions']} questions, {res['n_docs']} documents"
        if "n_units" in res:
            head += (f", {res['n_units']} indexed sentences; a gold span overlaps an indexed sentence of "
                     f"the gold paper for {res['reachable']}/{res['n_questions']} questions (the ceiling)")
        lines += [head, "", "| system | " + " | ".join(res["metrics"]) + " |",
                  "| --- | " + " | ".join("---:" for _ in res["metrics"]) + " |"]
        for name, m in res["systems"].items():
            lines.append(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in res["metrics"]) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", default="/tmp/casebook-bench", help="derived indexes (outside the repo)")
    p.add_argument("--data", default=str(DATA), help="the shared data folder (read in place)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--large", action="store_true", help="also PubMedQA among 11,034 documents (+ E3C's case texts)")
    args = p.parse_args(argv)
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    results = run(Path(args.workdir), Path(args.data), log, large=args.large)
    print(json.dumps(results, indent=1) if args.json else to_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
