"""Helpers for the browser tests and scripts/screenshots.py: a live app server and headless Chromium.

Chromium and chromedriver come from Debian (`apt-get install chromium chromium-driver`, done by
`make browser-deps`). Selenium is always given both paths, so selenium-manager never runs and
nothing is downloaded.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
)


class BrowserMissing(RuntimeError):
    pass


def _find(env: str, names: tuple[str, ...], fallbacks: tuple[str, ...]) -> str | None:
    explicit = os.environ.get(env)
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for path in fallbacks:
        if Path(path).is_file():
            return path
    return None


def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver), or BrowserMissing with what to install."""
    chromium = _find("CHROMIUM_BIN", ("chromium", "chromium-browser"), ("/usr/bin/chromium", "/usr/lib/chromium/chromium"))
    driver = _find("CHROMEDRIVER_BIN", ("chromedriver",), ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"))
    missing = [name for name, path in (("chromium", chromium), ("chromium-driver", driver)) if not path]
    if missing:
        raise BrowserMissing(
            "the browser tests need headless Chromium, but " + " and ".join(missing) + " could not be found. "
            "Install them with `make browser-deps` or `sudo apt-get install -y chromium chromium-driver` "
            "(or set CHROMIUM_BIN / CHROMEDRIVER_BIN)."
        )
    return chromium, driver


class Browser:
    """A headless Chromium driven by Selenium, with its own throw-away profile directory."""

    def __init__(self, width: int = 1280, height: int = 900):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = browser_paths()
        self.profile = tempfile.mkdtemp(prefix="casebook-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROME_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.set_viewport(width, height)

    def set_viewport(self, width: int, height: int) -> None:
        """Make the page's viewport (not the window) exactly width x height CSS pixels."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
        })

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


class LiveServer:
    """The real Flask app on a free 127.0.0.1 port, served by werkzeug in a background thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
