"""One feature vector per (question, candidate sentence). The ranker and the answerability model
learn how to combine them; nothing here is a weight."""
from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..text.layout import CASE_PARTS, NARRATIVE_SECTIONS
from ..text.tokenize import QUESTION_STOP_WORDS, tokens, terms as text_terms
from ..index.bm25 import Index
from .question import GENERAL_SENTENCE, PATIENT_SENTENCE, holds_type, only_normal
from .cases import CaseAges, in_named_case, segment
from .candidates import Candidates
from .query import Query

HEAD_CHARS = 60  # a sentence's opening, where the words it is about stand
HEAD_CACHE = 50_000
WORD_CACHE = 200_000
DOC_CACHE = 64
RARE = 0.62  # rarity from which a missing word counts as a specific term (Zipf <= 3.6)
STRICT_TYPES = frozenset({"age", "dose", "measurement", "count", "date", "duration"})
FINDING_TYPES = frozenset({"finding", "findings", "diagnosis"})
OUR_PATIENT = re.compile(r"\b(?:our|this|the present|the current) (?:patient|case)\b|\bin our case\b", re.I)
STRONG_DEFINITION = re.compile(r"\((?:or|i\.e\.|also known as)\b|\b(?:is|are) defined as\b|\brefers? to\b|\b(?:also )?known as\b", re.I)
NUMBER = re.compile(r"\d")

# Sentence encoders whose cosines are features, by short name (qa_service.semantic names them);
# an encoder the Answerer was not given contributes zeros.
ENCODERS = {"wl": "wordllama-l2-supercat-256", "lm": "minilm-l6-v2"}
WORD_ENCODER = "wl"  # static embeddings also give word vectors (soft coverage of question words)

# Section groups a ranker can learn a preference for (crossed with "about this patient").
SECTION_GROUPS = ("narrative", "abstract", "general", "results", "caption", "front", "other")
_GROUP_OF = {"case report": "narrative", "body": "narrative", "case presentation": "narrative",
             "abstract": "abstract", "discussion": "general", "introduction": "general",
             "conclusion": "general", "results": "results", "front matter": "front"}

FEATURES: tuple[str, ...] = (
    "bm25", "ctx", "lex_rank", "doc",
    "cover", "cover_win", "cover_plain", "concept_cover", "early", "miss_win", "all_covered",
    "soft_cover", "soft_min",
    *(f"sem_{e}{k}" for e in ENCODERS for k in ("", "_win", "_rank", "_top")),
    "typed", "typed_strict", "untyped_strict", "only_normal", "findings", "number",
    *(f"sec_{g}_patient" for g in SECTION_GROUPS), *(f"sec_{g}_general" for g in SECTION_GROUPS),
    "sec_named", "sec_other_named", "patient_like", "patient_like_q", "our_patient",
    "case_named", "case_other",
    "length", "short", "position",
)


@dataclass(frozen=True)
class RowFacts:
    """What the features read of a sentence whatever the question (cached per row)."""
    text: str
    labels: Counter  # entity labels of the row's concepts
    section: str
    group: str  # section_group(section)
    patient_like: float  # patient-narrative minus general wording, clipped to [-1, 1]
    our_patient: bool
    length: float
    short: bool
    position: float  # 0 at the report's first sentence, 1 at its last
    only_normal: bool
    number: bool


def section_group(name: str) -> str:
    if name in NARRATIVE_SECTIONS:
        return "narrative"
    low = name.lower()
    if low.startswith(("figure", "table")):
        return "caption"
    return _GROUP_OF.get(low, "other")


def story_parts(names: Sequence[str]) -> list[int]:
    """For a report's section names, the part of the report each belongs to: the parts of a patient's
    narrative under their own headings ("Physical examination", "Treatment") stay one part with the
    narrative they continue, as does a section continued under a paragraph heading."""
    parts: list[int] = []
    for i, name in enumerate(names):
        prev = names[i - 1] if i else None
        same = prev is not None and (name == prev or (name in CASE_PARTS and prev in NARRATIVE_SECTIONS))
        parts.append(parts[-1] if same else i)
    return parts


