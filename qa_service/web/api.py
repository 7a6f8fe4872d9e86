"""The JSON API under /api: routes and their request validation (ask, documents, summaries,
adding and deleting reports with the admin token, health, the OpenAPI document)."""
from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import logging
import math
import os
import time
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, request

from ..config import Settings
from ..corpus.store import is_encodable, resolve_doc_id
from ..qa import MAX_TURNS, Answerer, Turn, UnknownDocument
from ..service.holder import QAState
from .errors import ApiError

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api")

MAX_TITLE_CHARS = 500
MAX_FAILED_LISTED = 100  # /api/health lists at most this many failed reports (and counts them all)
# An admin token shorter than this disables writes (403), and start-up logs why.
MIN_TOKEN_CHARS = 32


def _state() -> QAState:
    return current_app.extensions["qa"]


def _auth_failures() -> "FailureLog":
    return current_app.extensions["qa_auth_failures"]


def _answerer() -> Answerer:
    """The answerer pinned for this request (a reload in another thread does not change it midway)."""
    answerer = g.get("answerer")
    if answerer is None:
        answerer = g.answerer = _state().answerer
    return answerer


# ---------------------------------------------------------------- ask

@api.post("/ask")
def ask():
    settings: Settings = _state().settings
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the question as JSON (Content-Type: application/json)")
    body = _json_body()
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
    if not is_encodable(question):
        raise ApiError(400, "invalid_question", "'question' is not valid Unicode (lone surrogate)")
    top_k = body.get("top_k", settings.top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= settings.max_top_k:
        raise ApiError(400, "invalid_top_k", f"'top_k' must be an integer from 1 to {settings.max_top_k}")
    document_id = body.get("document_id")
    if document_id is not None and not isinstance(document_id, str):
        raise ApiError(400, "invalid_document_id", "'document_id' must be a string")
    section = body.get("section")
    if section is not None and not isinstance(section, str):
        raise ApiError(400, "invalid_section", "'section' must be a string")
    debug = body.get("debug", False)
    if not isinstance(debug, bool):
        raise ApiError(400, "invalid_debug", "'debug' must be true or false")
    answerer = _answerer()
    if document_id is not None:
        document_id = resolve_doc_id(answerer.index.doc_by_id, document_id)
    history = _history(body.get("history"), answerer, settings)
    try:
        result = answerer.ask(question, top_k=top_k, document_id=document_id, section=section or None, debug=debug,
                              history=history)
    except UnknownDocument:
        raise ApiError(404, "unknown_document", f"no document with id {_short(document_id)!r}")
    return jsonify(result.to_dict())


HISTORY_TURN_KEYS = {"question", "answer"}
HISTORY_ANSWER_KEYS = {"document_id", "start", "end"}


def _history(raw, answerer: Answerer, settings: Settings) -> list[Turn] | None:
    """The conversation's earlier turns, oldest first, checked field by field (400 when malformed)."""
    if raw is None:
        return None

    def bad(message: str):
        return ApiError(400, "invalid_history", message)

    if not isinstance(raw, list):
        raise bad("'history' must be a list of turns {\"question\", \"answer\"}")
    if len(raw) > MAX_TURNS:
        raise bad(f"'history' holds at most {MAX_TURNS} turns (send the latest ones)")
    index = answerer.index
    turns = []
    for i, item in enumerate(raw):
        where = f"history[{i}]"
        if not isinstance(item, dict):
            raise bad(f"{where} must be an object {{\"question\", \"answer\"}}")
        unknown = set(item) - HISTORY_TURN_KEYS
        if unknown:
            raise bad(f"{where} has unknown fields: {', '.join(sorted(map(_short, unknown)))}")
        q = item.get("question")
        if not isinstance(q, str) or not q.strip() or len(q) > settings.max_question_chars or not is_encodable(q):
            raise bad(f"{where}.question must be a non-empty string of at most {settings.max_question_chars} characters")
        ans = item.get("answer")
        if ans is None:
            turns.append(Turn(q.strip()))
            continue
        if not isinstance(ans, dict) or set(ans) != HISTORY_ANSWER_KEYS:
            raise bad(f"{where}.answer must be null or {{\"document_id\", \"start\", \"end\"}}")
        doc_id, start, end = ans["document_id"], ans["start"], ans["end"]
        if not isinstance(doc_id, str) or doc_id not in index.doc_by_id:
            raise bad(f"{where}.answer.document_id is not an indexed document")
        n = len(index.docs[index.doc_by_id[doc_id]].text)
        if any(isinstance(x, bool) or not isinstance(x, int) for x in (start, end)) or not 0 <= start < end <= n:
            raise bad(f"{where}.answer.start and end must be integers with 0 <= start < end <= {n}")
        turns.append(Turn(q.strip(), doc_id, start, end))
    return turns


def _json_body():
    """The parsed JSON body, or None when it is not valid JSON (including JSON nested too deeply for
    the parser, which raises RecursionError rather than ValueError)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n] + "…"


# ---------------------------------------------------------------- documents

def _document(doc_id: str):
    index = _answerer().index
    d = index.doc_by_id.get(resolve_doc_id(index.doc_by_id, doc_id))
    if d is None:
        raise ApiError(404, "unknown_document", f"no document with id {_short(doc_id)!r}")
    return index.docs[d]


# Fields of a report's recorded source that the API shows (the server-side path stays private).
PUBLIC_SOURCE_FIELDS = ("kind", "file", "row", "format")


def report_origin(index, doc_id: str) -> dict:
    """{source, added[, original_id]} of a report, from the index metadata (None for an index built
    before it recorded them)."""
    info = (index.meta.get("reports") or {}).get(doc_id)
    if not isinstance(info, dict):
        return {"source": None, "added": None}
    given = info.get("source")
    src = given if isinstance(given, dict) else {}
    out = {"source": {k: src[k] for k in PUBLIC_SOURCE_FIELDS if k in src} or None, "added": info.get("added")}
    if info.get("original_id"):
        out["original_id"] = info["original_id"]
    return out


def _summary(index, d: int) -> dict:
    doc = index.docs[d]
    return {"id": doc.id, "title": doc.title, "sections": list(dict.fromkeys(s.name for s in doc.sections)),
            "n_passages": int(index.doc_rows[d + 1] - index.doc_rows[d]), "chars": len(doc.text),
            **report_origin(index, doc.id)}


def _sources(index) -> list[dict]:
    """The index's reports grouped by where they came from: {kind, file?, documents, last_added};
    computed once per loaded index (health is polled, and this is a pass over every report)."""
    cached = getattr(index, "_api_sources", None)
    if cached is None:
        cached = index._api_sources = _group_sources(index)
    return cached


def _group_sources(index) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for doc in index.docs:
        origin = report_origin(index, doc.id)
        src = origin["source"] or {"kind": "unknown"}
        key = (src.get("kind"), src.get("file") if src.get("kind") == "import" else None)
        g_ = groups.setdefault(key, {"kind": key[0], **({"file": key[1]} if key[1] else {}),
                                     "documents": 0, "last_added": None})
        g_["documents"] += 1
        if origin["added"] and (g_["last_added"] is None or origin["added"] > g_["last_added"]):
            g_["last_added"] = origin["added"]
    return sorted(groups.values(), key=lambda x: (-x["documents"], str(x["kind"]), x.get("file", "")))


@api.get("/documents")
def documents():
    index = _answerer().index
    return jsonify({"documents": [_summary(index, d) for d in range(len(index.docs))]})


@api.get("/documents/<path:doc_id>")
def document(doc_id: str):
    from ..clinical.doc_entities import for_answerer

    doc = _document(doc_id)
    entities, truncated = for_answerer(_answerer()).get(doc)
    return jsonify({"id": doc.id, "title": doc.title, "text": doc.text,
                    "sections": [s.to_dict() for s in doc.sections],
                    "entities": [e.to_dict() for e in entities], "entities_truncated": truncated})


@api.get("/documents/<path:doc_id>/summary")
def document_summary(doc_id: str):
    _document(doc_id)  # 404 for an unknown id
    try:
        return jsonify(_answerer().summary(doc_id))
    except UnknownDocument:
        raise ApiError(404, "unknown_document", f"no document with id {_short(doc_id)!r}")


def token_problem(token: str | None) -> str | None:
    """Why writes are disabled with this admin token, or None when it is usable."""
    if not token:
        return "adding and removing documents is disabled (QA_ADMIN_TOKEN is not set)"
    if len(token) < MIN_TOKEN_CHARS:
        return (f"adding and removing documents is disabled: QA_ADMIN_TOKEN is {len(token)} characters long, "
                f"it must be at least {MIN_TOKEN_CHARS} (set a longer one and restart the server)")
    return None


def _header_bytes(value: str) -> bytes:
    """The bytes the client sent: WSGI header values are those bytes decoded as Latin-1 (PEP 3333),
    so a UTF-8 token arrives as its UTF-8 bytes; a str that is not Latin-1 (a test client) as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def _require_admin() -> None:
    state = _state()
    token = state.settings.admin_token
    problem = token_problem(token)
    if problem or token is None:
        raise ApiError(403, "ingest_disabled" if not token else "admin_token_too_short", problem or "")
    client = request.remote_addr or "-"
    wait = _auth_failures().retry_after(client)
    if wait:
        raise ApiError(429, "too_many_attempts", f"too many failed admin-token attempts from this address; "
                                                 f"try again in {wait} s", {"Retry-After": str(wait)})
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # Constant-time comparison of the UTF-8 bytes (a token need not be ASCII or Latin-1).
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        _header_bytes(given.strip()), token.encode("utf-8", "surrogateescape"))
    if not ok:
        _auth_failures().fail(client)
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <admin token>'",
                       {"WWW-Authenticate": 'Bearer realm="casebook-qa"'})


