"""corpus.store: report ids, reading report files, building a Document, loading a corpus folder."""
from __future__ import annotations

import pytest

from qa_service.corpus.store import (CorpusError, build_document, decode_report, load_corpus, report_path, resolve_doc_id,
                                     safe_id, valid_doc_id)

URL = "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3433013/"


def test_ids_that_cannot_name_a_file_get_a_slug_and_a_hash():
    alias = safe_id(URL)
    assert alias == "ncbi.nlm.nih.gov-pmc-articles-pmc3433013-4ec8349a" and safe_id(URL) == alias
    assert valid_doc_id(alias) and not valid_doc_id(URL) and not valid_doc_id("../etc") and not valid_doc_id(".hidden")
    assert resolve_doc_id({alias}, URL) == alias  # the original id still finds the report
    assert resolve_doc_id(set(), URL) == URL
    assert resolve_doc_id({"case-1"}, "case-1") == "case-1"


def test_report_path_refuses_a_path_outside_the_corpus(tmp_path):
    assert report_path(tmp_path, "case-1") == tmp_path / "case-1.txt"
    with pytest.raises(CorpusError):
        report_path(tmp_path, "../case-1")


def test_decoding_falls_back_to_windows_1252():
    assert decode_report("fièvre".encode("utf-8")) == "fièvre"
    assert decode_report("café".encode("cp1252")) == "café"


def test_build_document_cleans_sections_and_splits():
    doc = build_document("case-1", "Case report\nA 21-year-old woman presented with fever. She was treated.\n")
    assert doc.id == "case-1" and doc.title == "case-1"
    assert [s.name for s in doc.sections] == ["Case report"]
    assert [doc.text[s.start:s.end] for s in doc.sentences] == [
        "A 21-year-old woman presented with fever.", "She was treated."]


def test_load_corpus_keeps_going_past_a_bad_report(tmp_path):
    (tmp_path / "good.txt").write_text("Case report\nShe had a fever.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    docs, errors = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["good"]
    assert len(errors) == 1 and "empty" in str(errors[0])
