"""The case at a glance (issue 13 item 5): GET /api/documents/<id>/summary."""
from __future__ import annotations

import pytest

from conftest import ADA

FIELDS = ("patient", "presenting_complaint", "key_findings", "investigations", "diagnosis", "outcome", "treatment")
HUS = "http://www.ncbi.nlm.nih.gov/pmc/articles/PMC2688167/"
GIST = "http://www.jmedicalcasereports.com/content/7/1/184"


def _check_offsets(summary, index):
    doc = index.docs[index.doc_by_id[summary["id"]]]
    for name in FIELDS:
        item = summary[name]
        if item is None:
            continue
        assert 0 <= item["start"] < item["end"] <= len(doc.text)
        sentence = doc.text[item["start"]:item["end"]]
        if name == "patient":
            assert item["text"] in " ".join(sentence.split())
        else:
            assert " ".join(sentence.split()).startswith(item["text"].rstrip("…")[:40])
    return doc


def test_summary_of_the_shipped_report(client, index):
    r = client.get("/api/documents/calcinosis-cutis-universalis-sle/summary")
    assert r.status_code == 200
    s = r.get_json()
    assert set(FIELDS) <= set(s) and s["id"] == "calcinosis-cutis-universalis-sle"
    _check_offsets(s, index)
    assert s["patient"]["age"] == "21" and s["patient"]["sex"] == "female" and s["patient"]["text"] == "21-year-old woman"
    assert "polyarthritis" in s["presenting_complaint"]["text"]
    assert "malar rash" in s["key_findings"]["text"]
    # Any of the report's tests is an investigation; the sentence must name one, not a symptom.
    assert any(t in s["investigations"]["text"] for t in ("antinuclear antibodies", "biopsy", "dipstix", "radiograph", "X-ray"))
    assert "calcinosis cutis universalis" in s["diagnosis"]["text"]


def test_summary_unknown_document_is_json_404(client):
    r = client.get("/api/documents/nope/summary")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_document"


def test_summaries_of_two_dev_reports(ada_answerer):
    if not ADA.exists():
        pytest.skip("shared ADA corpus not present")
    s = ada_answerer.summary(HUS)
    _check_offsets(s, ada_answerer.index)
    assert (s["patient"]["age"], s["patient"]["sex"]) == ("29", "female")
    assert "bloody diarrhea" in s["presenting_complaint"]["text"]
    assert "HUS" in s["diagnosis"]["text"]
    assert any(t in s["treatment"]["text"] for t in ("hemodialysis", "hydration"))  # both are her treatment
    assert "discharged" in s["outcome"]["text"]
    s = ada_answerer.summary(GIST)
    _check_offsets(s, ada_answerer.index)
    assert (s["patient"]["age"], s["patient"]["sex"]) == ("65", "female")
    assert "abdominal pain" in s["presenting_complaint"]["text"]
    assert "abdominal mass" in s["key_findings"]["text"]
    assert "GIST" in s["diagnosis"]["text"]
    assert any(t in s["treatment"]["text"] for t in ("imatinib", "duodenectomy"))  # both were her treatment
    assert "no evidence of disease recurrence" in s["outcome"]["text"]
    assert ada_answerer.summary(GIST) is s  # kept
