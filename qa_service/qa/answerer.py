"""The orchestrator: question -> candidates -> features -> ranker -> answerability -> answers."""
from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..domain import Answer, Entity
from ..index.bm25 import Index
from ..clinical.rarity import rarity
from ..text.tokenize import query_terms, stem
from .question import QuestionAnalysis, analyze_question
from .adapter import QueryAdapter, load_adapters
from .tower import QuestionTower, load_tower
from .answerability import ANSWERABILITY_FEATURES, AnswerabilityModel, question_features
from .errors import UnknownDocument
from ..corpus.store import resolve_doc_id
from .candidates import CandidateRetriever, Candidates
from .features import ENCODERS, FEATURES, RARE, WORD_ENCODER, STRICT_TYPES, FeatureExtractor
from .focus import make_answer
from .query import Mentions, Query, analyse
from .ranker import ListwiseRanker
from .reasons import decline_message, explain
from .followup import FRAME, Resolution, Turn, resolve
from .spans import distance, anchors, find_span, span_type
from .verdict import NOT_STATED, verdict

NO_ANSWER = "The report does not seem to answer this question."
SUMMARY_CACHE = 256  # report summaries an answerer keeps
CARRIED_WEIGHT = 0.5  # retrieval weight of a word carried from earlier turns, relative to the asked ones
REFERENT_LABELS = frozenset({"FINDING", "DISEASE", "DRUG", "PROCEDURE", "TEST"})  # what "it" can stand for
MODEL_FILE = Path(__file__).with_name("model.json")


@dataclass
class AskResult:
    question: str
    answers: list[Answer]
    analysis: QuestionAnalysis
    message: str | None = None
    question_entities: list[Entity] = field(default_factory=list)
    took_ms: float = 0.0
    answerability: float | None = None
    corrected: dict[str, str] = field(default_factory=dict)
    verdict: str | None = None  # yes / no / not stated for a yes/no question (the top answer's, or not stated)
    resolution: Resolution | None = None  # how the question was understood (only when history was given)

    def to_dict(self) -> dict:
        d = {"question": self.question, "answers": [a.to_dict() for a in self.answers],
             "question_analysis": self.analysis.to_dict(),
             "question_entities": [e.to_dict() for e in self.question_entities],
             "took_ms": round(self.took_ms, 2)}
        if self.answerability is not None:
            d["answerability"] = round(self.answerability, 4)
        if self.corrected:
            d["spelling"] = self.corrected
        if self.resolution is not None:
            r = self.resolution
            d["resolved_question"] = r.question
            d["followup"] = {"is_followup": r.followup, "kind": r.kind, "carried": r.carried,
                             "document_id": r.document_id}
        if self.verdict is not None:
            d["verdict"] = self.verdict
        if self.message:
            d["message"] = self.message
        return d


@dataclass
class Prepared:
    """A question made ready for the models: what training and answering share."""
    query: Query
    cands: Candidates
    X: np.ndarray  # (len(cands), len(FEATURES))
    cross: bool  # asked across reports
    qvec: dict[str, np.ndarray] = field(default_factory=dict)  # the question's vector per encoder, as encoded


Adapter = QueryAdapter | QuestionTower  # maps a question to the vector the fitted ranker reads
RETRIEVALS = ("stock", "adapted")  # which question vectors pick the semantic candidates

FRAME_STEMS = frozenset(stem(w) for w in FRAME)  # "treatment" is no referent for "it"


def load_model(path: Path = MODEL_FILE) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def variant_name(encoders) -> str:
    """The fitted variant for a set of sentence encoders: "wl+lm", "wl" or "none"."""
    return "+".join(k for k in ENCODERS if k in encoders) or "none"


def pick_variant(model: dict, name: str) -> dict:
    """The models fitted for this set of encoders (features of a missing encoder would read zero)."""
    variants = model.get("variants", {})
    if name not in variants:
        raise ValueError(f"no fitted model for encoders '{name}' (have {sorted(variants)}); run benchmarks/train.py")
    return variants[name]


