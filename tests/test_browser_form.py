"""The review pages in headless Chromium against a real gunicorn server (2 workers).

Form, result (label, probability, bar, version), Correct / Incorrect with and without
JavaScript, the friendly form error, the CSRF refusal, and a <script> review shown as text.
A screenshot of each page goes to ``test-artifacts/`` at the repository root (gitignored).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from corpus import train_tiny_model
from movieclassifier import db, model_store
from movieclassifier.config import Settings
from movieclassifier.schema import PROMOTED, Feedback
from servers import gunicorn_server, settings_env

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REVIEW = "A wonderful, moving film with brilliant acting and a great story."


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A published tiny model and gunicorn serving it; yields (base URL, session factory)."""
    tmp = tmp_path_factory.mktemp("browser")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'reviews.sqlite'}",
        model_dir=tmp / "pkl_objects",
        app_env="testing",
        secret_key="browser-test-secret",
        ratelimit_enabled=False,
    )
    engine = db.make_engine(settings.database_url)
    db.init_db(engine)
    sessions = db.make_session_factory(engine)
    model = train_tiny_model()
    written = model_store.write(model, settings.model_dir)
    with sessions.begin() as session:
        model_store.register(session, written, model, status=PROMOTED, source="test")
    with gunicorn_server(settings_env(settings), tmp / "gunicorn.log", workers=2) as url:
        yield url, sessions
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, javascript=True) -> Page:
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"form-{name}.png", full_page=True)


def submit(page: Page, url: str, review: str) -> None:
    page.goto(f"{url}/")
    page.get_by_label("Your review").fill(review)
    page.get_by_role("button", name="Classify").click()


def check_result(page: Page) -> int:
    """The result page shows label, probability as number and bar, and the version."""
    expect(page.locator("#label")).to_have_text("positive")
    percent = float(page.locator("#probability").inner_text().rstrip("%"))
    assert 50 <= percent <= 100
    bar = page.locator("#probability-bar").bounding_box()
    fill = page.locator("#probability-bar .bar-fill").bounding_box()
    assert fill["width"] == pytest.approx(bar["width"] * percent / 100, abs=2)
    expect(page.locator("#model-version")).to_have_text("Answered by model version 1.")
    return int(page.locator('input[name="prediction_id"]').get_attribute("value"))


def stored_answer(sessions, prediction_id):
    with sessions() as session:
        row = session.scalar(select(Feedback).where(Feedback.prediction_id == prediction_id))
        return None if row is None else (row.correct, row.label)


def test_flow_with_javascript_sends_the_answer_in_place(live, browser):
    url, sessions = live
    page = open_page(browser)
    page.goto(f"{url}/")
    shot(page, "review-form")
    submit(page, url, REVIEW)
    prediction_id = check_result(page)
    shot(page, "result")
    result_url = page.url
    # Keyboard: Tab reaches the buttons, which are named for screen readers.
    incorrect = page.get_by_role("button", name="Incorrect: the review is not positive")
    incorrect.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#feedback-status")).to_contain_text("Thank you! Your answer is saved")
    assert page.url == result_url
    expect(page.locator("form[data-feedback]")).to_be_hidden()
    shot(page, "thanks-in-place")
    assert stored_answer(sessions, prediction_id) == (False, 0)
    page.context.close()


def test_flow_without_javascript(live, browser):
    url, sessions = live
    page = open_page(browser, javascript=False)
    submit(page, url, REVIEW)
    prediction_id = check_result(page)
    page.get_by_role("button", name=re.compile(r"^Incorrect")).click()
    expect(page.locator("h1")).to_have_text("Thank you!")
    expect(page.locator("#thanks")).to_contain_text("this review is negative")
    assert page.url.endswith("/feedback")
    shot(page, "thanks-page-no-js")
    page.get_by_role("link", name="Classify another review").click()
    expect(page.get_by_label("Your review")).to_be_visible()
    assert stored_answer(sessions, prediction_id) == (False, 0)
    page.context.close()


def test_short_review_reshows_the_form_with_the_text(live, browser):
    url, _ = live
    page = open_page(browser)
    submit(page, url, "meh")
    expect(page.locator("#review-error")).to_have_text(
        "Please write a little more: a review needs at least 10 characters."
    )
    expect(page.get_by_label("Your review")).to_have_value("meh")
    shot(page, "form-error")
    page.context.close()


def test_form_without_csrf_token_is_refused(live, browser):
    url, _ = live
    page = open_page(browser)
    page.goto(f"{url}/")
    page.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    page.get_by_label("Your review").fill(REVIEW)
    with page.expect_response(f"{url}/") as answer:
        page.get_by_role("button", name="Classify").click()
    assert answer.value.status == 400
    expect(page.locator("#error-message")).to_contain_text("missing its security token")
    shot(page, "csrf-refused")
    page.context.close()


def test_script_in_a_review_is_shown_as_text_and_never_runs(live, browser):
    url, _ = live
    page = open_page(browser)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    review = "Great fun! <script>alert(1)</script> <img src=x onerror=alert(2)> Loved it."
    submit(page, url, review)
    expect(page.locator("#review-text")).to_have_text(review)
    assert page.locator("#review-text script, #review-text img").count() == 0
    page.get_by_role("button", name=re.compile(r"^Correct")).click()
    expect(page.locator("#feedback-status")).to_contain_text("Thank you")
    shot(page, "script-review")
    assert dialogs == []
    page.context.close()


def test_pages_break_no_rule_of_their_content_security_policy(live, browser):
    url, _ = live
    page = open_page(browser)
    blocked = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    submit(page, url, REVIEW)
    check_result(page)
    page.get_by_role("button", name="Correct: the review is positive").click()
    expect(page.locator("#feedback-status")).to_contain_text("Thank you!")
    page.goto(f"{url}/dashboard")
    expect(page.locator("svg").first).to_be_visible()
    # A script injected into the page itself is refused by the policy.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = 1'; document.body.appendChild(s); }"
    )
    assert page.evaluate("() => window.ran") is None
    # Exactly one violation: the injected script; the pages themselves break no rule.
    assert len(blocked) == 1, blocked
    assert "script-src" in blocked[0], blocked
    page.context.close()
