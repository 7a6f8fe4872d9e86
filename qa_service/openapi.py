"""The OpenAPI 3.1 description of the JSON API, served at GET /api/openapi.json."""
from __future__ import annotations

from .config import Settings
from .corpus import DOC_ID_MAX
from .doc_entities import MAX_ENTITY_CHARS

JSON = "application/json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict:
    return {"$ref": "#/components/responses/" + description}


ERROR_RESPONSES = {
    "BadRequest": "The request is malformed (invalid JSON, wrong field type or value).",
    "Unauthorized": "Missing or wrong 'Authorization: Bearer <token>'.",
    "Forbidden": "Adding and removing documents is disabled: QA_ADMIN_TOKEN is not set or shorter than 32 characters.",
    "NotFound": "No such document (or path).",
    "MethodNotAllowed": "The path does not support this method.",
    "Conflict": "The id is taken (POST) or the document cannot be removed (DELETE).",
    "PayloadTooLarge": "The body is larger than QA_MAX_BODY_BYTES.",
    "UnsupportedMediaType": "Wrong Content-Type.",
    "UnprocessableEntity": "The report has no text to index.",
    "TooManyRequests": "Too many failed admin tokens from this address in the last minute; see Retry-After.",
    "ServiceUnavailable": "Other writes are in progress (the writer lock stayed busy for QA_WRITE_WAIT s); see Retry-After.",
    "InternalError": "Unexpected server error (no details are exposed).",
}