class FeatureExtractor:
    """Features of candidates, from the index's sentence-term matrix (rows as CSR) and the texts."""

    def __init__(self, index: Index, concepts: Callable[[str], list[str]] | None = None,
                 concept_label: Callable[[str], str | None] | None = None,
                 encode_words: Callable[[list[str]], np.ndarray] | None = None):
        self.index = index
        self.encode_words = encode_words
        self._word_vec: dict[str, np.ndarray] = {}
        self._row_words: dict[int, tuple[str, ...]] = {}
        self._row_vecs: dict[int, np.ndarray] = {}  # unit vectors of row_words(row), stacked
        self._doc_vecs: dict[int, np.ndarray] = {}  # a few documents' word vectors (oldest dropped first)
        self.concepts = concepts
        self.concept_label = concept_label
        self.rows_ = index.matrix.tocsr()
        self.rows_.data = np.ones_like(self.rows_.data)
        inv = {i: t for t, i in index.vocab.items()}
        self.col_label_ = {i: (concept_label(t) if concept_label else None) for i, t in inv.items() if ":" in t}
        s = index.sentences
        same = (s["doc"][1:] == s["doc"][:-1]) & (s["section"][1:] == s["section"][:-1])
        self.same_prev_ = np.concatenate([[False], same])
        self.same_next_ = np.concatenate([same, [False]])
        self._heads: dict[int, frozenset[str]] = {}
        self._facts: dict[int, RowFacts] = {}
        self._cases: dict[int, tuple[list[int], CaseAges, list[int]]] = {}  # doc -> segment(), parts
        self._lock = threading.Lock()

    # -------------------------------------------------------------- helpers
    def text(self, row: int) -> str:
        s = self.index.sentences
        doc = self.index.docs[int(s["doc"][row])]
        return doc.text[int(s["start"][row]):int(s["end"][row])]

    def section_name(self, row: int) -> str:
        s = self.index.sentences
        doc = self.index.docs[int(s["doc"][row])]
        return doc.sections[int(s["section"][row])].name

    def facts(self, row: int) -> RowFacts:
        got = self._facts.get(row)
        if got is None:
            text = self.text(row)
            labels = Counter(self.col_label_.get(c) for c in self.rows_.indices[self.rows_.indptr[row]:self.rows_.indptr[row + 1]]
                             if c in self.col_label_)
            name = self.section_name(row)
            d = int(self.index.sentences["doc"][row])
            lo, hi = int(self.index.doc_rows[d]), int(self.index.doc_rows[d + 1])
            like = len(PATIENT_SENTENCE.findall(text)) - len(GENERAL_SENTENCE.findall(text))
            got = RowFacts(text=text, labels=labels, section=name, group=section_group(name),
                           patient_like=max(-2, min(2, like)) / 2, our_patient=bool(OUR_PATIENT.search(text)),
                           length=math.log1p(len(text)) / 6, short=len(text) < 40,
                           position=(row - lo) / max(hi - lo - 1, 1), only_normal=only_normal(text, labels),
                           number=bool(NUMBER.search(text)))
            if len(self._facts) >= HEAD_CACHE:
                with self._lock:
                    self._facts.clear()
            self._facts[row] = got
        return got

    def case_of(self, row: int) -> tuple[int, int, CaseAges]:
        """The row's case in a case series (0: none), the part of the report it lies in (story_parts),
        and the ages of the report's cases (cases.segment, cached per report)."""
        s = self.index.sentences
        d = int(s["doc"][row])
        lo = int(self.index.doc_rows[d])
        got = self._cases.get(d)
        if got is None:
            hi = int(self.index.doc_rows[d + 1])
            part = story_parts([sec.name for sec in self.index.docs[d].sections])
            parts = [part[int(x)] for x in s["section"][lo:hi]]
            cases, ages = segment([self.text(r) for r in range(lo, hi)], parts)
            got = (cases, ages, parts)
            if len(self._cases) >= DOC_CACHE:
                with self._lock:
                    self._cases.clear()
            self._cases[d] = got
        return got[0][row - lo], got[2][row - lo], got[1]

    def head_terms(self, row: int) -> frozenset[str]:
        got = self._heads.get(row)
        if got is None:
            head = self.text(row)[:HEAD_CHARS]
            got = frozenset(text_terms(head)) | frozenset(self.concepts(head) if self.concepts else ())
            if len(self._heads) >= HEAD_CACHE:
                with self._lock:
                    self._heads.clear()
            self._heads[row] = got
        return got

    # ---------------------------------------------------------- word vectors
    def word_vectors(self, words: list[str]) -> np.ndarray:
        """Unit vectors of words (cached; (len(words), dim)); only with a word encoder."""
        missing = [w for w in dict.fromkeys(words) if w not in self._word_vec]
        if missing:
            if len(self._word_vec) > WORD_CACHE:
                with self._lock:
                    self._word_vec.clear()
            assert self.encode_words is not None, "word vectors asked for without a word encoder"
            for w, v in zip(missing, self.encode_words(missing)):
                self._word_vec[w] = v.astype(np.float32)
        return np.stack([self._word_vec[w] for w in words]) if words else np.zeros((0, 1), dtype=np.float32)

    def row_words(self, row: int) -> tuple[str, ...]:
        got = self._row_words.get(row)
        if got is None:
            got = tuple(dict.fromkeys(t for t in tokens(self.text(row)) if t not in QUESTION_STOP_WORDS and not t.isdigit()))
            if len(self._row_words) >= HEAD_CACHE:
                with self._lock:
                    self._row_words.clear()
            self._row_words[row] = got
        return got

    def doc_similarity(self, d: int, word: str) -> float:
        """The best cosine of `word` with a word of document d (0 without word vectors)."""
        if self.encode_words is None:
            return 0.0
        vecs = self._doc_vecs.get(d)
        if vecs is None:
            lo, hi = int(self.index.doc_rows[d]), int(self.index.doc_rows[d + 1])
            words = list(dict.fromkeys(w for r in range(lo, hi) for w in self.row_words(r)))
            vecs = self.word_vectors(words) if words else np.zeros((0, 1), dtype=np.float32)
            with self._lock:
                if len(self._doc_vecs) >= DOC_CACHE:
                    self._doc_vecs.pop(next(iter(self._doc_vecs)))
                self._doc_vecs[d] = vecs
        if not len(vecs):
            return 0.0
        return float((vecs @ self.word_vectors([word])[0]).max())

    def row_word_vectors(self, row: int) -> np.ndarray:
        """word_vectors(row_words(row)), cached per row: (words of the row, dim)."""
        got = self._row_vecs.get(row)
        if got is None:
            got = self.word_vectors(list(self.row_words(row)))
            if len(self._row_vecs) >= HEAD_CACHE:
                with self._lock:
                    self._row_vecs.clear()
            self._row_vecs[row] = got
        return got

    def soft_match(self, qvecs: np.ndarray, rows) -> np.ndarray:
        """(len(rows), n question words): each question word's best cosine with a word of the row."""
        out = np.zeros((len(rows), len(qvecs)))
        for i, row in enumerate(rows):
            if self.row_words(int(row)):
                out[i] = (self.row_word_vectors(int(row)) @ qvecs.T).max(axis=0)
        return out

    def _presence(self, rows: np.ndarray, groups: list[list[str]]) -> np.ndarray:
        """(len(rows), len(groups)) bool: the row holds any term of each group."""
        vocab = self.index.vocab
        cols = sorted({vocab[t] for g in groups for t in g if t in vocab})
        out = np.zeros((len(rows), len(groups)), dtype=bool)
        if not cols or not len(rows):
            return out
        pos = {c: i for i, c in enumerate(cols)}
        sub = self.rows_[rows][:, cols].toarray() > 0
        for j, g in enumerate(groups):
            idx = [pos[vocab[t]] for t in g if t in vocab]
            if idx:
                out[:, j] = sub[:, idx].any(axis=1)
        return out

    def _windows(self, rows: np.ndarray, group_sets: list[list[list[str]]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each list of term groups: (present in the row, present in the row or a neighbour of
        its section), each (len(rows), len(groups)); one gather from the matrix for all of them."""
        n, k = self.index.n_sentences, len(rows)
        every = np.concatenate([rows, np.clip(rows - 1, 0, n - 1), np.clip(rows + 1, 0, n - 1)])
        present = self._presence(every, [g for groups in group_sets for g in groups])
        prev_ok, next_ok = self.same_prev_[rows][:, None], self.same_next_[rows][:, None]
        out, c = [], 0
        for groups in group_sets:
            p = present[:, c:c + len(groups)]
            c += len(groups)
            own = p[:k]
            out.append((own, own | (p[k:2 * k] & prev_ok) | (p[2 * k:] & next_ok)))
        return out

    # -------------------------------------------------------------- features
    def transform(self, q: Query, cands: Candidates, encoders: tuple[str, ...] = ()) -> np.ndarray:
        """Features of each candidate; `encoders` names the columns of cands.sem (keys of ENCODERS)."""
        n = len(cands)
        X = np.zeros((n, len(FEATURES)), dtype=np.float64)
        if n == 0:
            return X
        f = {name: i for i, name in enumerate(FEATURES)}
        rows = cands.rows
        words = q.words
        idf = np.array([self.index.term_idf(t) for t in words]) if words else np.zeros(0)
        total = idf.sum() or 1.0
        groups = [[*q.forms(t), *q.alternatives.get(t, [])] for t in words]
        strict = [[*q.forms(t), *q.strict_alternatives.get(t, [])] for t in words]
        cids = list(dict.fromkeys(c for c, _ in q.mentions if not c.startswith("FAMILY:")))
        (own, win), (_, win_strict), (concept_hit, _) = self._windows(rows, [groups, strict, [[c] for c in cids]])
        specific = np.array([1.0 if q.strict_alternatives.get(t) else q.rarities.get(t, 0.0) for t in words])
        specific = np.where(specific >= RARE, specific, 0.0)

        best = lambda a: a / a.max() if a.max() > 0 else a  # noqa: E731
        X[:, f["bm25"]] = best(cands.bm25)
        X[:, f["ctx"]] = best(cands.ctx)
        X[:, f["lex_rank"]] = _rank_score(cands.ctx)
        X[:, f["doc"]] = cands.doc
        if words:
            X[:, f["cover"]] = own @ idf / total
            X[:, f["cover_win"]] = win @ idf / total
            X[:, f["cover_plain"]] = own.mean(axis=1)
            X[:, f["miss_win"]] = ((~win_strict) * specific).max(axis=1)
            X[:, f["all_covered"]] = win.all(axis=1)
        X[:, f["concept_cover"]] = concept_hit.mean(axis=1) if cids else 0.0
        self.set_semantic(X, rows, cands.sem, encoders)
        if words and self.encode_words is not None:
            surface = [q.surface.get(t, t) for t in words]
            soft = np.maximum(self.soft_match(self.word_vectors(surface), rows), own)  # a shared stem matches fully
            X[:, f["soft_cover"]] = soft @ idf / total
            spec = specific > 0
            X[:, f["soft_min"]] = soft[:, spec].min(axis=1) if spec.any() else 1.0
        qa = q.analysis
        strict_type = qa.answer_type in STRICT_TYPES
        finding_type = qa.answer_type in FINDING_TYPES
        for i, row in enumerate(rows):
            row = int(row)
            rf = self.facts(row)
            typed = _type_evidence(qa, rf.text, rf.labels, words, rf.only_normal)
            X[i, f["typed"]] = typed
            X[i, f["typed_strict"]] = typed * strict_type
            X[i, f["untyped_strict"]] = float(strict_type and typed <= 0)
            X[i, f["only_normal"]] = float(finding_type and not qa.yes_no and rf.only_normal)
            X[i, f["findings"]] = min(rf.labels.get("FINDING", 0), 4) / 4 * finding_type
            X[i, f["number"]] = float(rf.number) * strict_type
            X[i, f[f"sec_{rf.group}_{'patient' if qa.about_patient else 'general'}"]] = 1.0
            if qa.section:
                X[i, f["sec_named" if rf.section == qa.section else "sec_other_named"]] = 1.0
            X[i, f["patient_like"]] = rf.patient_like
            X[i, f["patient_like_q"]] = rf.patient_like * (1 if qa.about_patient else -1)
            X[i, f["our_patient"]] = float(rf.our_patient)
            if qa.case is not None:
                named = in_named_case(qa.case, *self.case_of(row))
                X[i, f["case_named"]], X[i, f["case_other"]] = float(named > 0), float(named < 0)
            X[i, f["length"]] = rf.length
            X[i, f["short"]] = float(rf.short)
            X[i, f["position"]] = rf.position
            if words:
                head = self.head_terms(row)
                X[i, f["early"]] = sum(idf[j] for j, t in enumerate(words)
                                       if any(a in head for a in (*q.forms(t), *q.alternatives.get(t, ())))) / total
        return X

    def set_semantic(self, X: np.ndarray, rows: np.ndarray, sem: np.ndarray, encoders: tuple[str, ...]) -> None:
        """Write the sentence-vector columns of X from `sem`, the (rows, encoders) cosines."""
        for k, name in enumerate(encoders):
            e = FEATURES.index(f"sem_{name}")
            cos = sem[:, k]
            X[:, e] = cos
            X[:, FEATURES.index(f"sem_{name}_rank")] = _rank_score(cos)
            X[:, FEATURES.index(f"sem_{name}_top")] = cos >= cos.max()
            X[:, FEATURES.index(f"sem_{name}_win")] = self._sem_window(rows, cos)

    def _sem_window(self, rows: np.ndarray, sem: np.ndarray) -> np.ndarray:
        """The best cosine among the candidate and its candidate neighbours (same section)."""
        by_row = dict(zip(rows.tolist(), sem.tolist()))
        out = sem.copy()
        for i, r in enumerate(rows.tolist()):
            if self.same_prev_[r] and r - 1 in by_row:
                out[i] = max(out[i], by_row[r - 1])
            if r + 1 < len(self.same_next_) and self.same_next_[r] and r + 1 in by_row:
                out[i] = max(out[i], by_row[r + 1])
        return out


def _rank_score(scores: np.ndarray) -> np.ndarray:
    """1 / log2(rank + 1) by descending score (1 for the best)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    return 1.0 / np.log2(ranks + 1)


def _type_evidence(qa, text: str, labels: Counter, words: list[str], normal_only: bool) -> float:
    """`normal_only`: only_normal(text, labels), computed once per row."""
    if qa.answer_type == "definition":
        lead = set(text_terms(text[:50]))
        if not words or not all(t in lead for t in words):
            return 0.0
        return 1.0 if STRONG_DEFINITION.search(text[:120]) else (0.5 if holds_type("definition", text) else 0.0)
    if qa.answer_type in ("finding", "findings") and not qa.yes_no and normal_only:
        return -1.0
    return 1.0 if holds_type(qa.answer_type, text, labels) else 0.0
