import json
import shutil


from qa_service.config import Settings
from qa_service.service.importer import import_paths
from qa_service.index.bm25 import CURRENT, load_index, read_meta
from qa_service.service.build import build, load_or_build


def test_index_round_trip(index, settings):
    loaded = load_index(settings.models_dir)
    assert loaded.vocab == index.vocab
    assert (loaded.matrix != index.matrix).nnz == 0
    assert [d.text for d in loaded.docs] == [d.text for d in index.docs]
    assert loaded.docs[0].sentences == index.docs[0].sentences
    q = {"pleural": 1.0, "effus": 1.0}
    assert (loaded.score(q) == index.score(q)).all()


def test_persisted_folder_has_only_arrays_and_json(built, settings):
    name = (settings.models_dir / CURRENT).read_text().strip()
    files = sorted(p.name for p in (settings.models_dir / name).iterdir())
    assert files == ["docs.jsonl", "matrix.npz", "meta.json", "sentences.npz", "vectors-lm.npy", "vectors-wl.npy",
                     "vocab.json"]
    assert read_meta(settings.models_dir)["n_docs"] == 1


def test_unchanged_corpus_loads_and_changed_corpus_rebuilds(tmp_path, settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    s = Settings(corpus_dir=corpus, models_dir=tmp_path / "models")
    first = load_or_build(s)
    assert first.rebuilt
    again = load_or_build(s)
    assert not again.rebuilt and again.index.meta["fingerprint"] == first.index.meta["fingerprint"]
    (corpus / "second.txt").write_text("Case report\nA 50-year-old man was treated with diltiazem for angina.\n")
    changed = load_or_build(s)
    assert changed.rebuilt and len(changed.index.docs) == 2
    # Only the live index folder remains, with no temp leftovers.
    assert len(list(s.models_dir.glob("index-*"))) == 1
    assert not list(s.models_dir.glob(".tmp-*"))


def test_unreadable_files_are_reported_and_the_rest_indexed(tmp_path, settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    # Not UTF-8: read as Windows-1252 (with a logged warning), so it is indexed.
    (corpus / "latin1.txt").write_bytes("Caf\xe9 patient with fever.".encode("latin-1"))
    (corpus / "empty.txt").write_text("   \n")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 4)
    rep = build(Settings(corpus_dir=corpus, models_dir=tmp_path / "models"))
    assert [d.id for d in rep.index.docs] == ["calcinosis-cutis-universalis-sle", "latin1"]
    assert rep.index.docs[1].text.startswith("Café patient")
    messages = sorted(str(e) for e in rep.errors)
    assert len(messages) == 2
    assert any("binary.txt" in m and "binary data" in m for m in messages)
    assert any("empty.txt" in m and "empty" in m for m in messages)
    failed = rep.index.meta["failed_reports"]
    assert sorted(f["id"] for f in failed) == ["binary", "empty"]
    assert all(f["path"].endswith(".txt") and f["error"] for f in failed)


def test_jsonl_import_text_and_sections(tmp_path):
    jl = tmp_path / "reports.jsonl"
    rows = [
        {"id": "r1", "title": "Fever case", "text": "Case report\nA 30-year-old man had fever for 3 days."},
        {"id": "r2", "sections": [{"name": "CASE", "text": "A girl had a rash."},
                                  {"name": "Discussion", "text": "Rashes are common."}]},
        {"title": "no text"},
    ]
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    s = Settings(corpus_dir=tmp_path / "corpus", models_dir=tmp_path / "m")
    res = import_paths(s, [jl])
    assert res.added == ["r1", "r2"]
    assert len(res.errors) == 2 and any("invalid JSON" in str(e) for e in res.errors)
    rep = build(s)
    assert [d.id for d in rep.index.docs] == ["r1", "r2"] and rep.errors == []
    assert rep.index.docs[0].title == "Fever case"
    assert "Discussion" in [s.name for s in rep.index.docs[1].sections]


def test_document_scores_follow_how_much_of_a_report_matches(tmp_path):
    jl = tmp_path / "reports.jsonl"
    rows = [
        {"id": "a", "text": "Case report\nA man had a cough. He had fever. The cough lasted a week."},
        {"id": "b", "text": "Case report\nA woman had a rash. She had a cough once."},
        {"id": "c", "text": "Case report\nA child had a fracture of the arm."},
    ]
    jl.write_text("\n".join(json.dumps(r) for r in rows))
    s = Settings(corpus_dir=tmp_path / "corpus", models_dir=tmp_path / "m")
    import_paths(s, [jl])
    index = build(s).index
    scores = index.doc_scores({"cough": 1.0})
    assert scores[0] > scores[1] > 0 and scores[2] == 0


def test_a_story_part_is_found_by_its_heading():
    """A part of the story is indexed with its heading on its first sentence, as if on the same line,
    though the heading is not part of the answer text."""
    from qa_service.corpus.store import build_document
    from qa_service.index.bm25 import build_index
    from qa_service.text.tokenize import terms

    doc = build_document("x", "Chief Complaint\nA 70-year-old man had a cough.\n\nMedications\nHe took lisinopril. "
                              "He took aspirin.\n\nDiscussion\nCough is common.\n")
    index = build_index([doc], lambda text, ctx: terms(text))
    part = [s.name for s in doc.sections].index("Medications")
    rows = [i for i in range(index.n_sentences) if index.sentence(i).section == part]
    first, second = rows
    med = index.vocab[terms("medications")[0]]
    assert index.matrix[first, med] == 1 and index.matrix[second, med] == 0
    assert doc.text[index.sentence(first).start:index.sentence(first).end] == "He took lisinopril."
    assert index.doc_has_term(0, terms("complaint")[0])
    assert not index.doc_has_term(0, terms("discussion")[0])
