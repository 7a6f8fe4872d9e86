"""The chat-style web page, served by the same app."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory

STATIC = Path(__file__).parent / "static"
web = Blueprint("web", __name__, static_folder=str(STATIC), static_url_path="/static")


@web.get("/")
def index():
    return send_from_directory(STATIC, "index.html")