class Answerer:
    """Question answering over one loaded Index with the fitted ranker and answerability model."""

    def __init__(self, index: Index, *, model: dict | None = None,
                 expand: Callable[[str], Mentions] | None = None,
                 entities: Callable[[str], list[Entity]] | None = None,
                 concepts: Callable[[str], list[str]] | None = None,
                 concept_label: Callable[[str], str | None] | None = None,
                 encoders: dict[str, tuple[Callable[[list[str]], np.ndarray], np.ndarray]] | None = None,
                 correct: Callable[[str], tuple[str, dict[str, str]]] | None = None,
                 concept_weight: float = 0.5, context_weight: float = 0.35, doc_weight: float = 2.0,
                 abstain_threshold: float | None = None):
        self.index = index
        self.expand = expand
        self.entities = entities
        self.concepts = concepts  # a phrase's concept ids (the vocabulary's matcher)
        self._summaries: OrderedDict[str, dict] = OrderedDict()
        self._summary_lock = threading.Lock()
        # short name (features.ENCODERS) -> (encode questions, the index's sentence vectors)
        self.encoders = {k: v for k, v in (encoders or {}).items() if k in ENCODERS}
        self.correct = correct
        self.concept_weight = concept_weight
        model = model if model is not None else (load_model() if MODEL_FILE.exists() else None)
        self.variant = variant_name(self.encoders)
        fitted = pick_variant(model, self.variant) if model else None
        self.ranker = ListwiseRanker.from_dict(fitted["ranker"], FEATURES) if fitted else None
        self.answerability = AnswerabilityModel.from_dict(fitted["answerability"]) if fitted else None
        # The ranker of a variant fitted on adapted question vectors reads them too: a linear
        # adapter per encoder, or a fine-tuned question tower where the variant has one.
        self.adapters: dict[str, Adapter] = {}
        if fitted and fitted.get("adapters"):
            meta = fitted["adapters"]
            self.adapters.update(load_adapters(MODEL_FILE.with_name(meta["file"]),
                                               {k: v for k, v in meta["encoders"].items() if k in self.encoders}))
        for k, meta in (fitted or {}).get("towers", {}).items():
            if k in self.encoders:
                self.adapters[k] = load_tower(MODEL_FILE.with_name(meta["file"]), meta["params"])
        # Which question vectors picked the semantic candidates of the fitted model's test
        # questions (benchmarks/train.py --retrieval); answering does the same.
        self.retrieval = (fitted or {}).get("retrieval", "stock")
        if abstain_threshold is None:
            abstain_threshold = self.answerability.threshold if self.answerability else 0.5
        self.abstain_threshold = abstain_threshold
        s = index.sentences
        names: dict[str, int] = {}
        per_doc = [[names.setdefault(sec.name.lower(), len(names)) for sec in doc.sections] for doc in index.docs]
        section_ids = np.array([per_doc[d][k] for d, k in zip(s["doc"], s["section"])], dtype=np.int32) \
            if len(s["doc"]) else np.zeros(0, dtype=np.int32)
        word_encoder = self.encoders.get(WORD_ENCODER, (None, None))[0]
        self.features = FeatureExtractor(index, concepts, concept_label, encode_words=word_encoder)
        label_of = self.features.col_label_
        hp = [c for c, lab in label_of.items() if lab == "FINDING"]
        n_findings = np.bincount(index.matrix[:, hp].indices, minlength=index.n_sentences) if hp \
            else np.zeros(index.n_sentences, dtype=np.int64)
        self.retriever = CandidateRetriever(index, context_weight=context_weight, doc_weight=doc_weight,
                                            section_ids=section_ids, section_index=names, n_findings=n_findings)

    # ------------------------------------------------------------------ public
    def prepare(self, question: str, document_id: str | None = None, section: str | None = None,
                asked: str | None = None, adapters: dict[str, Adapter] | None = None,
                retrieval: str | None = None) -> Prepared:
        """`asked`: for a resolved follow-up, the question as asked, whose own answer type and yes/no
        flag lead (the understood question adds the carried subject). `adapters` (default: the
        fitted ones) map the question's vectors; `retrieval` (default: the fitted model's) says
        which vectors pick the semantic candidates: "stock" (the encoders' own) or "adapted"."""
        adapters = self.adapters if adapters is None else adapters
        retrieval = self.retrieval if retrieval is None else retrieval
        if retrieval not in RETRIEVALS:
            raise ValueError(f"retrieval must be one of {RETRIEVALS}, not {retrieval!r}")
        q = analyse(question, self.expand, self.concept_weight, self.correct)
        if asked is not None:
            own = analyze_question(asked, q.terms)
            q.analysis = replace(q.analysis, yes_no=own.yes_no,
                                 answer_type=own.answer_type if own.answer_type != "other" else q.analysis.answer_type)
            # The new words lead: words carried from earlier turns weigh less in retrieval.
            mine = set(query_terms(asked))
            mine |= {v for t in mine for v in q.variants.get(t, ())}
            stems_of = {cid: stems for cid, stems in q.mentions}
            for key in list(q.weights):
                if key not in mine and not (stems_of.get(key, frozenset()) & mine):
                    q.weights[key] *= CARRIED_WEIGHT
        rows = self._rows(document_id)
        by_vectors = retrieval == "adapted" and bool(adapters)
        # A question tower encodes the text itself: with adapted retrieval the encoder's own
        # forward pass (the costliest step of an answer) is skipped.
        qvec = {k: encode([q.text])[0] for k, (encode, _) in self.encoders.items()
                if not (by_vectors and k in adapters and not adapters[k].reads_vector)}
        if by_vectors:
            cands = self.retriever.retrieve(q, rows, section, self._cosines(rows, self.adapted(qvec, q.text, adapters)))
            seen = cands
        else:
            # Candidates come from the encoders' own cosines; the features read the adapted ones
            # (computed once, for the candidates only).
            cands = self.retriever.retrieve(q, rows, section, self._cosines(rows, qvec) if self.encoders else None)
            seen = replace(cands, sem=self._cosines(cands.rows, self.adapted(qvec, q.text, adapters))) \
                if adapters and len(cands) else cands
        X = self.features.transform(q, seen, tuple(self.encoders))
        return Prepared(q, cands, X, self.retriever.spans_documents(rows), qvec)

    def _cosines(self, rows: slice | np.ndarray, qvec: dict[str, np.ndarray]) -> np.ndarray:
        """(rows, encoders) cosines of the question vectors `qvec` with the rows' sentences."""
        return np.stack([vectors[rows] @ qvec[k] for k, (_, vectors) in self.encoders.items()], axis=1)

    def adapted(self, qvec: dict[str, np.ndarray], text: str, adapters: dict[str, Adapter]) -> dict[str, np.ndarray]:
        """The question's vector per encoder as `adapters` map it (its own where it has none)."""
        out = {}
        for k, (encode, _) in self.encoders.items():
            if k in adapters:
                out[k] = adapters[k].adapt(qvec[k][None, :] if k in qvec else None, [text])[0]
            else:  # the encoder's own vector (encoded now if adapted retrieval skipped it)
                out[k] = qvec[k] if k in qvec else encode([text])[0]
        return out

    def refeature(self, p: Prepared, adapters: dict[str, Adapter]) -> np.ndarray:
        """p.X with its sentence-vector columns computed from the question vectors as `adapters`
        map them (an encoder without an adapter keeps its own cosine)."""
        X = p.X.copy()
        if self.encoders and len(p.cands):
            sem = self._cosines(p.cands.rows, self.adapted(p.qvec, p.query.text, adapters))
            self.features.set_semantic(X, p.cands.rows, sem, tuple(self.encoders))
        return X

    def candidate_vectors(self, p: Prepared, encoder: str) -> np.ndarray:
        """The unit sentence vectors of p's candidates for one encoder."""
        return self.encoders[encoder][1][p.cands.rows]

    def question_row(self, p: Prepared, z: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """The answerability model's input for a prepared question."""
        top_row = int(p.cands.rows[int(np.argmax(z))]) if len(z) else None
        return question_features(p.X, z, probs, self.doc_evidence(p.query, top_row), p.query.analysis.answer_type in STRICT_TYPES, p.cross, len(p.query.words))

    def resolve(self, question: str, history: list[Turn]) -> Resolution:
        """How a question is understood in the conversation `history` (oldest turn first)."""
        return resolve(question, history, self._referent)

    def _referent(self, understood: str, turn: Turn) -> str | None:
        """The key term of an earlier answer, for "it" and bare fragments: its exact short answer
        when the question asked for a drug or a test result, else the clinical entity of the answer
        nearest to the question's words that the question did not name itself."""
        d = self.index.doc_by_id.get(turn.document_id) if turn.document_id is not None else None
        if d is None or turn.start is None or turn.end is None:
            return None
        text = self.index.docs[d].text[turn.start:turn.end]
        q = analyse(understood, self.expand, self.concept_weight)
        ents = self.entities(text) if self.entities else []
        kind = span_type(q)
        if kind in ("age", "dose", "count", "measurement", "date", "duration"):
            return None  # the subject of "How old ...?" is the question's own
        span = find_span(q, text, ents, 0, concepts=self.concepts)
        if span is not None:
            inner = [e for e in ents if span.start <= e.start and e.end <= span.end and e.label == "DRUG"]
            return inner[0].text if inner else span.text
        asked = set(q.words)
        spots = anchors(q, text, ents, 0, self.concepts)
        pick = [e for e in ents if e.label in REFERENT_LABELS and not e.negated
                and not {stem(w.lower()) for w in re.findall(r"[A-Za-z0-9]+", e.text)} <= asked | FRAME_STEMS]
        if not pick:
            return None
        best = min(pick, key=lambda e: (distance(e.start, e.end, spots), -(e.end - e.start)))
        return best.text

    def ask(self, question: str, top_k: int = 3, document_id: str | None = None,
            section: str | None = None, debug: bool = False, history: list[Turn] | None = None) -> AskResult:
        """Answer a question; with `history` (the conversation's earlier turns, oldest first) a
        follow-up is resolved first and asked in the report the conversation is about."""
        t0 = time.perf_counter()
        resolution = None
        asked = None
        if history is not None:
            resolution = self.resolve(question, history)
            if resolution.followup:
                asked = question if resolution.own_type else None
                question = resolution.question
                if document_id is None and resolution.document_id in self.index.doc_by_id:
                    document_id = resolution.document_id
        p = self.prepare(question, document_id, section, asked)
        answers: list[Answer] = []
        p_answerable = 0.0
        if len(p.cands) and self.ranker is not None and self.answerability is not None:
            z = self.ranker.decision_function(p.X)
            probs = self.ranker.predict_proba(p.X)
            qrow = self.question_row(p, z, probs)
            p_answerable = float(self.answerability.predict_proba(qrow)[0])
            if p_answerable >= self.abstain_threshold:
                answers = self._select(p, z, probs, p_answerable, top_k, debug)
        q_entities = self.entities(question) if self.entities else []
        message = None
        if not answers:
            doc = self.index.doc_by_id.get(document_id) if document_id is not None else None
            message = decline_message(p.query, self.index, doc, NO_ANSWER, question)
        said = None
        if p.query.analysis.yes_no:
            said = answers[0].verdict if answers else NOT_STATED
        return AskResult(resolution.asked if resolution else question, answers, p.query.analysis, message, q_entities,
                         (time.perf_counter() - t0) * 1000, p_answerable, p.query.corrected, verdict=said,
                         resolution=resolution)

    def summary(self, doc_id: str) -> dict:
        """The report at a glance (qa.summary), computed once per report and kept (bounded)."""
        from .summary import summarize

        with self._summary_lock:
            if doc_id in self._summaries:
                self._summaries.move_to_end(doc_id)
                return self._summaries[doc_id]
        out = summarize(self, doc_id)
        with self._summary_lock:
            self._summaries[doc_id] = out
            while len(self._summaries) > SUMMARY_CACHE:
                self._summaries.popitem(last=False)
        return out

    def warm_up(self) -> None:
        """Load the lazily loaded parts (spaCy's tokenizer, word frequencies) before serving."""
        if self.entities:
            self.entities("No fever.")
        rarity("fever")
        for encode, _ in self.encoders.values():
            encode(["fever"])
        for adapter in self.adapters.values():
            if not adapter.reads_vector:
                adapter.adapt(None, ["fever"])  # a question tower merges its weights on first use (~0.1 s)
        if self.correct is not None:
            self.correct("Was the kidny biopsy done?")  # builds the spelling table

    # ------------------------------------------------------------------ steps
    def _rows(self, document_id: str | None) -> slice:
        if document_id is None:
            return slice(0, self.index.n_sentences)
        d = self.doc_number(document_id)
        return slice(int(self.index.doc_rows[d]), int(self.index.doc_rows[d + 1]))

    def doc_number(self, document_id: str) -> int:
        """The index position of a document, by its id or the original id an import renamed
        (a URL); UnknownDocument when the index does not hold it."""
        known = self.index.doc_by_id
        d = known.get(document_id)
        if d is None:
            d = known.get(resolve_doc_id(known, document_id))
        if d is None:
            raise UnknownDocument(document_id)
        return d

    def doc_evidence(self, q: Query, row: int | None) -> dict[str, float]:
        """What the whole report of `row` says about the question's words (answerability.DOC_EVIDENCE)."""
        out = {"miss_doc": 0.0, "miss_doc_soft": 0.0, "miss_doc_any": 0.0, "doc_cover": 0.0}
        if row is None:
            worst = max((r for r in q.rarities.values() if r >= RARE), default=0.0)
            return out | {"miss_doc": worst, "miss_doc_soft": worst,
                          "miss_doc_any": max(q.rarities.values(), default=0.0)}
        d = int(self.index.sentences["doc"][row])
        total = covered = 0.0
        for t in q.words:
            alts = q.strict_alternatives.get(t, [])
            idf = self.index.term_idf(t)
            total += idf
            if any(self.index.doc_has_term(d, a) for a in (*q.forms(t), *alts)):
                covered += idf
                continue
            r = 1.0 if alts else q.rarities.get(t, 0.0)
            out["miss_doc_any"] = max(out["miss_doc_any"], r)
            if r >= RARE:
                out["miss_doc"] = max(out["miss_doc"], r)
                near = self.features.doc_similarity(d, q.surface.get(t, t))
                out["miss_doc_soft"] = max(out["miss_doc_soft"], r * (1.0 - max(near, 0.0)))
        out["doc_cover"] = covered / total if total else 1.0
        return out

    def _select(self, p: Prepared, z: np.ndarray, probs: np.ndarray, p_answerable: float, top_k: int,
                debug: bool) -> list[Answer]:
        chosen: list[Answer] = []
        used: set[int] = set()
        for i in np.argsort(-z, kind="stable"):
            if len(chosen) >= top_k:
                break
            row = int(p.cands.rows[i])
            if row in used:
                continue
            feats = dict(zip(FEATURES, map(float, p.X[i]))) | {"ranker_z": float(z[i])} if debug else None
            answer, covered = make_answer(self.index, row, p_answerable * probs[i], self.entities, feats)
            used.update(covered)
            chosen.append(self._explain(p.query, answer))
        return chosen

    def _explain(self, q: Query, answer: Answer) -> Answer:
        """The answer with its exact short answer (strict answer types), its yes/no verdict (yes/no
        questions) and why it was chosen added; its text, score and rank stay as they are."""
        span = find_span(q, answer.text, answer.entities, answer.start, concepts=self.concepts)
        span_d = span.to_dict() if span else None
        said = verdict(q, answer.text, answer.entities, answer.start, self.concepts)
        why = explain(q, answer.text, answer.section, answer.entities, answer.start, self.concepts, span_d)
        return replace(answer, span=span_d, verdict=said, reason=why.to_dict())


__all__ = ["Answerer", "AskResult", "NO_ANSWER", "UnknownDocument", "Prepared", "ANSWERABILITY_FEATURES", "Turn"]
