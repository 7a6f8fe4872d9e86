"""Serve the app: gunicorn by default (index loaded once per worker), Flask's dev server with --dev."""
from __future__ import annotations

from .config import Settings


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, dev: bool = False,
          workers: int | None = None, threads: int | None = None) -> int:
    from .api import create_app
    from .service import load_or_build

    load_or_build(settings)  # build once before workers start, so they only load
    if dev:
        create_app(settings).run(host=host, port=port)
        return 0
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or settings.workers)
            self.cfg.set("threads", threads or settings.threads)
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 120)

        def load(self):
            return create_app(settings)

    _App().run()
    return 0
