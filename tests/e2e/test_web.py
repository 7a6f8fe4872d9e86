"""The chat page, driven in headless Chromium against the real app on a live port."""
from __future__ import annotations

import re
import time

import pytest

from browser import Browser, BrowserMissing, LiveServer, browser_paths

pytestmark = pytest.mark.browser

RENAL_Q = "What did the renal biopsy confirm?"
WAIT = 15


def test_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and b'<script src="/static/app.js"' in page.data
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "css")):
        r = client.get(asset)
        assert r.status_code == 200 and kind in r.content_type
    # Everything is shipped in the package: no CDN, no web fonts.
    for asset in ("/", "/static/app.js", "/static/style.css"):
        body = client.get(asset).get_data(as_text=True)
        assert "http://" not in body and "https://" not in body and "@import" not in body
    # Document and question text only ever goes into the page as text.
    js = client.get("/static/app.js").get_data(as_text=True)
    assert not re.search(r"\.(inner|outer)HTML\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(", js)


# ---------- fixtures ----------


@pytest.fixture(scope="session")
def live_server(app):
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chrome():
    try:
        browser_paths()
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    b = Browser(1280, 900)
    yield b
    b.quit()


def open_fresh(chrome, url: str):
    """The page at desktop size with an empty conversation."""
    d = chrome.driver
    chrome.set_viewport(1280, 900)
    d.get(url + "/")
    d.execute_script("sessionStorage.clear()")
    d.get(url + "/")
    wait_for(d, lambda: d.find_elements("css selector", ".starter"))
    return d


@pytest.fixture()
def page(chrome, live_server):
    """A fresh page at desktop size with an empty conversation."""
    d = open_fresh(chrome, live_server.url)
    d.get_log("browser")  # drop what earlier tests logged
    yield d
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE" and "/api/ask" not in e["message"]]
    assert not errors, f"JavaScript errors on the page: {errors}"


class _Tweaked:
    def __init__(self, body: dict):
        self.body = body

    def to_dict(self) -> dict:
        return self.body


class DemoAnswerer:
    """The real answerer, with clinical entities added to its answers (the shipped pipeline may
    return none yet) and a question that makes it fail, so the page's entity chips and its
    handling of a server error can be seen in a real browser."""

    FAIL = "Please fail on the server"

    def __init__(self, real):
        self.real = real
        self.index = real.index

    def document_entities(self, doc):
        return self.real.document_entities(doc)

    def ask(self, question, **kwargs):
        if question == self.FAIL:
            raise RuntimeError("simulated failure")
        body = self.real.ask(question, **kwargs).to_dict()
        for a in body["answers"]:
            i = a["text"].find("lupus nephritis")
            if i >= 0:
                s = a["start"] + i
                a["entities"] = [
                    {"text": "lupus nephritis", "label": "DISEASE", "start": s, "end": s + 15,
                     "negated": False, "assertion": "present", "concept": None},
                    {"text": "arthropathy", "label": "FINDING", "start": 0, "end": 11,
                     "negated": True, "assertion": "absent", "concept": "HP:0003040"},
                ]
        body["question_entities"] = [{"text": "renal biopsy", "label": "PROCEDURE", "start": 9, "end": 21,
                                      "negated": False, "assertion": "present", "concept": None}]
        return _Tweaked(body)


@pytest.fixture(scope="session")
def demo_server(settings, answerer):
    from qa_service.web.app import create_app

    server = LiveServer(create_app(settings, DemoAnswerer(answerer)))
    yield server
    server.stop()


# ---------- helpers ----------


def wait_for(driver, condition, timeout=WAIT, message="condition not met"):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition() or None, message)


def css(driver, selector):
    return driver.find_elements("css selector", selector)


def replies(driver):
    return css(driver, "#conversation .msg-reply:not(.msg-loading)")


def ask(driver, question: str):
    """Type a question and press Enter; return the reply element once it has arrived."""
    from selenium.webdriver.common.keys import Keys

    before = len(replies(driver))
    box = driver.find_element("id", "question")
    box.click()
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    wait_for(driver, lambda: len(replies(driver)) > before, message=f"no reply to {question!r}")
    return replies(driver)[-1]


