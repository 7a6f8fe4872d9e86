"""Answer a question from the index: score sentences, re-rank candidates, focus, and abstain."""
from __future__ import annotations

import math
import threading
import re
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .analysis import query_terms, query_words, terms as text_terms
from .lexicon import rarity
from .domain import Answer, Entity
from .index import Index
from .passages import window
from .question import GENERAL_SENTENCE, PATIENT_SENTENCE, QuestionAnalysis, analyze_question, holds_type, only_normal

NO_ANSWER = "The report does not seem to answer this question."
DOC_ENTITY_CACHE = 64  # documents whose entities are kept in memory
ROW_TERM_CACHE = 50_000  # sentences whose terms are kept between questions
COMMON_WORD_WEIGHT = 0.5  # query weight of the most everyday word, relative to a rare term
HEAD_CHARS = 60  # a sentence's opening, where the words it is about stand

# Re-ranking weights (tuned on both dev sets; see benchmarks/README.md).
W_LEX = 0.3  # BM25 with neighbour context, relative to the best candidate
W_COVER = 0.35  # idf-weighted share of the question's terms found in the sentence
W_COVER_WIN = 0.10  # ... found in the sentence's passage window
W_TYPE = 0.15  # the sentence holds an answer of the expected type
W_SECTION = 0.15
W_EARLY = 0.10  # the question's words open the sentence (it is about them)
W_DOC = 0.5  # across reports: the sentence's whole report matches the question (document BM25)
_STRONG_DEFINITION = re.compile(r"\((?:or|i\.e\.|also known as)\b|\b(?:is|are) defined as\b|\brefers? to\b|\b(?:also )?known as\b", re.I)

# Answerability: a logistic model over the top answer's evidence, fitted on both dev sets
# (benchmarks/calibrate.py prints these).
RARE = 0.62  # rarity (lexicon.rarity) from which a word counts as a specific term: Zipf frequency <= 3.6
OUR_PATIENT = re.compile(r"\b(?:our|this|the present|the current) (?:patient|case)\b|\bin our case\b", re.I)
STRICT_TYPES = frozenset({"age", "dose", "measurement", "count", "date", "duration"})
ABSTAIN_COEF = {"bias": 0.97, "cover": 0.35, "cover_win": 0.23, "typed": 0.21, "miss_doc": -1.53, "miss_win": -1.93,
                "untyped_strict": -2.63}


@dataclass
class AskResult:
    question: str
    answers: list[Answer]
    analysis: QuestionAnalysis
    message: str | None = None
    question_entities: list[Entity] = field(default_factory=list)
    took_ms: float = 0.0

    def to_dict(self) -> dict:
        d = {"question": self.question, "answers": [a.to_dict() for a in self.answers],
             "question_analysis": self.analysis.to_dict(),
             "question_entities": [e.to_dict() for e in self.question_entities],
             "took_ms": round(self.took_ms, 2)}
        if self.message:
            d["message"] = self.message
        return d


@dataclass
class _Candidate:
    row: int
    lex: float
    cover: float = 0.0
    cover_win: float = 0.0
    typed: float = 0.0
    section: float = 0.0
    early: float = 0.0
    doc: float | None = None  # the sentence's report's BM25 relative to the best report (across reports)
    final: float = 0.0
    answerability: float = 0.0
    features: dict = field(default_factory=dict)


class UnknownDocument(KeyError):
    """The question was restricted to a document the index does not hold."""