class FailureLog:
    """Failed admin-token attempts per client address in the last `window` seconds, kept in one small
    JSON file under flock so every worker process counts the same attempts. Touched only by write
    requests (which are rare), never by reads."""

    MAX_CLIENTS = 10000

    def __init__(self, path: Path, limit: int, window: float):
        self.path, self.limit, self.window = path, limit, window

    @contextlib.contextmanager
    def _locked(self, exclusive: bool):
        if exclusive:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | (os.O_CREAT if exclusive else 0), 0o600)
        with os.fdopen(fd, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                data = json.loads(fh.read() or "{}")
                if not isinstance(data, dict):
                    data = {}
            except ValueError:
                data = {}
            now = time.time()
            data = {k: [t for t in v if now - t < self.window] for k, v in data.items() if isinstance(v, list)}
            yield fh, {k: v for k, v in data.items() if v}, now

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again (0: now)."""
        if self.limit <= 0 or not self.path.exists():
            return 0
        with self._locked(False) as (_, data, now):
            times = sorted(data.get(client, ()))
            if len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[-self.limit] + self.window - now))

    def fail(self, client: str) -> None:
        with self._locked(True) as (fh, data, now):
            data[client] = sorted(data.get(client, []) + [now])[-max(self.limit, 1):]
            if len(data) > self.MAX_CLIENTS:  # keep the most recent clients
                data = dict(sorted(data.items(), key=lambda kv: kv[1][-1])[-self.MAX_CLIENTS:])
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(data))


def _ingest_body() -> tuple[str | None, str, str | None, str]:
    """(id or None, text, title or None, format) from a text/plain, JSON or application/pdf request."""
    from ..corpus.pdf import PdfError, pdf_text

    mimetype = request.mimetype
    fmt = "text"
    text: object
    if mimetype == "application/pdf":
        try:
            extracted = pdf_text(request.get_data(cache=False))
        except PdfError as exc:
            raise ApiError(422, exc.code, str(exc))
        text, fmt = extracted.text, "pdf"
        doc_id, title = request.args.get("id"), request.args.get("title") or extracted.title
    elif request.is_json:
        body = _json_body()
        if body is None:
            raise ApiError(400, "invalid_json", "the request body is not valid JSON")
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_body", "the JSON body must be an object like {\"text\": \"...\"}")
        doc_id = body.get("id", request.args.get("id"))
        text, title = body.get("text"), body.get("title", request.args.get("title"))
        if text is None:
            raise ApiError(400, "missing_text", "'text' is required")
        if not isinstance(text, str):
            raise ApiError(400, "invalid_text", "'text' must be a string")
        if doc_id is not None and not isinstance(doc_id, str):
            raise ApiError(400, "invalid_id", "'id' must be a string")
        if title is not None and not isinstance(title, str):
            raise ApiError(400, "invalid_title", "'title' must be a string")
    elif mimetype == "text/plain":
        charset = (request.mimetype_params.get("charset") or "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise ApiError(415, "unsupported_media_type", "send the report as UTF-8 text")
        try:
            text = request.get_data(cache=False).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "invalid_text", f"the report is not UTF-8 text (invalid byte at offset {exc.start})")
        doc_id, title = request.args.get("id"), request.args.get("title")
    else:
        raise ApiError(415, "unsupported_media_type",
                       "send the report as text/plain or application/pdf (?id=&title=), "
                       "or JSON {\"id\", \"title\", \"text\"}")
    if title is not None:
        title = title.strip()
        if len(title) > MAX_TITLE_CHARS or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in title):
            raise ApiError(400, "invalid_title", f"'title' must be at most {MAX_TITLE_CHARS} characters "
                                                 "without control characters")
    return doc_id, text, title or None, fmt


@api.post("/documents")
def add_document():
    from ..service.ingest import add_report, new_doc_id

    _require_admin()
    doc_id, text, title, fmt = _ingest_body()
    state = _state()
    doc_id = new_doc_id() if doc_id is None else doc_id
    with state.write_slot():
        index = add_report(state.write_settings, doc_id, text, title, state.known_ids, state.index_add,
                           source={"kind": "api", "format": fmt})
        body = _summary(index, index.doc_by_id[doc_id])
        for key in ("chars", "source", "added", "original_id"):
            body.pop(key, None)
        state.settle()
    state.maybe_merge()
    resp = jsonify(body)
    resp.status_code = 201
    resp.headers["Location"] = f"/api/documents/{doc_id}"
    return resp


@api.delete("/documents/<path:doc_id>")
def delete_document(doc_id: str):
    from ..service.ingest import delete_report

    _require_admin()
    state = _state()
    with state.write_slot():
        delete_report(state.write_settings, doc_id, state.known_ids, state.index_delete)
        state.settle()
    state.maybe_merge()
    return jsonify({"id": doc_id, "deleted": True})


@api.get("/health")
def health():
    index = g.answerer.index  # never waits for a reload or a write (see _start)
    failed = [r for r in index.meta.get("failed_reports") or [] if isinstance(r, dict)]
    changes = index.meta.get("changes") if isinstance(index.meta.get("changes"), dict) else None
    return jsonify({"status": "ok", "documents": len(index.docs), "passages": index.n_sentences,
                    "failed_reports": failed[:MAX_FAILED_LISTED], "failed_reports_count": len(failed),
                    "sources": _sources(index),
                    "index": {"built_at": index.meta.get("built_at"), "changes": changes,
                              "delta": index.meta.get("delta") or {"documents": 0, "deleted": 0}}})


@api.get("/openapi.json")
def openapi():
    from .openapi import spec

    return jsonify(spec(_state().settings))