def ask_by_script(driver, question: str):
    """Like ask(), for text too long to type key by key."""
    from selenium.webdriver.common.keys import Keys

    before = len(replies(driver))
    box = driver.find_element("id", "question")
    driver.execute_script("arguments[0].value = arguments[1]", box, question)
    box.send_keys(Keys.ENTER)
    wait_for(driver, lambda: len(replies(driver)) > before, message="no reply")
    return replies(driver)[-1]


# ---------- the conversation ----------


def test_question_gets_answer_with_highlighted_sentence(page):
    reply = ask(page, RENAL_Q)
    assert "msg-answer" in reply.get_attribute("class")
    assert "class 3 lupus nephritis" in reply.text
    question = css(page, "#conversation .msg-question .question-text")[-1]
    assert question.text == RENAL_Q
    assert page.find_element("id", "question").get_attribute("value") == ""

    card = reply.find_element("css selector", ".answer-card.answer-primary")
    answer_text = card.find_element("css selector", ".answer-text").text
    assert "class 3 lupus nephritis" in answer_text
    marks = card.find_elements("css selector", ".passage mark")
    assert len(marks) == 1 and marks[0].text == answer_text
    # The passage is longer than the answer: the highlight is a part of it.
    assert len(card.find_element("css selector", ".passage").text) > len(answer_text)
    assert card.find_element("css selector", ".section-badge").text == "Case report"

    meter = card.find_element("css selector", ".confidence")
    label = meter.get_attribute("aria-label")
    pct = int(meter.get_attribute("aria-valuenow"))
    assert label == f"Confidence {pct}%" and 0 <= pct <= 100
    assert card.find_element("css selector", ".confidence-value").text == f"{pct}%"

    more = reply.find_element("css selector", "details.more-evidence")
    assert more.get_attribute("open") is None
    summary = more.find_element("css selector", "summary")
    assert summary.text.startswith("More evidence (") and summary.text.endswith(")")
    n_more = int(summary.text.split("(")[1].rstrip(")"))
    summary.click()
    assert len(more.find_elements("css selector", ".answer-card")) == n_more >= 1
    for extra in more.find_elements("css selector", ".answer-card"):
        assert extra.find_element("css selector", ".passage mark").text == extra.find_element("css selector", ".answer-text").text


def test_show_in_report_opens_source_at_the_answer(page):
    reply = ask(page, RENAL_Q)
    answer_text = reply.find_element("css selector", ".answer-primary .answer-text").text
    button = reply.find_element("css selector", ".answer-primary button.show-source")
    assert button.text == "Show in report"
    button.click()
    dialog = page.find_element("id", "source")
    wait_for(page, lambda: css(page, "#source .source-highlight"), message="no highlight in the source view")
    assert dialog.is_displayed()
    highlighted = " ".join(m.text for m in css(page, "#source .source-highlight"))
    assert answer_text in highlighted or "class 3 lupus nephritis" in highlighted
    headings = [h.text.lower() for h in css(page, "#source .doc-heading")]
    assert "case report" in headings and "discussion" in headings
    assert "abstract" in headings and "conclusion" in headings
    # The highlight was scrolled into view: inside the window and inside the panel's scroll box.
    time.sleep(0.3)
    box = page.execute_script("""
        const r = document.getElementById('source-highlight').getBoundingClientRect();
        const p = document.getElementById('source-body').getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, ptop: p.top, pbottom: p.bottom, h: window.innerHeight,
                scrolled: document.getElementById('source-body').scrollTop};""")
    assert 0 <= box["top"] and box["bottom"] <= box["h"], box
    assert box["ptop"] <= box["top"] and box["bottom"] <= box["pbottom"], box
    assert box["scrolled"] > 0, box  # the answer is far down the report, so the panel did scroll

    from selenium.webdriver.common.keys import Keys

    page.find_element("tag name", "body").send_keys(Keys.ESCAPE)
    wait_for(page, lambda: not page.execute_script("return document.getElementById('source').open"),
             message="Escape did not close the source view")
    # Focus goes back to the button that opened it.
    assert page.switch_to.active_element == button

    # Open again (the document is cached: fetched once) and close with the button.
    more = reply.find_element("css selector", "details.more-evidence")
    more.find_element("css selector", "summary").click()
    more.find_element("css selector", "button.show-source").click()
    wait_for(page, lambda: css(page, "#source .source-highlight"))
    second = css(page, "#source .source-highlight")[0].text
    assert second and second in " ".join(e.text for e in more.find_elements("css selector", ".answer-text"))
    fetched = page.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/documents/')"
            " && !e.name.endsWith('/summary')).length")  # the report itself, once (the case card is another request)
    assert fetched == 1
    page.find_element("id", "source-close").click()
    wait_for(page, lambda: not page.execute_script("return document.getElementById('source').open"))


