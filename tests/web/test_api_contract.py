"""The API's contract: OpenAPI coverage, JSON-only errors, body limit, CORS, security headers."""
from __future__ import annotations

import re
from dataclasses import replace


HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_documents_every_route_and_only_real_ones(client, app):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.content_type == "application/json"
    spec = r.get_json()
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}
    real = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            real.add((_flask_to_openapi(rule.rule), method.lower()))
    assert documented == real
    # Every operation documents its responses, each error response uses the shared error schema.
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            assert op["responses"] and any(code.startswith("2") for code in op["responses"])
            assert "500" in op["responses"]
            for code, resp in op["responses"].items():
                if code[0] in "45":
                    name = resp["$ref"].rsplit("/", 1)[-1]
                    schema = spec["components"]["responses"][name]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}
            if method in ("post", "put", "patch"):
                assert op["requestBody"]["content"]
    # Every $ref resolves.
    text = r.get_data(as_text=True)
    for ref in set(re.findall(r'"\$ref": ?"#/components/(\w+)/(\w+)"', text)):
        assert ref[1] in spec["components"][ref[0]], ref
    err = spec["components"]["schemas"]["Error"]
    assert err["properties"]["error"]["required"] == ["code", "message"]


def test_openapi_is_a_valid_3_1_document(client):
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    validate(client.get("/api/openapi.json").get_json(), cls=OpenAPIV31SpecValidator)


def _error(r, status, code=None):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.content_type == "application/json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    body = r.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body


def test_error_statuses_are_json(client):
    r = client.put("/api/ask", json={"question": "x"})
    _error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]
    _error(client.delete("/api/health"), 405, "method_not_allowed")
    _error(client.patch("/api/documents"), 405)
    _error(client.get("/api/does-not-exist"), 404, "not_found")
    _error(client.get("/nothing-here"), 404, "not_found")
    _error(client.post("/api/ask", data="q", content_type="application/x-www-form-urlencoded"), 415)
    _error(client.post("/api/documents", json={"text": "x"}), 403, "ingest_disabled")


def test_body_limit_is_413_json(app, settings):
    from qa_service.web.app import create_app

    small = create_app(replace(settings, max_body_bytes=1000), app.extensions["qa"].answerer).test_client()
    _error(small.post("/api/ask", json={"question": "x" * 2000}), 413, "payload_too_large")
    assert small.post("/api/ask", json={"question": "Which antibodies were positive?"}).status_code == 200
    c = app.test_client()  # the default limit: 2 MB
    assert settings.max_body_bytes == 2 * 1024 * 1024
    _error(c.post("/api/ask", data=b"{" + b" " * (2 * 1024 * 1024) + b"}", content_type="application/json"),
           413, "payload_too_large")
    _error(c.post("/api/documents", data=b"x" * (2 * 1024 * 1024 + 1), content_type="text/plain"),
           413, "payload_too_large")


