"""Screenshots of the web page for the README, taken in headless Chromium against the real app.

    PYTHONPATH=. .venv/bin/python scripts/screenshots.py [out_dir]   # default: docs/

Builds a throw-away index of the shipped report, serves it on a free local port and writes
screenshot-desktop.png (1280x900), screenshot-phone.png (375x812), screenshot-source.png,
screenshot-empty.png (with the case-at-a-glance card), screenshot-conversation.png (a follow-up, an
exact short answer, a verdict) and screenshot-decline.png (a reasoned decline).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import Browser, LiveServer  # noqa: E402

REPORT = ROOT / "corpus" / "calcinosis-cutis-universalis-sle.txt"


def wait(driver, condition, timeout=15):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: condition() or None)


def ask(driver, question):
    from selenium.webdriver.common.keys import Keys

    n = len(driver.find_elements("css selector", "#conversation .msg-reply:not(.msg-loading)"))
    box = driver.find_element("id", "question")
    box.send_keys(question, Keys.ENTER)
    wait(driver, lambda: len(driver.find_elements("css selector", "#conversation .msg-reply:not(.msg-loading)")) > n)


def fresh(driver, url):
    driver.get(url)
    driver.execute_script("sessionStorage.clear()")
    driver.get(url)
    wait(driver, lambda: driver.find_elements("css selector", ".starter"))


def main(out: Path) -> None:
    from qa_service.web.app import create_app
    from qa_service.config import Settings
    from qa_service.service.build import build, make_answerer

    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="casebook-shots-"))
    browser = server = None
    try:
        (base / "corpus").mkdir()
        shutil.copy(REPORT, base / "corpus" / REPORT.name)
        settings = Settings(corpus_dir=base / "corpus", models_dir=base / "models")
        server = LiveServer(create_app(settings, make_answerer(build(settings).index, settings)))
        browser = Browser(1280, 900)
        d = browser.driver

        fresh(d, server.url + "/")
        wait(d, lambda: d.find_elements("css selector", "#case-card .case-link"))
        time.sleep(0.3)
        d.save_screenshot(str(out / "screenshot-empty.png"))

        ask(d, "What did the renal biopsy confirm?")
        ask(d, "Was a colonoscopy performed?")
        d.execute_script("document.getElementById('main').scrollTop = 0")
        time.sleep(0.3)
        d.save_screenshot(str(out / "screenshot-desktop.png"))

        d.find_element("css selector", ".answer-primary button.show-source").click()
        wait(d, lambda: d.find_elements("css selector", "#source .source-highlight"))
        time.sleep(0.5)
        d.save_screenshot(str(out / "screenshot-source.png"))
        d.find_element("id", "source-close").click()

        fresh(d, server.url + "/")
        d.execute_script("document.querySelector('#case-card .case-toggle') && document.querySelector('#case-card .case-toggle').click()")
        ask(d, "What did the chest radiograph show?")
        ask(d, "What about the radiographs of the hips and hands?")
        ask(d, "How old was she?")
        ask(d, "Had she received specialist care before?")
        msgs = d.find_elements("css selector", "#conversation .msg-question")
        d.execute_script("document.getElementById('main').scrollTop = arguments[0].offsetTop - 80", msgs[1])
        time.sleep(0.3)
        d.save_screenshot(str(out / "screenshot-conversation.png"))
        ask(d, "What dose of rituximab was she given?")
        d.execute_script("document.getElementById('main').scrollTop = document.getElementById('main').scrollHeight")
        time.sleep(0.3)
        d.save_screenshot(str(out / "screenshot-decline.png"))

        browser.set_viewport(375, 812)
        fresh(d, server.url + "/")
        ask(d, "What did the renal biopsy confirm?")
        d.execute_script("document.getElementById('main').scrollTop = 0")
        time.sleep(0.3)
        d.save_screenshot(str(out / "screenshot-phone.png"))
    finally:
        if browser:
            browser.quit()
        if server:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    for name in ("screenshot-desktop.png", "screenshot-phone.png", "screenshot-source.png", "screenshot-empty.png",
                 "screenshot-conversation.png", "screenshot-decline.png"):
        print(out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