def test_unanswerable_question_looks_different(page):
    answered = ask(page, RENAL_Q)
    reply = ask(page, "Was a colonoscopy performed?")
    assert "msg-noanswer" in reply.get_attribute("class")
    bubble = reply.find_element("css selector", ".bubble-noanswer")
    assert "Not in the report" in bubble.text
    assert "The report never mentions a colonoscopy." in bubble.text  # the server's message names what is missing
    assert not reply.find_elements("css selector", ".answer-card, mark, button.show-source")
    colour = lambda e: e.value_of_css_property("background-color")  # noqa: E731
    assert colour(bubble) != colour(answered.find_element("css selector", ".bubble-answer"))


def test_markup_in_a_question_is_shown_as_text(page):
    probe = "<img src=x onerror=alert(1)>"
    reply = ask(page, probe)
    assert reply.is_displayed()
    assert css(page, "#conversation .question-text")[-1].text == probe
    assert page.execute_script("return document.querySelectorAll('#conversation img').length") == 0
    from selenium.common.exceptions import NoAlertPresentException

    time.sleep(0.3)
    with pytest.raises(NoAlertPresentException):
        page.switch_to.alert.text  # noqa: B018
    # The escaped text survives a reload from sessionStorage as text too.
    page.refresh()
    wait_for(page, lambda: css(page, "#conversation .question-text"))
    assert css(page, "#conversation .question-text")[-1].text == probe
    assert page.execute_script("return document.querySelectorAll('#conversation img').length") == 0


def test_too_long_question_shows_the_server_message(page):
    reply = ask_by_script(page, "x" * 1001)
    assert "msg-error" in reply.get_attribute("class")
    bubble = reply.find_element("css selector", ".bubble-error")
    assert bubble.get_attribute("role") == "alert"
    assert "longer than 1000 characters" in bubble.text
    assert "HTTP 400" in bubble.text
    # The page keeps working.
    assert "msg-answer" in ask(page, RENAL_Q).get_attribute("class")


def test_server_error_and_server_down_show_error_bubbles(chrome, demo_server, settings, answerer):
    d = open_fresh(chrome, demo_server.url)

    reply = ask(d, DemoAnswerer.FAIL)
    assert "msg-error" in reply.get_attribute("class")
    assert "The server had a problem" in reply.text and "HTTP 500" in reply.text
    assert reply.find_element("css selector", "button").text == "Try again"

    # A server that goes away while the page is open.
    from qa_service.web.app import create_app

    doomed = LiveServer(create_app(settings, answerer))
    d.get(doomed.url + "/")
    wait_for(d, lambda: css(d, ".starter"))
    doomed.stop()
    reply = ask(d, RENAL_Q)
    assert "msg-error" in reply.get_attribute("class")
    assert "Could not reach the server" in reply.text
    assert d.find_element("id", "conversation").is_displayed()


