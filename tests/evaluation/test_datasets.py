"""Many reports: JSONL import, multi-document answers, index reload equality, dataset adapters.

Small hand-written fixtures only; the timed benchmarks live in benchmarks/ (no timed tests here).
"""
import json
from pathlib import Path

import numpy as np
import pytest

from evaluation import datasets as ds
from qa_service.config import Settings
from conftest import imported
from qa_service.index.bm25 import SentenceView, load_index
from qa_service.service.build import build, make_answerer

REPORTS = [
    {"id": "amox-pneumonia", "title": "Pneumonia in a farmer",
     "text": "Case report\nA 40-year-old farmer had fever and a productive cough for five days. "
             "Chest radiograph showed a right lower lobe consolidation. "
             "He was treated with amoxicillin for community-acquired pneumonia and recovered."},
    {"id": "amox-otitis", "title": "Otitis media in a toddler",
     "sections": [{"name": "CASE PRESENTATION",
                   "text": "A 2-year-old girl had ear pain and fever. Otoscopy showed a bulging red eardrum. "
                           "She was treated with amoxicillin for acute otitis media."},
                  {"name": "DISCUSSION", "text": "Acute otitis media is common in toddlers."}]},
    {"id": "fracture", "text": "A 70-year-old woman fell at home. X-ray showed a fracture of the left "
                               "femoral neck. She underwent hip replacement."},
]


def _write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    base = tmp_path_factory.mktemp("three")
    s = imported(Settings(corpus_dir=base / "corpus", models_dir=base / "models"),
                 _write(base / "reports.jsonl", REPORTS))
    return s, build(s)


def test_jsonl_rows_with_text_and_with_sections(three):
    _, rep = three
    idx = rep.index
    assert rep.errors == []
    assert [d.id for d in idx.docs] == ["amox-otitis", "amox-pneumonia", "fracture"]  # corpus files, by name
    otitis, pneu, fracture = idx.docs
    assert pneu.title == "Pneumonia in a farmer" and otitis.title == "Otitis media in a toddler"
    assert fracture.title  # no title: guessed from the text or the id
    # A sections row keeps its sections (named by their headings) and all of their text.
    assert {"Discussion"} <= {s.name for s in otitis.sections}
    assert "bulging red eardrum" in otitis.text and "common in toddlers" in otitis.text
    assert "Case report" in [s.name for s in pneu.sections]
    assert all(len(d.sentences) >= 2 for d in idx.docs)


def test_answers_from_two_documents_name_their_document(three):
    s, rep = three
    for index in (rep.index, load_index(s.models_dir)):  # as built, and as loaded from disk
        answerer = make_answerer(index, Settings(abstain_threshold=0.0))
        res = answerer.ask("What was treated with amoxicillin?", top_k=3)
        by_doc = {a.document_id: a for a in res.answers}
        assert {"amox-pneumonia", "amox-otitis"} <= set(by_doc)
        titles = {d.id: d.title for d in index.docs}
        for a in res.answers:
            doc = index.docs[index.doc_by_id[a.document_id]]
            assert a.document_title == titles[a.document_id]
            assert doc.text[a.start:a.end] == a.text and "amoxicillin" in a.text


def test_saved_and_loaded_index_score_and_read_the_same(three):
    s, rep = three
    built, loaded = rep.index, load_index(s.models_dir)
    assert loaded.vocab == built.vocab
    assert np.array_equal(loaded.idf, built.idf)
    for c in built.sentences:
        assert np.array_equal(loaded.sentences[c], built.sentences[c]), c
    assert np.array_equal(loaded.doc_rows, built.doc_rows)
    for q in ({"amoxicillin": 1.0}, {"fever": 2.0, "treat": 1.0}, {"femor": 1.0, "nope": 3.0}, {}):
        assert np.array_equal(loaded.score(q), built.score(q))
        rows = slice(int(built.doc_rows[1]), int(built.doc_rows[2]))
        assert np.array_equal(loaded.score(q, rows), built.score(q, rows))
    assert loaded.docs == built.docs  # ids, titles, texts, sections and sentences


def test_loaded_sentences_behave_like_the_tuple(three):
    s, rep = three
    built, loaded = rep.index.docs[1].sentences, load_index(s.models_dir).docs[1].sentences
    assert isinstance(loaded, SentenceView) and isinstance(built, tuple)
    assert loaded == built and built == loaded and tuple(loaded) == built
    assert len(loaded) == len(built) and bool(loaded)
    assert loaded[0] == built[0] and loaded[-1] == built[-1]
    assert loaded[1:] == built[1:] and loaded[::-1] == built[::-1]
    assert hash(loaded) == hash(built)
    assert built[0] in loaded and loaded.index(built[-1]) == len(built) - 1
    with pytest.raises(IndexError):
        loaded[len(built)]


