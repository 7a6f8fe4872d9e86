"""Serve the app: gunicorn by default (index loaded once per worker), Flask's dev server with --dev.

Start-up, in the parent before any worker exists: remove what an interrupted write left behind
(service.startup_cleanup), then load the index, or rebuild it when the corpus changed since it was
built (e.g. a crash after an ingest stored its report but before the swap). Workers then only load.
"""
from __future__ import annotations

from .config import Settings

# Access log: the usual fields plus the worker pid and the latency in milliseconds.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s pid=%(p)s %(M)sms'


def prepare(settings: Settings) -> None:
    from .service import load_or_build, startup_cleanup

    startup_cleanup(settings)
    load_or_build(settings)  # build once before workers start, so they only load


def warmed(app):
    """Load what the first answer would otherwise wait for (spaCy's tokenizer, word frequencies)."""
    app.extensions["qa"].answerer.warm_up()
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, dev: bool = False,
          workers: int | None = None, threads: int | None = None) -> int:
    from .api import create_app

    prepare(settings)
    if dev:
        warmed(create_app(settings)).run(host=host, port=port)
        return 0
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or settings.workers)
            self.cfg.set("threads", threads or settings.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)
            self.cfg.set("timeout", 120)
            self.cfg.set("graceful_timeout", 30)
            # gunicorn >= 24 opens a control socket in ~/.gunicorn shared by every server of the user.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return warmed(create_app(settings))

    _App().run()
    return 0