def spec(settings: Settings | None = None) -> dict:
    s = settings or Settings()
    doc_id_param = {"name": "doc_id", "in": "path", "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": DOC_ID_MAX}}
    common = {"405": _error("MethodNotAllowed"), "413": _error("PayloadTooLarge"), "500": _error("InternalError")}
    auth = [{"bearerAuth": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "casebook-qa", "version": "1",
                 "description": "Question answering over clinical case reports. Every response is JSON; "
                                "errors are {\"error\": {\"code\", \"message\"}}."},
        "paths": {
            "/api/ask": {"post": {
                "operationId": "ask", "summary": "Answer a question from the reports",
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("AskRequest")}}},
                "responses": {"200": _json(_ref("AskResponse"), "Answers (possibly none, with a message)."),
                              "400": _error("BadRequest"), "404": _error("NotFound"),
                              "415": _error("UnsupportedMediaType"), **common}}},
            "/api/documents": {
                "get": {"operationId": "listDocuments", "summary": "List the indexed documents",
                        "responses": {"200": _json({"type": "object", "required": ["documents"],
                                                    "properties": {"documents": {"type": "array",
                                                                                 "items": _ref("DocumentSummary")}}},
                                                   "Every indexed document."), **common}},
                "post": {"operationId": "addDocument", "summary": "Add a report and add it to the index",
                         "description": "text/plain body with ?id= and ?title=, or JSON {id?, title?, text}. "
                                        "Without an id one is generated. Answers once every worker will "
                                        "answer from the new index.",
                         "security": auth,
                         "parameters": [
                             {"name": "id", "in": "query", "required": False, "schema": _ref("DocumentId"),
                              "description": "Document id for a text/plain body."},
                             {"name": "title", "in": "query", "required": False,
                              "schema": {"type": "string", "maxLength": 500},
                              "description": "Title for a text/plain body."}],
                         "requestBody": {"required": True, "content": {
                             "text/plain": {"schema": {"type": "string"}},
                             JSON: {"schema": _ref("IngestRequest")}}},
                         "responses": {"201": _json(_ref("IngestResponse"), "Stored and indexed."),
                                       "400": _error("BadRequest"), "401": _error("Unauthorized"),
                                       "403": _error("Forbidden"), "409": _error("Conflict"),
                                       "415": _error("UnsupportedMediaType"),
                                       "422": _error("UnprocessableEntity"), "429": _error("TooManyRequests"), "503": _error("ServiceUnavailable"),
                                       **common}}},
            "/api/documents/{doc_id}": {
                "parameters": [doc_id_param],
                "get": {"operationId": "getDocument", "summary": "One document's text, sections and entities",
                        "responses": {"200": _json(_ref("Document"), "The document."),
                                      "404": _error("NotFound"), **common}},
                "delete": {"operationId": "deleteDocument", "summary": "Remove a stored report and take it out of the index",
                           "security": auth,
                           "responses": {"200": _json({"type": "object", "required": ["id", "deleted"],
                                                       "properties": {"id": {"type": "string"},
                                                                      "deleted": {"const": True}}}, "Removed."),
                                         "400": _error("BadRequest"), "401": _error("Unauthorized"),
                                         "403": _error("Forbidden"), "404": _error("NotFound"),
                                         "409": _error("Conflict"), "429": _error("TooManyRequests"), "503": _error("ServiceUnavailable"),
                                         **common}}},
            "/api/health": {"get": {
                "operationId": "health", "summary": "Liveness, index size and the reports the build skipped",
                "responses": {"200": _json({"type": "object", "required": ["status", "documents", "passages",
                                                                           "failed_reports", "failed_reports_count"],
                                            "properties": {"status": {"const": "ok"},
                                                           "documents": {"type": "integer"},
                                                           "passages": {"type": "integer"},
                                                           "failed_reports": {
                                                               "type": "array", "items": _ref("FailedReport"),
                                                               "description": "Reports the index build skipped "
                                                                              "(at most 100 listed)."},
                                                           "failed_reports_count": {"type": "integer"}}},
                                           "Serving."),
                              **common}}},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 description."), **common}}},
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "The value of QA_ADMIN_TOKEN."}},
            "responses": {name: _json(_ref("Error"), text) for name, text in ERROR_RESPONSES.items()},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string", "examples": ["invalid_top_k"]},
                                   "message": {"type": "string"}}}}},
                "DocumentId": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                               "minLength": 1, "maxLength": DOC_ID_MAX},
                "AskRequest": {"type": "object", "required": ["question"], "properties": {
                    "question": {"type": "string", "minLength": 1, "maxLength": s.max_question_chars,
                                 "description": "Trimmed before the length checks."},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": s.max_top_k, "default": s.top_k},
                    "document_id": {"type": "string", "description": "Only this document (404 if unknown)."},
                    "section": {"type": "string", "description": "Only this section (case-insensitive)."},
                    "debug": {"type": "boolean", "default": False,
                              "description": "Each answer carries the ranker's feature values."}}},
                "Entity": {"type": "object", "properties": {
                    "text": {"type": "string"}, "label": {"type": "string"}, "start": {"type": "integer"},
                    "end": {"type": "integer"}, "negated": {"type": "boolean"}, "assertion": {"type": "string"},
                    "concept": {"type": ["string", "null"]}}},
                "Answer": {"type": "object", "required": ["text", "passage", "document_id", "document_title",
                                                          "section", "score", "start", "end"],
                           "properties": {
                               "text": {"type": "string"}, "passage": {"type": "string"},
                               "document_id": {"type": "string"}, "document_title": {"type": "string"},
                               "section": {"type": "string"},
                               "score": {"type": "number", "minimum": 0, "maximum": 1,
                                         "description": "Calibrated probability that this answer holds the "
                                                        "answer; answers come in descending score."},
                               "start": {"type": "integer"}, "end": {"type": "integer"},
                               "passage_start": {"type": "integer"}, "passage_end": {"type": "integer"},
                               "raw_start": {"type": "integer"}, "raw_end": {"type": "integer"},
                               "entities": {"type": "array", "items": _ref("Entity")},
                               "features": {"type": "object", "additionalProperties": {"type": "number"},
                                            "description": "Only with debug: the ranker's feature values."}}},
                "AskResponse": {"type": "object", "required": ["question", "answers", "took_ms"], "properties": {
                    "question": {"type": "string"}, "answers": {"type": "array", "items": _ref("Answer")},
                    "question_analysis": {"type": "object"},
                    "question_entities": {"type": "array", "items": _ref("Entity")},
                    "took_ms": {"type": "number"},
                    "answerability": {"type": "number", "minimum": 0, "maximum": 1,
                                      "description": "Calibrated probability that the report answers the question."},
                    "spelling": {"type": "object", "additionalProperties": {"type": "string"},
                                 "description": "Question words repaired before answering (as asked -> read as)."},
                    "message": {"type": "string", "description": "Present when there is no answer."}}},
                "DocumentSummary": {"type": "object", "required": ["id", "title", "sections", "n_passages"],
                                    "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                                   "sections": {"type": "array", "items": {"type": "string"}},
                                                   "n_passages": {"type": "integer"}, "chars": {"type": "integer"}}},
                "Section": {"type": "object", "properties": {
                    "name": {"type": "string"}, "kind": {"type": "string"}, "start": {"type": "integer"},
                    "end": {"type": "integer"}, "heading": {"type": "string"}}},
                "Document": {"type": "object", "required": ["id", "title", "text", "sections", "entities",
                                                            "entities_truncated"],
                             "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                            "text": {"type": "string"},
                                            "sections": {"type": "array", "items": _ref("Section")},
                                            "entities": {"type": "array", "items": _ref("Entity")},
                                            "entities_truncated": {
                                                "type": "boolean",
                                                "description": f"True when the text is longer than "
                                                               f"{MAX_ENTITY_CHARS} characters: entities then "
                                                               "cover only its start (up to a sentence end)."}}},
                "FailedReport": {"type": "object", "required": ["id", "path", "error"], "properties": {
                    "id": {"type": ["string", "null"]}, "path": {"type": "string"}, "error": {"type": "string"}}},
                "IngestRequest": {"type": "object", "required": ["text"], "properties": {
                    "id": _ref("DocumentId"), "title": {"type": "string", "maxLength": 500},
                    "text": {"type": "string", "minLength": 1}}},
                "IngestResponse": {"type": "object", "required": ["id", "title", "sections", "n_passages"],
                                   "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                                  "sections": {"type": "array", "items": {"type": "string"}},
                                                  "n_passages": {"type": "integer"}}},
            },
        },
    }