class Answerer:
    """Question answering over one loaded Index."""

    def __init__(self, index: Index, *, expand: Callable[[str], list[tuple[str, frozenset[str]]]] | None = None,
                 concept_weight: float = 0.5,
                 entities: Callable[[str], list[Entity]] | None = None,
                 concepts: Callable[[str], list[str]] | None = None,
                 concept_label: Callable[[str], str | None] | None = None,
                 context_weight: float = 0.35, candidates: int = 60, abstain_threshold: float = 0.5,
                 doc_weight: float = 2.0):
        self.index = index
        self.expand = expand
        self.concept_weight = concept_weight
        self.entities = entities
        self.concepts = concepts
        self.concept_label = concept_label
        self.context_weight = context_weight
        self.doc_weight = doc_weight
        self.candidates = candidates
        self.abstain_threshold = abstain_threshold
        self._doc_entities: OrderedDict[str, list[Entity]] = OrderedDict()  # small LRU cache
        self._row_terms: dict[int, frozenset[str]] = {}
        self._cache_lock = threading.Lock()
        s = index.sentences
        # Neighbours count as context only inside the same section of the same document.
        same = (s["doc"][1:] == s["doc"][:-1]) & (s["section"][1:] == s["section"][:-1])
        self._same_prev = np.concatenate([[False], same])
        self._same_next = np.concatenate([same, [False]])
        # Canonical section name of every sentence, as ids into self._section_names (vectorised filters).
        names: dict[str, int] = {}
        per_doc = [[names.setdefault(sec.name.lower(), len(names)) for sec in doc.sections] for doc in index.docs]
        self._section_ids = np.array([per_doc[d][k] for d, k in zip(s["doc"], s["section"])], dtype=np.int32) \
            if len(s["doc"]) else np.zeros(0, dtype=np.int32)
        self._section_index = names
        # Clinical findings (HPO concepts) per sentence, read off the index: "what symptoms did she
        # have?" may share no word with the sentence that lists them.
        hp_cols = [i for t, i in index.vocab.items() if t.startswith("HP:")]
        self._n_findings = np.bincount(index.matrix[:, hp_cols].indices, minlength=index.n_sentences) \
            if hp_cols else np.zeros(index.n_sentences, dtype=np.int64)

    # ------------------------------------------------------------------ public
    def ask(self, question: str, top_k: int = 3, document_id: str | None = None,
            section: str | None = None) -> AskResult:
        t0 = time.perf_counter()
        q_terms = query_terms(question)
        analysis = analyze_question(question, q_terms)
        mentions = self.expand(question) if self.expand else []
        # How specific each question word is (general-English rarity of the word as asked), used by
        # the query weights and the answerability judgement alike.
        surface = query_words(question)
        rarities = {t: rarity(surface.get(t, t)) for t in set(q_terms)}
        weights = self._query_weights(q_terms, mentions, rarities)
        rows = self._rows(document_id)
        answers: list[Answer] = []
        cands = self._candidates(weights, rows, section, analysis) if weights else []
        if cands:
            self._rerank(cands, q_terms, mentions, weights, analysis)
            self._judge(cands[: max(top_k, 1) * 2], q_terms, rarities, mentions, analysis)
            answers = self._select(cands, top_k)
        q_entities = self.entities(question) if self.entities else []
        message = None if answers else NO_ANSWER
        return AskResult(question, answers, analysis, message, q_entities, (time.perf_counter() - t0) * 1000)

    def warm_up(self) -> None:
        """Load the lazily loaded parts (spaCy's tokenizer, word frequencies) before serving."""
        if self.entities:
            self.entities("No fever.")
        rarity("fever")

    def document_entities(self, doc) -> list[Entity]:
        """Entities of a whole document (computed on first request, then cached)."""
        if not self.entities:
            return []
        with self._cache_lock:
            cached = self._doc_entities.pop(doc.id, None)
        if cached is None:
            cached = self.entities(doc.text)
        with self._cache_lock:
            self._doc_entities[doc.id] = cached
            while len(self._doc_entities) > DOC_ENTITY_CACHE:
                self._doc_entities.popitem(last=False)
        return cached

    # ------------------------------------------------------------------ steps
    def _rows(self, document_id: str | None) -> slice:
        if document_id is None:
            return slice(0, self.index.n_sentences)
        d = self.index.doc_by_id.get(document_id)
        if d is None:
            raise UnknownDocument(document_id)
        return slice(int(self.index.doc_rows[d]), int(self.index.doc_rows[d + 1]))

    def _query_weights(self, q_terms: list[str], mentions: list[tuple[str, frozenset[str]]],
                       rarities: dict[str, float]) -> dict[str, float]:
        # Everyday words ("affected", "given") say less than clinical terms: a general-English prior
        # on top of the corpus idf.
        weights: dict[str, float] = {t: n * (COMMON_WORD_WEIGHT + (1 - COMMON_WORD_WEIGHT) * rarities[t])
                                     for t, n in Counter(q_terms).items()}
        for cid, _ in mentions:
            weights[cid] = max(weights.get(cid, 0.0), self.concept_weight)
        return weights

    def _candidates(self, weights: dict[str, float], rows: slice, section: str | None,
                    analysis: QuestionAnalysis) -> list[_Candidate]:
        base = self.index.score(weights, rows)
        doc_rel = None  # per question, never on self: threads share this Answerer
        ctx = base.copy()
        prev_ok = self._same_prev[rows]
        next_ok = self._same_next[rows]
        ctx[1:] += self.context_weight * base[:-1] * prev_ok[1:]
        ctx[:-1] += self.context_weight * base[1:] * next_ok[:-1]
        ctx *= self.index.sentences["indexed"][rows]
        if self.doc_weight and self._spans_documents(rows):
            # Across reports, a sentence's report matters too: whole-document BM25, relative to the best.
            docs = self.index.doc_scores(weights)
            if docs.max() > 0:
                doc_rel = docs / docs.max()
                doc_of = self.index.sentences["doc"][rows]
                ctx += (ctx > 0) * self.doc_weight * ctx.max() * doc_rel[doc_of]
        sec_ids = self._section_ids[rows]
        indexed = self.index.sentences["indexed"][rows]
        if analysis.section:  # "what is the conclusion?": the named section's sentences are candidates too
            named = self._section_index.get(analysis.section.lower(), -1)
            ctx += 1e-3 * (sec_ids == named) * indexed
        if analysis.answer_type == "findings":  # sentences listing findings are candidates too
            ctx += 1e-3 * (self._n_findings[rows] >= 2) * indexed
        if section:
            ctx *= sec_ids == self._section_index.get(section.strip().lower(), -1)
        touched = np.flatnonzero(ctx > 0)  # only rows the question's terms reach
        k = min(self.candidates, len(touched))
        if k == 0:
            return []
        top = touched[np.argpartition(-ctx[touched], k - 1)[:k]] if len(touched) > k else touched
        return [_Candidate(rows.start + int(i), float(ctx[i]),
                           doc=float(doc_rel[int(self.index.sentences["doc"][rows.start + int(i)])])
                           if doc_rel is not None else None) for i in top]

    def _spans_documents(self, rows: slice) -> bool:
        return rows.stop > rows.start and self.index.sentences["doc"][rows.start] != self.index.sentences["doc"][rows.stop - 1]

    def _section_name(self, row: int) -> str:
        doc = self.index.docs[int(self.index.sentences["doc"][row])]
        return doc.sections[int(self.index.sentences["section"][row])].name

    def _sentence_text(self, row: int) -> str:
        s = self.index.sentences
        doc = self.index.docs[int(s["doc"][row])]
        return doc.text[int(s["start"][row]):int(s["end"][row])]

    def _rerank(self, cands: list[_Candidate], q_terms: list[str], mentions: list[tuple[str, frozenset[str]]],
                weights: dict[str, float], qa: QuestionAnalysis) -> None:
        # Coverage is counted per question word: a word is covered by itself or by a concept that
        # stands for it ("kidney" by "renal"), weighted by the word's idf.
        words = list(dict.fromkeys(q_terms))
        idf = {t: self.index.term_idf(t) for t in words}
        alternatives = {t: {cid for cid, stems in mentions if t in stems} for t in words}
        total = sum(idf.values()) or 1.0
        best_lex = max(c.lex for c in cands) or 1.0
        for c in cands:
            text = self._sentence_text(c.row)
            own = self._terms_of(c.row)
            concepts = {t for t in own if ":" in t}
            win = self._window_terms(c.row)
            hit = {t for t in words if t in own or alternatives[t] & own}
            hit_win = {t for t in words if t in win or alternatives[t] & win}
            c.cover = sum(idf[t] for t in hit) / total
            c.cover_win = sum(idf[t] for t in hit_win) / total
            labels = Counter(self.concept_label(cid) for cid in concepts) if self.concept_label else Counter()
            c.typed = self._type_evidence(qa, text, labels, words)
            c.section = self._section_prior(self._section_name(c.row), qa, text)
            c.early = self._early(c.row, words, idf, alternatives)
            c.final = (W_LEX * c.lex / best_lex + W_COVER * c.cover + W_COVER_WIN * c.cover_win
                       + W_TYPE * c.typed + W_SECTION * c.section + W_EARLY * c.early)
            if c.doc is not None:
                c.final += W_DOC * c.doc
        cands.sort(key=lambda c: c.final, reverse=True)

    def _judge(self, cands: list[_Candidate], q_terms: list[str], rarities: dict[str, float],
               mentions: list[tuple[str, frozenset[str]]], analysis: QuestionAnalysis) -> None:
        """Answerability of the leading candidates: how much of the question they cover, and whether
        a rare (specific) word of the question is missing from the candidate's whole document."""
        words = list(dict.fromkeys(q_terms))
        # Broad families ("scan" for CT) help retrieval but do not show the report answers the question.
        alternatives = {t: [cid for cid, stems in mentions if t in stems and not cid.startswith("FAMILY:")]
                        for t in words}
        for c in cands:
            d = int(self.index.sentences["doc"][c.row])
            win_terms = self._window_terms(c.row)
            miss_doc = miss_win = 0.0
            for t in words:
                # A clinical term (a concept of the vocabulary) or a rare word names something specific.
                r = 1.0 if alternatives[t] else rarities[t]
                specific = r if r >= RARE else 0.0
                if t in win_terms or any(a in win_terms for a in alternatives[t]):
                    continue
                miss_win = max(miss_win, specific)
                if not (self.index.doc_has_term(d, t) or any(self.index.doc_has_term(d, a) for a in alternatives[t])):
                    miss_doc = max(miss_doc, specific)
            strict = analysis.answer_type in STRICT_TYPES
            c.features = {"cover": c.cover, "cover_win": c.cover_win, "typed": c.typed,
                          "miss_doc": miss_doc, "miss_win": miss_win,
                          "untyped_strict": 1.0 if strict and not c.typed else 0.0}
            z = ABSTAIN_COEF["bias"] + sum(ABSTAIN_COEF[k] * v for k, v in c.features.items())
            c.answerability = 1.0 / (1.0 + math.exp(-z))

    def _terms_of(self, row: int, head: bool = False) -> frozenset[str]:
        """A sentence's index terms (stems and concept ids), or those of its first 60 characters,
        cached across questions."""
        key = -row - 1 if head else row
        cached = self._row_terms.get(key)
        if cached is None:
            text = self._sentence_text(row)[:HEAD_CHARS] if head else self._sentence_text(row)
            cached = frozenset(text_terms(text)) | frozenset(self.concepts(text) if self.concepts else ())
            if len(self._row_terms) >= ROW_TERM_CACHE:
                self._row_terms.clear()  # rare; simpler and thread-safe, unlike evicting while others read
            self._row_terms[key] = cached
        return cached

    def _window_terms(self, row: int) -> set[str]:
        """Terms of a sentence and of its neighbours in the same section."""
        out = set(self._terms_of(row))
        if self._same_prev[row]:
            out |= self._terms_of(row - 1)
        if row + 1 < len(self._same_next) and self._same_next[row]:
            out |= self._terms_of(row + 1)
        return out

    def _early(self, row: int, words: list[str], idf: dict[str, float], alternatives: dict[str, set[str]]) -> float:
        """Share of the question's words in the sentence's first words: the sentence is about them."""
        head_terms = self._terms_of(row, head=True)
        total = sum(idf.values()) or 1.0
        return sum(idf[t] for t in words if t in head_terms or alternatives[t] & head_terms) / total

    @staticmethod
    def _type_evidence(qa: QuestionAnalysis, text: str, labels: Counter, words: list[str]) -> float:
        if qa.answer_type == "definition":
            lead = set(text_terms(text[:50]))
            if not words or not all(t in lead for t in words):
                return 0.0
            return 1.0 if _STRONG_DEFINITION.search(text[:120]) else (0.5 if holds_type("definition", text) else 0.0)
        if qa.answer_type in ("finding", "findings") and not qa.yes_no and only_normal(text, labels):
            return -1.0
        return 1.0 if holds_type(qa.answer_type, text, labels) else 0.0

    @staticmethod
    def _section_prior(name: str, qa: QuestionAnalysis, text: str) -> float:
        """Section and sentence evidence: case narrative for questions about the patient, the
        discussion for general ones, the section a question names."""
        if name == "Front matter":
            return -1.0
        if qa.section:
            return 2.0 if name == qa.section else -0.5
        patient_like = len(PATIENT_SENTENCE.findall(text)) - len(GENERAL_SENTENCE.findall(text))
        if qa.about_patient:
            prior = {"Case report": 1.0, "Body": 0.8, "Results": 0.6, "Abstract": 0.3}.get(name, 0.0)
            if name.startswith(("Figure", "Table")):
                prior = 0.3
            if OUR_PATIENT.search(text):  # the discussion restating this patient's facts
                prior = max(prior, 0.8)
            return prior + 0.25 * max(-2, min(2, patient_like))
        return (0.5 if name in ("Discussion", "Introduction", "Conclusion") else 0.0) - 0.25 * max(-2, min(2, patient_like))

    def _select(self, cands: list[_Candidate], top_k: int) -> list[Answer]:
        if cands[0].answerability < self.abstain_threshold:
            return []
        chosen: list[Answer] = []
        used: set[int] = set()
        for c in cands:
            if len(chosen) >= top_k:
                break
            if c.row in used or c.answerability < self.abstain_threshold * 0.5:
                continue
            answer, rows = self._make_answer(c)
            used.update(rows)
            chosen.append(answer)
        return chosen

    def _make_answer(self, c: _Candidate) -> tuple[Answer, range]:
        idx = self.index
        s = idx.sentences
        d = int(s["doc"][c.row])
        doc = idx.docs[d]
        lo_doc = int(idx.doc_rows[d])
        local = c.row - lo_doc
        sentences = doc.sentences
        first = last = local
        # A very short sentence ("She was pale.") reads better with the next one of its paragraph.
        if (sentences[local].end - sentences[local].start < 60 and local + 1 < len(sentences)
                and sentences[local + 1].paragraph == sentences[local].paragraph):
            last = local + 1
        plo, phi = window(sentences, local)
        plo, phi = min(plo, first), max(phi, last + 1)
        start, end = sentences[first].start, sentences[last].end
        p_start, p_end = sentences[plo].start, sentences[phi - 1].end
        entities = [e for e in self.entities(doc.text[start:end])] if self.entities else []
        entities = [Entity(e.text, e.label, e.start + start, e.end + start, e.negated, e.assertion, e.concept)
                    for e in entities]
        answer = Answer(
            text=doc.text[start:end], passage=doc.text[p_start:p_end], document_id=doc.id,
            document_title=doc.title, section=doc.sections[sentences[local].section].name,
            score=round(c.answerability * (0.5 + 0.5 * min(1.0, c.final)), 4),
            start=start, end=end, passage_start=p_start, passage_end=p_end,
            raw_start=sentences[first].raw_start, raw_end=sentences[last].raw_end, entities=entities,
        )
        return answer, range(lo_doc + first, lo_doc + last + 1)
