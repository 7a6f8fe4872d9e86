"""API errors: `ApiError` (raised by routes and hooks) and the JSON error body every error shares:
{"error": {"code", "message"}}, never HTML."""
from __future__ import annotations

from flask import jsonify

# Seconds a client is told to wait (Retry-After) when writes are busy.
WRITE_RETRY_AFTER = "3"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def error_body(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status