def test_body_limit_without_content_length(app, settings):
    """A chunked body (no Content-Length; gunicorn marks it wsgi.input_terminated) is cut off too."""
    import io

    from qa_service.web.app import create_app

    small = create_app(replace(settings, max_body_bytes=1000), app.extensions["qa"].answerer).test_client()
    body = io.BytesIO(b'{"question": "' + b"x" * 5000 + b'"}')
    r = small.post("/api/ask", input_stream=body, content_type="application/json",
                   headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert r.request.content_length is None
    _error(r, 413, "payload_too_large")


def test_internal_error_leaks_nothing(app, monkeypatch):
    answerer = app.extensions["qa"].answerer

    def boom(*a, **kw):
        raise RuntimeError("SECRET-DETAIL /etc/shadow")

    monkeypatch.setattr(answerer, "ask", boom)
    r = app.test_client().post("/api/ask", json={"question": "Which antibodies were positive?"})
    body = _error(r, 500, "internal_error")
    text = r.get_data(as_text=True)
    for leak in ("Traceback", "SECRET", "RuntimeError", "answer.py", 'File "', "/etc/shadow"):
        assert leak not in text
    assert body["error"]["message"] == "the server failed to handle this request"


def test_api_responses_are_json_never_html(client):
    html = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    r = client.post("/api/ask", json={"question": html})
    assert r.status_code == 200
    assert r.content_type == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.get_json()["question"] == html
    r = client.get("/api/documents/" + html)
    _error(r, 404, "unknown_document")
    for path in ("/api/health", "/api/documents", "/api/openapi.json", "/api/documents/calcinosis-cutis-universalis-sle"):
        r = client.get(path)
        assert r.status_code == 200 and r.content_type == "application/json"
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_ask_contract(client):
    r = client.post("/api/ask", json={"question": "  Which antibodies were positive?  ", "top_k": 20})
    assert r.status_code == 200
    body = r.get_json()
    assert body["question"] == "Which antibodies were positive?"
    assert list(body)[:3] == ["question", "answers", "question_analysis"]
    for top_k in (1, 20):
        assert client.post("/api/ask", json={"question": "fever?", "top_k": top_k}).status_code == 200
    for top_k in (0, 21, -1, 2.5, True, None, "3", [3]):
        _error(client.post("/api/ask", json={"question": "fever?", "top_k": top_k}), 400, "invalid_top_k")
    assert client.post("/api/ask", json={"question": "q" * 1000}).status_code == 200
    assert client.post("/api/ask", json={"question": " " * 5 + "q" * 1000 + " " * 5}).status_code == 200
    _error(client.post("/api/ask", json={"question": "q" * 1001}), 400, "question_too_long")
    # section is case-insensitive
    a = client.post("/api/ask", json={"question": "Which antibodies were positive?", "section": "CASE REPORT"})
    b = client.post("/api/ask", json={"question": "Which antibodies were positive?", "section": "case report"})
    assert a.get_json()["answers"] and [x["text"] for x in a.get_json()["answers"]] == \
        [x["text"] for x in b.get_json()["answers"]]
    assert all(x["section"] == "Case report" for x in a.get_json()["answers"])
    _error(client.post("/api/ask", json={"question": "fever?", "section": 3}), 400, "invalid_section")
    _error(client.post("/api/ask", json={"question": "fever?", "document_id": 3}), 400, "invalid_document_id")
    _error(client.post("/api/ask", data='{"question": "\\udc00 lone"}', content_type="application/json"),
           400, "invalid_question")


def test_cors_off_by_default(client):
    r = client.post("/api/ask", json={"question": "fever?"}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = client.options("/api/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_allows_listed_origins_only(app, settings):
    from qa_service.web.app import create_app

    allowed = "https://casebook.example"
    c = create_app(replace(settings, cors_origins=(allowed, "http://localhost:3000")),
                   app.extensions["qa"].answerer).test_client()
    r = c.post("/api/ask", json={"question": "fever?"}, headers={"Origin": allowed})
    assert r.headers["Access-Control-Allow-Origin"] == allowed and "Origin" in r.headers["Vary"]
    r = c.get("/api/health", headers={"Origin": "https://other.example"})
    assert "Access-Control-Allow-Origin" not in r.headers and "Origin" in r.headers["Vary"]
    pre = c.options("/api/ask", headers={"Origin": allowed, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204 and pre.data == b""
    assert pre.headers["Access-Control-Allow-Origin"] == allowed
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in pre.headers["Access-Control-Allow-Headers"]
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    pre = c.options("/api/ask", headers={"Origin": "https://other.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in pre.headers and "Access-Control-Allow-Methods" not in pre.headers
    # error responses carry the header too (so the browser can read the error)
    r = c.post("/api/ask", json={}, headers={"Origin": allowed})
    assert r.status_code == 400 and r.headers["Access-Control-Allow-Origin"] == allowed


def test_settings_from_env(monkeypatch):
    from qa_service.config import Settings

    monkeypatch.setenv("QA_CORS_ORIGINS", "https://a.example, https://b.example/ ,")
    monkeypatch.setenv("QA_MAX_BODY_BYTES", "12345")
    monkeypatch.setenv("QA_ADMIN_TOKEN", "tok")
    monkeypatch.setenv("QA_WORKERS", "3")
    s = Settings.from_env()
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.max_body_bytes == 12345 and s.admin_token == "tok" and s.workers == 3 and s.threads == 4
    monkeypatch.setenv("QA_ADMIN_TOKEN", "")
    assert Settings.from_env().admin_token is None


def test_streamed_body_under_the_limit_is_read_whole(app, settings):
    import io

    from qa_service.web.app import create_app

    small = create_app(replace(settings, max_body_bytes=1000), app.extensions["qa"].answerer).test_client()
    payload = b'{"question": "Which antibodies were positive?", "top_k": 1}'
    r = small.post("/api/ask", input_stream=io.BytesIO(payload), content_type="application/json",
                   headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 200 and len(r.get_json()["answers"]) == 1


def _props(spec, ref_or_schema):
    schema = ref_or_schema
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_new_response_fields_are_documented_both_ways(client):
    """Issue 13: every field of an ask response (with history, span, verdict, reason) and of a
    summary is in the schema, and every required schema field is in the response."""
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    first = client.post("/api/ask", json={"question": "How old was she?", "top_k": 1}).get_json()
    a = first["answers"][0]
    turn = {"question": "How old was she?", "answer": {k: a[k] for k in ("document_id", "start", "end")}}
    body = client.post("/api/ask", json={"question": "Had she received specialist care before?", "top_k": 2,
                                         "history": [turn]}).get_json()
    declined = client.post("/api/ask", json={"question": "Was a colonoscopy performed?", "history": [turn]}).get_json()
    for resp in (first, body, declined):
        assert set(resp) <= set(schemas["AskResponse"]["properties"]), set(resp) - set(schemas["AskResponse"]["properties"])
        assert set(schemas["AskResponse"]["required"]) <= set(resp)
        for ans in resp["answers"]:
            assert set(ans) <= set(schemas["Answer"]["properties"])
            if "reason" in ans:
                assert set(ans["reason"]) == set(schemas["Reason"]["properties"])
            if "span" in ans:
                assert set(ans["span"]) == set(schemas["Span"]["properties"])
            if "verdict" in ans:
                assert ans["verdict"] in schemas["Verdict"]["enum"]
    assert "span" in a and "reason" in a and "verdict" in body and "resolved_question" in body
    assert set(body["followup"]) == set(schemas["FollowUp"]["properties"])
    assert set(spec["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
               .rsplit("/", 1)[-1:]) == {"AskRequest"} and "history" in schemas["AskRequest"]["properties"]
    summary = client.get("/api/documents/calcinosis-cutis-universalis-sle/summary").get_json()
    card = schemas["DocumentSummaryCard"]
    assert set(summary) == set(card["properties"]) and set(card["required"]) <= set(summary)
    for name, item in summary.items():
        if isinstance(item, dict):
            assert set(item) <= set(schemas["SummaryItem"]["properties"]), name
