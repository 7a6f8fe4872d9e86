"""The Flask app factory: the JSON API under /api (api.py) and the web page at / (page.py).

Every API response is JSON (errors: {"error": {"code", "message"}}), never HTML. Each worker
process keeps one loaded index (a main segment and a delta segment, index/segments.py) in a
`QAState` (service/holder.py); a before_request hook re-reads models/CURRENT at most every
Settings.reload_interval seconds and, when another worker switched it, loads only the new delta
folder (the main segment is read again only after a merge or a full build).
"""
from __future__ import annotations

import io
import logging
import time

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from ..config import Settings
from ..qa import Answerer
from ..service.holder import QAState, WritesBusy
from ..service.ingest import IngestError
from ..service.locking import LockTimeout
from .api import FailureLog, api, token_problem
from .errors import WRITE_RETRY_AFTER, ApiError, error_body

log = logging.getLogger("qa_service.web.api")  # one request log for the API and the page
CORS_ALLOW_HEADERS = "Content-Type, Authorization"
CORS_MAX_AGE = "600"
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)


def create_app(settings: Settings | None = None, answerer: Answerer | None = None) -> Flask:
    """Build the app; the index is loaded (or built) once here and kept on the app."""
    settings = settings or Settings.from_env()
    segments = None
    if answerer is None:
        from ..service.build import load_or_build, make_answerer

        report = load_or_build(settings)
        segments = report.segments
        answerer = make_answerer(report.index, settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider has it
    app.url_map.merge_slashes = False  # "//" is not redirected (an HTML 308): ids are checked instead
    app.extensions["qa"] = state = QAState(settings, answerer, segments)
    app.extensions["qa_auth_failures"] = FailureLog(settings.models_dir / "auth-failures.json",
                                                    settings.auth_fail_limit, settings.auth_fail_window)
    if settings.admin_token and token_problem(settings.admin_token):
        log.error("%s", token_problem(settings.admin_token))
    app.register_blueprint(api)
    from .page import web

    app.register_blueprint(web)
    cors_origins = frozenset(settings.cors_origins)

    @app.before_request
    def _start():
        g.t0 = time.perf_counter()
        length = request.content_length
        if length is not None and length > settings.max_body_bytes:
            raise ApiError(413, "payload_too_large", f"the request body is larger than {settings.max_body_bytes} bytes")
        if length is None and request.environ.get("wsgi.input_terminated"):
            _buffer_streamed_body(settings.max_body_bytes)
        # Health never waits: not for a reload in another thread, not for a write.
        g.answerer = state.refresh(wait=request.path != "/api/health")

    @app.after_request
    def _finish(response):
        ms = (time.perf_counter() - g.get("t0", time.perf_counter())) * 1000
        log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, ms)
        for key, value in SECURITY_HEADERS:
            response.headers[key] = value
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
            if request.method == "OPTIONS" and response.status_code == 200:
                response.status_code = 204
                response.set_data(b"")
                response.headers.pop("Content-Type", None)
            if cors_origins:
                _cors(response, cors_origins)
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        body, status = error_body(exc.status, exc.code, exc.message)
        body.headers.update(exc.headers)
        return body, status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        code = _HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
        body, status = error_body(status, code, exc.description or exc.name)
        headers = dict(exc.get_headers())
        for key in ("Allow", "WWW-Authenticate", "Retry-After"):
            if headers.get(key):
                body.headers[key] = headers[key]
        return body, status

    @app.errorhandler(IngestError)
    def _ingest_error(exc: IngestError):
        return error_body(exc.status, exc.code, exc.message)

    @app.errorhandler(WritesBusy)
    def _slots_taken(exc: WritesBusy):
        body, status = error_body(503, "busy", str(exc))
        body.headers["Retry-After"] = WRITE_RETRY_AFTER
        return body, status

    @app.errorhandler(LockTimeout)
    def _busy(exc: LockTimeout):
        body, status = error_body(503, "busy", "another write is updating the index; try again later")
        body.headers["Retry-After"] = WRITE_RETRY_AFTER
        return body, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_body(500, "internal_error", "the server failed to handle this request")

    return app


_HTTP_CODES = {413: "payload_too_large"}


def _buffer_streamed_body(limit: int) -> None:
    """Read a body sent without Content-Length (chunked) up to the limit, 413 past it. Werkzeug's
    own max_content_length guard silently truncates such a body at the limit instead."""
    raw = request.environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = raw.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise ApiError(413, "payload_too_large", f"the request body is larger than {limit} bytes")
    request.environ["wsgi.input"] = io.BytesIO(b"".join(chunks))


def _cors(response, origins: frozenset[str]) -> None:
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if not origin or not (origin in origins or "*" in origins):
        return
    response.headers["Access-Control-Allow-Origin"] = origin if origin in origins else "*"
    if request.method == "OPTIONS":
        allow = response.headers.get("Allow") or "GET, POST, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Methods"] = allow
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