def test_entity_chips_for_answers_and_question(chrome, demo_server):
    d = open_fresh(chrome, demo_server.url)
    reply = ask(d, RENAL_Q)
    chips = reply.find_elements("css selector", ".answer-primary .entities .entity")
    assert [c.find_element("css selector", ".entity-text").text for c in chips] == ["lupus nephritis", "arthropathy"]
    disease, absent = chips
    assert "entity-disease" in disease.get_attribute("class")
    assert "entity-negated" in absent.get_attribute("class") and "absent" in absent.text
    assert absent.find_element("css selector", ".entity-text").tag_name == "s"
    assert "line-through" in absent.find_element("css selector", ".entity-text").value_of_css_property("text-decoration")
    assert disease.value_of_css_property("background-color") != absent.value_of_css_property("background-color")
    q_chips = css(d, "#conversation .msg-question .entities .entity")
    assert [c.find_element("css selector", ".entity-text").text for c in q_chips] == ["renal biopsy"]


def test_starter_chip_asks_its_question(page):
    starters = css(page, "#starters button.starter")
    assert len(starters) >= 5 and all(s.is_displayed() for s in starters)
    first = starters[0]
    question = first.text
    assert question == "How old was the patient?"
    first.click()
    wait_for(page, lambda: replies(page))
    assert css(page, "#conversation .question-text")[-1].text == question
    assert "21-year-old" in replies(page)[-1].text
    assert not page.find_element("id", "empty").is_displayed()


def test_history_survives_reload_and_clear_empties_it(page):
    ask(page, RENAL_Q)
    ask(page, "Was a colonoscopy performed?")
    page.refresh()
    wait_for(page, lambda: len(replies(page)) == 2, message="history not restored")
    assert [q.text for q in css(page, "#conversation .question-text")] == [RENAL_Q, "Was a colonoscopy performed?"]
    assert "class 3 lupus nephritis" in replies(page)[0].find_element("css selector", ".passage mark").text
    assert "msg-noanswer" in replies(page)[1].get_attribute("class")
    assert not page.find_element("id", "empty").is_displayed()
    # Restored answers still open the report.
    replies(page)[0].find_element("css selector", "button.show-source").click()
    wait_for(page, lambda: css(page, "#source .source-highlight"))
    page.find_element("id", "source-close").click()

    clear = page.find_element("id", "clear")
    assert clear.tag_name == "button" and clear.is_displayed()
    clear.click()
    assert not css(page, "#conversation .msg")
    assert page.find_element("id", "empty").is_displayed()
    page.refresh()
    wait_for(page, lambda: css(page, ".starter"))
    assert not css(page, "#conversation .msg")


