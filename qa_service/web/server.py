"""Serve the app: gunicorn workers running waitress by default (index loaded once per worker; see
webserver.py for why waitress), Flask's dev server with --dev.

Start-up, in the parent before any worker exists: remove what an interrupted write left behind
(service.startup_cleanup), then load the index, or rebuild it when the corpus changed since it was
built (e.g. a crash after an ingest stored its report but before the swap). Workers then only load.
"""
from __future__ import annotations

import logging
import sys

from ..config import Settings


def prepare(settings: Settings) -> None:
    from ..service.build import load_or_build, startup_cleanup

    startup_cleanup(settings)
    load_or_build(settings)  # build once before workers start, so they only load


def warmed(app):
    """Load what the first answer would otherwise wait for (spaCy's tokenizer, word frequencies)."""
    app.extensions["qa"].answerer.warm_up()
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, dev: bool = False,
          workers: int | None = None, threads: int | None = None) -> int:
    from .app import create_app

    prepare(settings)
    if dev:
        warmed(create_app(settings)).run(host=host, port=port)
        return 0
    from gunicorn.app.base import BaseApplication

    from .logsafe import SafeFormatter
    from .webserver import WaitressWorker, access_log

    # Access log (webserver.AccessLog) on stdout, one escaped line per response:
    # host "METHOD URI PROTOCOL" status bytes pid=N milliseconds.
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(SafeFormatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
    WaitressWorker.options = {"read_timeout": settings.read_timeout, "max_body_bytes": settings.max_body_bytes}

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or settings.workers)
            self.cfg.set("threads", threads or settings.threads)
            self.cfg.set("worker_class", WaitressWorker)
            self.cfg.set("timeout", 120)
            self.cfg.set("graceful_timeout", 30)
            # gunicorn >= 24 opens a control socket in ~/.gunicorn shared by every server of the user.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return warmed(create_app(settings))

    _App().run()
    return 0
