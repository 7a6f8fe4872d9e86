"""Flask app factory: the JSON API under /api and the web page at /."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .answer import Answerer, UnknownDocument
from .config import Settings

log = logging.getLogger("qa_service.api")
api = Blueprint("api", __name__, url_prefix="/api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


def _state():
    return current_app.extensions["qa"]


@api.post("/ask")
def ask():
    settings: Settings = _state().settings
    body = request.get_json(silent=True, force=False) if request.is_json else None
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the question as JSON (Content-Type: application/json)")
    if body is None:
        raise ApiError(400, "invalid_json", "the request body is not valid JSON")
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the JSON body must be an object like {\"question\": \"...\"}")
    question = body.get("question")
    if question is None:
        raise ApiError(400, "missing_question", "'question' is required")
    if not isinstance(question, str):
        raise ApiError(400, "invalid_question", "'question' must be a string")
    question = question.strip()
    if not question:
        raise ApiError(400, "empty_question", "'question' is empty")
    if len(question) > settings.max_question_chars:
        raise ApiError(400, "question_too_long", f"'question' is longer than {settings.max_question_chars} characters")
    top_k = body.get("top_k", settings.top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= settings.max_top_k:
        raise ApiError(400, "invalid_top_k", f"'top_k' must be an integer from 1 to {settings.max_top_k}")
    document_id = body.get("document_id")
    if document_id is not None and not isinstance(document_id, str):
        raise ApiError(400, "invalid_document_id", "'document_id' must be a string")
    section = body.get("section")
    if section is not None and not isinstance(section, str):
        raise ApiError(400, "invalid_section", "'section' must be a string")
    answerer: Answerer = _state().answerer
    try:
        result = answerer.ask(question, top_k=top_k, document_id=document_id, section=section or None)
    except UnknownDocument:
        raise ApiError(404, "unknown_document", f"no document with id {document_id!r}")
    return jsonify(result.to_dict())


def _document(doc_id: str):
    index = _state().answerer.index
    d = index.doc_by_id.get(doc_id)
    if d is None:
        raise ApiError(404, "unknown_document", f"no document with id {doc_id!r}")
    return index.docs[d]


@api.get("/documents")
def documents():
    index = _state().answerer.index
    out = []
    for d, doc in enumerate(index.docs):
        names = list(dict.fromkeys(s.name for s in doc.sections))
        out.append({"id": doc.id, "title": doc.title, "sections": names,
                    "n_passages": int(index.doc_rows[d + 1] - index.doc_rows[d]), "chars": len(doc.text)})
    return jsonify({"documents": out})


@api.get("/documents/<path:doc_id>")
def document(doc_id: str):
    doc = _document(doc_id)
    entities = _state().answerer.document_entities(doc)
    return jsonify({"id": doc.id, "title": doc.title, "text": doc.text,
                    "sections": [s.to_dict() for s in doc.sections],
                    "entities": [e.to_dict() for e in entities]})


@api.get("/health")
def health():
    index = _state().answerer.index
    return jsonify({"status": "ok", "documents": len(index.docs), "passages": index.n_sentences})


class QAState:
    def __init__(self, settings: Settings, answerer: Answerer):
        self.settings = settings
        self.answerer = answerer


def create_app(settings: Settings | None = None, answerer: Answerer | None = None) -> Flask:
    """Build the app; the index is loaded (or built) once here and kept on the app."""
    settings = settings or Settings.from_env()
    if answerer is None:
        from .service import load_or_build, make_answerer

        answerer = make_answerer(load_or_build(settings).index, settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions["qa"] = QAState(settings, answerer)
    app.register_blueprint(api)
    from .web import web

    app.register_blueprint(web)

    @app.before_request
    def _start_timer():
        g.t0 = time.perf_counter()

    @app.after_request
    def _log(response):
        ms = (time.perf_counter() - g.get("t0", time.perf_counter())) * 1000
        log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, ms)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_body(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_body(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_body(500, "internal_error", "the server failed to handle this request")

    return app
