"""The OpenAPI 3.1 description of the JSON API, served at GET /api/openapi.json."""
from __future__ import annotations

from ..config import Settings
from ..corpus.store import DOC_ID_MAX
from ..clinical.doc_entities import MAX_ENTITY_CHARS
from ..qa.followup import MAX_TURNS

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
    "UnprocessableEntity": "The report has no text to index (empty_report, invalid_report), or the PDF is "
                           "unreadable (invalid_pdf) or has no text layer (no_text_layer; OCR is not supported).",
    "TooManyRequests": "Too many failed admin tokens from this address in the last minute; see Retry-After.",
    "ServiceUnavailable": "Other writes are in progress (the writer lock stayed busy for QA_WRITE_WAIT s); see Retry-After.",
    "InternalError": "Unexpected server error (no details are exposed).",
}


def spec(settings: Settings | None = None) -> dict:
    s = settings or Settings()
    doc_id_param = {"name": "doc_id", "in": "path", "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": DOC_ID_MAX}}
    common = {"405": _error("MethodNotAllowed"), "413": _error("PayloadTooLarge"), "500": _error("InternalError")}
    auth: list[dict[str, list[str]]] = [{"bearerAuth": []}]
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
                         "description": "text/plain or application/pdf body with ?id= and ?title=, or JSON "
                                        "{id?, title?, text}. Without an id one is generated; a PDF's title "
                                        "defaults to its metadata title. The report is stored in the corpus "
                                        "folder (as `qa-service import` stores it). Answers once every worker "
                                        "will answer from the new index.",
                         "security": auth,
                         "parameters": [
                             {"name": "id", "in": "query", "required": False, "schema": _ref("DocumentId"),
                              "description": "Document id for a text/plain or PDF body."},
                             {"name": "title", "in": "query", "required": False,
                              "schema": {"type": "string", "maxLength": 500},
                              "description": "Title for a text/plain or PDF body."}],
                         "requestBody": {"required": True, "content": {
                             "text/plain": {"schema": {"type": "string"}},
                             "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}},
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
            "/api/documents/{doc_id}/summary": {
                "parameters": [doc_id_param],
                "get": {"operationId": "getDocumentSummary", "summary": "The case at a glance",
                        "description": "Patient (age, sex), presenting complaint, key findings, investigations, "
                                       "diagnosis, treatment and outcome, each with the offsets of its sentence "
                                       "in the document's text, or null where the report does not say. Computed "
                                       "once per report and index.",
                        "responses": {"200": _json(_ref("DocumentSummaryCard"), "The summary."),
                                      "404": _error("NotFound"), **common}}},
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
                                                           "failed_reports_count": {"type": "integer"},
                                                           "sources": {
                                                               "type": "array", "items": _ref("SourceGroup"),
                                                               "description": "The indexed reports grouped by "
                                                                              "where they came from."},
                                                           "index": {
                                                               "type": "object", "properties": {
                                                                   "built_at": {"type": ["string", "null"]},
                                                                   "changes": {"oneOf": [_ref("IndexChanges"),
                                                                                         {"type": "null"}]},
                                                                   "delta": {"type": "object", "properties": {
                                                                       "documents": {"type": "integer"},
                                                                       "deleted": {"type": "integer"}}}},
                                                               "description": "When the main index was last "
                                                                              "built, what that build changed, "
                                                                              "and the reports added and "
                                                                              "deleted since (the delta "
                                                                              "segment)."}}},
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
                              "description": "Each answer carries the ranker's feature values."},
                    "history": {"type": "array", "maxItems": MAX_TURNS, "items": _ref("HistoryTurn"),
                                "description": "The conversation's earlier turns, oldest first. An elliptical "
                                               "or pronominal question (\"At what dose?\", \"Was it treated?\", "
                                               "\"And the CT scan?\") is resolved against them and asked in the "
                                               "report of the last answer (unless document_id is given); a "
                                               "question that stands on its own is unchanged. Malformed: 400 "
                                               "invalid_history."}}},
                "HistoryTurn": {"type": "object", "required": ["question"], "additionalProperties": False,
                                "properties": {
                                    "question": {"type": "string", "minLength": 1, "maxLength": s.max_question_chars},
                                    "answer": {"oneOf": [{"type": "null"}, {
                                        "type": "object", "required": ["document_id", "start", "end"],
                                        "additionalProperties": False,
                                        "properties": {"document_id": {"type": "string"},
                                                       "start": {"type": "integer", "minimum": 0},
                                                       "end": {"type": "integer", "minimum": 1}}}],
                                               "description": "The top answer the service gave (null: it declined)."}}},
                "Span": {"type": "object", "required": ["text", "start", "end", "type"], "properties": {
                    "text": {"type": "string"},
                    "start": {"type": "integer", "description": "Offset in the answer's text (not the document)."},
                    "end": {"type": "integer"},
                    "type": {"enum": ["age", "dose", "count", "measurement", "date", "duration", "drug", "test_result"]}}},
                "Reason": {"type": "object", "required": ["matched", "concepts", "answer_type", "type_found",
                                                          "section", "text"], "properties": {
                    "matched": {"type": "array", "items": {"type": "string"},
                                "description": "Question words the sentence shares, as written in the sentence."},
                    "concepts": {"type": "array", "items": {"type": "string"},
                                 "description": "Entities of the sentence that stand for the question's concepts in other words."},
                    "answer_type": {"type": "string"}, "type_found": {"type": "boolean"},
                    "section": {"type": "string"}, "text": {"type": "string", "description": "The same, in one sentence."}}},
                "Verdict": {"enum": ["yes", "no", "not stated"]},
                "FollowUp": {"type": "object", "required": ["is_followup", "kind", "carried", "document_id"], "properties": {
                    "is_followup": {"type": "boolean"},
                    "kind": {"enum": ["standalone", "qualifier", "subject", "pronoun", "fragment"]},
                    "carried": {"type": "array", "items": {"type": "string"},
                                "description": "What was taken from earlier turns."},
                    "document_id": {"type": ["string", "null"],
                                    "description": "The report the conversation is about (follow-ups only)."}}},
                "SummaryItem": {"type": "object", "required": ["text", "start", "end"], "properties": {
                    "text": {"type": "string"}, "start": {"type": "integer"}, "end": {"type": "integer"},
                    "section": {"type": "string"},
                    "question": {"type": "string", "description": "The fixed question that found it."},
                    "age": {"type": "string", "description": "patient only"},
                    "sex": {"enum": ["female", "male"], "description": "patient only"}}},
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
                                            "description": "Only with debug: the ranker's feature values."},
                               "span": {**_ref("Span"), "description": "The exact short answer, for strict "
                                        "answer types (age, dose, count, measurement, date, duration, drug, test result)."},
                               "verdict": {**_ref("Verdict"), "description": "For a yes/no question: what this sentence says."},
                               "reason": {**_ref("Reason"), "description": "Why this sentence was chosen."}}},
                "AskResponse": {"type": "object", "required": ["question", "answers", "took_ms"], "properties": {
                    "question": {"type": "string"}, "answers": {"type": "array", "items": _ref("Answer")},
                    "question_analysis": {"type": "object"},
                    "question_entities": {"type": "array", "items": _ref("Entity")},
                    "took_ms": {"type": "number"},
                    "answerability": {"type": "number", "minimum": 0, "maximum": 1,
                                      "description": "Calibrated probability that the report answers the question."},
                    "spelling": {"type": "object", "additionalProperties": {"type": "string"},
                                 "description": "Question words repaired before answering (as asked -> read as)."},
                    "message": {"type": "string", "description": "Present when there is no answer: what the "
                                "report lacks, naming the question's term it never mentions when there is one."},
                    "verdict": {**_ref("Verdict"), "description": "For a yes/no question: the top answer's verdict, "
                                "or 'not stated' when the service declines."},
                    "resolved_question": {"type": "string", "description": "Only with history: the question as "
                                          "understood (the question itself when it stands on its own)."},
                    "followup": {**_ref("FollowUp"), "description": "Only with history."}}},
                "DocumentSummaryCard": {"type": "object", "required": ["id", "title", "patient", "presenting_complaint",
                                                                       "key_findings", "investigations", "diagnosis",
                                                                       "outcome", "treatment"],
                                        "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                                       **{k: {"oneOf": [{"type": "null"}, _ref("SummaryItem")]}
                                                          for k in ("patient", "presenting_complaint", "key_findings",
                                                                    "investigations", "diagnosis", "outcome",
                                                                    "treatment")}}},
                "DocumentSummary": {"type": "object", "required": ["id", "title", "sections", "n_passages"],
                                    "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                                   "sections": {"type": "array", "items": {"type": "string"}},
                                                   "n_passages": {"type": "integer"}, "chars": {"type": "integer"},
                                                   "source": {"oneOf": [_ref("ReportSource"), {"type": "null"}]},
                                                   "added": {"type": ["string", "null"], "format": "date-time",
                                                             "description": "When the report was stored (UTC); "
                                                                            "for a .txt put in the corpus folder "
                                                                            "by hand, its modification time."},
                                                   "original_id": {"type": "string",
                                                                   "description": "The id in the imported file, "
                                                                                  "when it could not name a file."}}},
                "ReportSource": {"type": "object", "required": ["kind"], "properties": {
                    "kind": {"enum": ["import", "api", "corpus"],
                             "description": "import: `qa-service import`; api: POST /api/documents; corpus: a "
                                            ".txt put in the corpus folder by hand."},
                    "file": {"type": "string", "description": "The imported file's name (or the .txt's)."},
                    "row": {"type": "integer", "description": "Line of a JSONL file."},
                    "format": {"enum": ["txt", "jsonl", "pdf", "text"]}}},
                "SourceGroup": {"type": "object", "required": ["kind", "documents", "last_added"], "properties": {
                    "kind": {"type": "string"}, "file": {"type": "string"}, "documents": {"type": "integer"},
                    "last_added": {"type": ["string", "null"]}}},
                "IndexChanges": {"type": "object", "properties": {
                    "added": {"type": "integer"}, "removed": {"type": "integer"}, "changed": {"type": "integer"},
                    "compared": {"type": "boolean", "description": "False when the index replaced had no "
                                                                   "per-report hashes to compare with."}}},
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
