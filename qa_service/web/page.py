"""The chat-style web page, served by the same app: GET / and its assets under /static/."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, send_from_directory

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("qa_service.web.page")
web = Blueprint("web", __name__)


@web.record_once
def _serve_assets(state) -> None:
    # Flask always registers the app's own /static/<filename> route, and it shadows a blueprint's
    # static route at the same URL. The app has no static folder of its own (qa_service/static does
    # not exist), so point it here.
    app = state.app
    own = Path(app.static_folder) if app.static_folder else None
    if own is not None and own != STATIC and own.is_dir():
        log.warning("the app has its own static folder %s; the web page's assets will be missing", app.static_folder)
        return
    app.static_folder = str(STATIC)


@web.get("/")
def index():
    return send_from_directory(STATIC, "index.html")