# ------------------------------------------------------------------ dataset adapters

def test_pubmedqa_adapter_keeps_the_split():
    rows = [{"id": "pqal-1", "question": "Does A cause B?", "gold_doc_id": 1, "split": "test"},
            {"id": "pqal-2", "question": "Is C safe?", "gold_doc_id": "2", "split": "train_dev"}]
    qs = ds.pubmedqa_questions(rows)
    assert [(q.id, q.gold_doc_ids) for q in qs] == [("pqal-1", frozenset({"1"}))]
    assert len(ds.pubmedqa_questions(rows, split=None)) == 2


def test_covidqa_adapter_reads_spans_and_skips_empty_answers(tmp_path):
    rows = [{"id": "covidqa-1", "question": "What is X?", "gold_doc_id": "d1",
             "answers": [{"text": "X is Y", "start": 10, "end": 16}]},
            {"id": "covidqa-2", "question": "Empty?", "gold_doc_id": "d1", "answers": []}]
    qs = ds.covidqa_questions(_write(tmp_path / "q.jsonl", rows))
    assert len(qs) == 1
    assert qs[0].doc_id == "d1" and qs[0].spans == ((10, 16),) and qs[0].answers == ("X is Y",)


def test_medquad_adapter_counts_identical_answers_as_gold():
    rows = [{"id": "m0", "question": "What is A?", "focus": "A", "answer": "A is a disease."},
            {"id": "m1", "question": "What causes A?", "focus": "A", "answer": "A is a disease."},
            {"id": "m2", "question": "What is B?", "focus": "B", "answer": "B is rare."},
            {"id": "m3", "question": "Empty?", "focus": "C", "answer": "  "}]
    docs = list(ds.medquad_corpus(rows))
    assert [(d["id"], d["title"]) for d in docs] == [("m0", "A"), ("m1", "A"), ("m2", "B")]
    qs = {q.id: q.gold_doc_ids for q in ds.medquad_questions(rows)}
    assert qs == {"m0": {"m0", "m1"}, "m1": {"m0", "m1"}, "m2": {"m2"}}


def test_ranking_metrics():
    assert ds.overlaps((0, 5), (4, 9)) and not ds.overlaps((0, 5), (5, 9))
    assert ds.first_hit([False, False, True]) == 3 and ds.first_hit([]) is None
    assert ds.distinct(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    m = ds.RankingScores.from_ranks([1, 2, None, 7], ks=(1, 5), mrr_k=5).to_dict()
    assert m == {"n": 4, "hit@1": 0.25, "hit@5": 0.5, "MRR@5": round((1 + 0.5) / 4, 4)}


def test_service_rankers_over_a_small_index(three):
    _, rep = three
    idx = rep.index
    ranked = ds.index_doc_ranking(idx, {"amoxicillin": 1.0, "otiti": 1.0}, k=10)
    assert ranked[:2] == ["amox-otitis", "amox-pneumonia"] and "fracture" not in ranked
    assert ds.index_doc_ranking(idx, {"zzz": 1.0}) == []
    q = ds.DocQuestion("q", "?", frozenset({"amox-pneumonia"}))
    assert ds.first_hit(ds.doc_hits(ranked, q)) == 2


def test_sentence_spans_are_raw_offsets(tmp_path):
    # Messy raw text (hyphenated line break, doubled spaces): the cleaned text differs from the raw one,
    # and gold spans are raw offsets, as in COVID-QA.
    raw = ("Case report\n\nA 35-year-old man  presented with chest pain.\nTroponin was ele-\nvated at 2.1 ng/mL. "
           "Coronary angiography showed an occluded right coronary artery.\n\nHe recovered after stenting.")
    s = imported(Settings(corpus_dir=tmp_path / "corpus", models_dir=tmp_path / "m"),
                 _write(tmp_path / "c.jsonl", [{"id": "d", "text": raw}]))
    idx = build(s).index
    gold_text = "occluded right coronary artery"
    start = raw.index(gold_text)
    q = ds.SpanQuestion("q", "What did angiography show?", "d", ((start, start + len(gold_text)),))
    spans = ds.index_sentence_ranking(idx, {"angiographi": 1.0, "show": 1.0}, "d", k=5)
    assert ds.first_hit(ds.span_hits(spans, q)) == 1
    assert gold_text in raw[spans[0][0]:spans[0][1]]
    answers = make_answerer(idx, Settings(abstain_threshold=0.0)).ask(q.question, top_k=3, document_id="d").answers
    assert ds.first_hit(ds.span_hits(ds.answer_spans(answers), q)) is not None
    assert ds.answer_doc_ranking(answers) == ["d"]