def test_enter_sends_and_shift_enter_adds_a_line(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    box = page.find_element("id", "question")
    box.click()
    box.send_keys("What did the renal")
    ActionChains(page).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    box.send_keys("biopsy confirm?")
    assert box.get_attribute("value") == "What did the renal\nbiopsy confirm?"
    assert not css(page, "#conversation .msg")
    box.send_keys(Keys.ENTER)
    wait_for(page, lambda: replies(page))
    assert css(page, "#conversation .question-text")[-1].text == "What did the renal\nbiopsy confirm?"
    # Empty input sends nothing.
    box.send_keys(Keys.ENTER)
    time.sleep(0.3)
    assert len(css(page, "#conversation .msg-question")) == 1


def test_loading_indicator_while_waiting(page):
    # Slow the request down in the page so the indicator can be seen.
    page.execute_script("""
        const real = window.fetch;
        window.fetch = (...args) => new Promise(r => setTimeout(r, 800)).then(() => real(...args));""")
    from selenium.webdriver.common.keys import Keys

    box = page.find_element("id", "question")
    box.send_keys(RENAL_Q, Keys.ENTER)
    wait_for(page, lambda: css(page, "#conversation .bubble-loading"), timeout=2)
    assert "Searching the report" in css(page, "#conversation .bubble-loading")[0].text
    status = page.find_element("id", "status")
    assert status.get_attribute("aria-live") == "polite"
    wait_for(page, lambda: "Searching the report" in status.get_attribute("textContent"), timeout=2)
    assert page.find_element("id", "send").get_attribute("disabled") is not None
    wait_for(page, lambda: replies(page))
    assert not css(page, "#conversation .bubble-loading")
    assert page.find_element("id", "send").get_attribute("disabled") is None


def test_section_filter_is_sent(page):
    from selenium.webdriver.support.ui import Select

    assert not page.find_element("id", "doc-filter").is_displayed()  # only one report is indexed
    section = Select(page.find_element("id", "section"))
    assert [o.text for o in section.options] == ["Any", "Abstract", "Introduction", "Case report", "Discussion", "Conclusion"]
    section.select_by_visible_text("Discussion")
    reply = ask(page, RENAL_Q)
    assert "in Discussion" in css(page, "#conversation .question-scope")[-1].text
    badges = {b.get_attribute("textContent") for b in reply.find_elements("css selector", ".section-badge")}
    assert badges <= {"Discussion"}


def test_copy_puts_the_cited_answer_on_the_clipboard(page, live_server):
    page.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": live_server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    page.execute_script("""
        window.__copied = [];
        const write = navigator.clipboard.writeText.bind(navigator.clipboard);
        navigator.clipboard.writeText = (t) => { window.__copied.push(t); return write(t); };""")
    reply = ask(page, RENAL_Q)
    answer_text = reply.find_element("css selector", ".answer-primary .answer-text").text
    button = reply.find_element("css selector", ".answer-primary button.copy-btn")
    button.click()
    wait_for(page, lambda: button.text in ("Copied", "Copy failed"))
    copied = page.execute_script("return window.__copied")
    assert copied == [f'"{answer_text}" — Calcinosis cutis universalis sle, Case report']
    assert button.text == "Copied"


def test_keyboard_and_screen_reader_basics(page):
    from selenium.webdriver.common.keys import Keys

    label = page.find_element("css selector", "label[for=question]")
    assert label.get_attribute("textContent").strip()
    log = page.find_element("id", "conversation")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    # Tab reaches a starter chip, and Enter on it asks.
    body = page.find_element("tag name", "body")
    body.send_keys(Keys.TAB)
    for _ in range(12):
        active = page.switch_to.active_element
        if "starter" in (active.get_attribute("class") or ""):
            break
        active.send_keys(Keys.TAB)
    active = page.switch_to.active_element
    assert "starter" in active.get_attribute("class")
    outline = active.value_of_css_property("outline-style")
    assert outline != "none"
    active.send_keys(Keys.ENTER)
    wait_for(page, lambda: replies(page))
    # Every control in the conversation is a real button (or a <details> summary).
    kinds = page.execute_script(
        "return [...document.querySelectorAll('#conversation .btn, #conversation .chip:not(.entity)')].map(e => e.tagName)")
    assert kinds and set(kinds) == {"BUTTON"}


@pytest.mark.parametrize("width,height", [(375, 812), (1280, 900)])
def test_layout_fits_the_screen(page, chrome, width, height):
    chrome.set_viewport(width, height)
    page.refresh()
    wait_for(page, lambda: css(page, ".starter"))
    ask(page, RENAL_Q)
    ask(page, "Was a colonoscopy performed?")
    overflow = page.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a {width}px screen"
    composer = page.find_element("id", "question").rect
    assert composer["y"] + composer["height"] <= height and composer["x"] >= 0
    assert composer["x"] + composer["width"] <= width
    send = page.find_element("id", "send").rect
    assert send["x"] + send["width"] <= width
    replies(page)[0].find_element("css selector", "button.show-source").click()
    wait_for(page, lambda: css(page, "#source .source-highlight"))
    panel = page.find_element("id", "source").rect
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width + 1
    if width < 600:
        assert panel["width"] >= width - 1  # full screen on a phone
    page.find_element("id", "source-close").click()
    chrome.set_viewport(1280, 900)


# ---------- issue 13: a conversation about the case ----------


def test_follow_up_question_is_understood_in_context(page):
    ask(page, "What did the chest radiograph show?")
    reply = ask(page, "What about the radiographs of the hips and hands?")
    assert "widespread calcifications in the soft tissue" in reply.find_element("css selector", ".answer-text").text
    understood = css(page, "#conversation .msg-question")[-1].find_element("css selector", ".question-understood")
    assert understood.text == "understood as “What did the radiographs of the hips and hands show?”"
    # a question that stands on its own shows no "understood as"
    ask(page, "What did the renal biopsy confirm?")
    assert not css(page, "#conversation .msg-question")[-1].find_elements("css selector", ".question-understood")


def test_exact_short_answer_comes_first_in_bold(page):
    reply = ask(page, "How old was she?")
    card = reply.find_element("css selector", ".answer-card.answer-primary")
    span = card.find_element("css selector", ".answer-span strong")
    assert span.text == "21-year-old" and span.value_of_css_property("font-weight") in ("700", "bold")
    text = card.find_element("css selector", ".answer-text")
    assert "21-year-old woman" in text.text
    assert span.location["y"] < text.location["y"]  # the span first, the sentence below
    assert "21-year-old" in card.find_element("css selector", ".answer-reason").text


def test_yes_no_question_gets_a_verdict_badge(page):
    reply = ask(page, "Had she received specialist care before?")
    badge = reply.find_element("css selector", ".answer-primary .verdict-badge")
    assert badge.text == "No" and "verdict-no" in badge.get_attribute("class")
    reply = ask(page, "Can local inflammation lead to ulceration?")
    assert reply.find_element("css selector", ".verdict-badge").text == "Yes"


def test_decline_says_what_is_missing(page):
    reply = ask(page, "Was a colonoscopy performed?")
    bubble = reply.find_element("css selector", ".bubble-noanswer")
    assert bubble.find_element("css selector", ".reply-message").text == "The report never mentions a colonoscopy."
    assert bubble.find_element("css selector", ".verdict-badge").text == "Not stated"


def test_case_card_links_to_its_sentences(page):
    card = page.find_element("id", "case-card")
    wait_for(page, lambda: card.find_elements("css selector", ".case-link"))
    assert card.is_displayed() and "The case at a glance" in card.text
    fields = {e.get_attribute("data-field") for e in card.find_elements("css selector", "[data-field]")}
    assert fields == {"patient", "presenting_complaint", "key_findings", "investigations", "diagnosis",
                      "treatment", "outcome"}
    patient = card.find_element("css selector", ".case-link[data-field=patient]")
    assert patient.text == "21-year-old woman"
    card.find_element("css selector", ".case-link[data-field=diagnosis]").click()
    dialog = page.find_element("id", "source")
    wait_for(page, lambda: dialog.find_elements("css selector", "mark.source-highlight"))
    marked = " ".join(m.text for m in dialog.find_elements("css selector", "mark.source-highlight"))
    assert "final diagnosis of calcinosis cutis universalis" in " ".join(marked.split())
    # the opened report carries the card too
    glance = dialog.find_element("css selector", "details.source-glance")
    glance.find_element("css selector", "summary").click()
    wait_for(page, lambda: glance.find_elements("css selector", ".case-link"))
    page.find_element("id", "source-close").click()


def test_export_downloads_the_conversation_as_markdown(page):
    assert not page.find_element("id", "export").is_displayed()
    ask(page, "How old was she?")
    ask(page, "Was a colonoscopy performed?")
    button = page.find_element("id", "export")
    assert button.is_displayed()
    # catch the Blob handed to the download link (the page's CSP rightly forbids fetching blob: URLs)
    page.execute_script("window.__exports = []; const make = URL.createObjectURL;"
                        "URL.createObjectURL = (b) => { window.__exports.push(b); return make.call(URL, b); };")
    button.click()
    wait_for(page, lambda: button.get_attribute("data-url"))
    kind, md = page.execute_async_script(
        "const done = arguments[arguments.length - 1]; const b = window.__exports[0];"
        "b.text().then((t) => done([b.type, t]));")
    assert kind.startswith("text/markdown")
    assert md.startswith("# Casebook QA conversation")
    assert "## 1. How old was she?" in md and "**Answer:** 21-year-old" in md
    assert "> A 21-year-old woman was referred" in md and "Case report" in md and "Calcinosis cutis universalis sle" in md
    assert "## 2. Was a colonoscopy performed?" in md and "The report never mentions a colonoscopy." in md
    assert "**Verdict:** Not stated" in md
