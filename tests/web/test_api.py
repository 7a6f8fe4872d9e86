def test_ask_returns_answers(client):
    r = client.post("/api/ask", json={"question": "Which antibodies were positive?", "top_k": 2})
    assert r.status_code == 200
    body = r.get_json()
    assert body["question"] == "Which antibodies were positive?"
    assert 1 <= len(body["answers"]) <= 2
    a = body["answers"][0]
    assert "antinuclear antibodies" in a["text"]
    for key in ("text", "passage", "document_id", "document_title", "section", "score", "start", "end", "entities"):
        assert key in a
    assert isinstance(body["took_ms"], (int, float))


def test_ask_unanswerable_has_message(client):
    body = client.post("/api/ask", json={"question": "Was a colonoscopy performed?"}).get_json()
    assert body["answers"] == [] and body["message"]


def test_health(client):
    body = client.get("/api/health").get_json()
    index = body.pop("index")
    assert body == {"status": "ok", "documents": 1, "passages": 51, "failed_reports": [], "failed_reports_count": 0,
                    "sources": [{"kind": "corpus", "documents": 1, "last_added": body["sources"][0]["last_added"]}]}
    assert index["built_at"].endswith("Z") and index["changes"]["added"] == 1


def _error(r, status, code):
    assert r.status_code == status
    body = r.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]


def test_bad_requests(client):
    _error(client.post("/api/ask", json={}), 400, "missing_question")
    _error(client.post("/api/ask", json={"question": "   "}), 400, "empty_question")
    _error(client.post("/api/ask", json={"question": 42}), 400, "invalid_question")
    _error(client.post("/api/ask", json={"question": "x" * 1001}), 400, "question_too_long")
    _error(client.post("/api/ask", json={"question": "ok?", "top_k": "3"}), 400, "invalid_top_k")
    _error(client.post("/api/ask", json={"question": "ok?", "top_k": 0}), 400, "invalid_top_k")
    _error(client.post("/api/ask", json=["question"]), 400, "invalid_body")
    _error(client.post("/api/ask", data="{not json", content_type="application/json"), 400, "invalid_json")
    _error(client.post("/api/ask", data="question", content_type="text/plain"), 415, "unsupported_media_type")
    _error(client.get("/api/ask"), 405, "method_not_allowed")
    _error(client.get("/api/nothing"), 404, "not_found")
    _error(client.post("/api/ask", json={"question": "ok?", "document_id": "missing"}), 404, "unknown_document")


def test_documents_list_and_detail(client, index):
    docs = client.get("/api/documents").get_json()["documents"]
    assert docs[0]["id"] == "calcinosis-cutis-universalis-sle"
    assert "Case report" in docs[0]["sections"] and docs[0]["n_passages"] == 51
    body = client.get("/api/documents/calcinosis-cutis-universalis-sle").get_json()
    assert body["text"] == index.docs[0].text
    fig1 = next(s for s in body["sections"] if s["name"] == "Figure 1")
    assert body["text"][fig1["start"]:fig1["end"]].startswith("Chest radiograph")
    _error(client.get("/api/documents/nope"), 404, "unknown_document")
