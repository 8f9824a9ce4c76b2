"""The review pages in headless Chromium against a real gunicorn server (2 workers).

Form, result (label, probability, bar, version), Correct / Incorrect with and without
JavaScript, the friendly form error, the CSRF refusal, and a <script> review shown as text.
A screenshot of each page goes to ``test-artifacts/`` at the repository root (gitignored).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from browser import ARTIFACTS, TIMEOUT_MS, site_database
from corpus import train_tiny_model
from movieclassifier import model_store
from movieclassifier.schema import PROMOTED, Feedback, StoredPrediction
from servers import gunicorn_server, settings_env

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REVIEW = "A wonderful, moving film with brilliant acting and a great story."  # > 99.9 %
# The tiny model's probabilities: about 50.5 % (inside the "not sure" band, below 0.6) and
# about 78 % (outside it).
UNSURE_REVIEW = "I saw it on a Tuesday afternoon."
FAIRLY_SURE_REVIEW = "A film about a man and a dog, shot in Ohio."
WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A published tiny model and gunicorn serving it; yields (base URL, session factory)."""
    tmp = tmp_path_factory.mktemp("browser")
    settings, engine, sessions = site_database(tmp, "browser-test-secret")
    model = train_tiny_model()
    written = model_store.write(model, settings.model_dir)
    with sessions.begin() as session:
        model_store.register(session, written, model, status=PROMOTED, source="test")
    with gunicorn_server(settings_env(settings), tmp / "gunicorn.log", workers=2) as url:
        yield url, sessions
    engine.dispose()


def open_page(browser, javascript=True, width=1280) -> Page:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": width, "height": 900}
    )
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


def shown_percent(page: Page) -> float:
    """The percentage the page says the model is sure of; ">99.9%" counts as 100."""
    text = page.locator("#probability").inner_text()
    assert re.fullmatch(r">99\.9%|\d{2}\.\d%", text), text
    return 100.0 if text.startswith(">") else float(text.rstrip("%"))


def check_result(page: Page) -> str:
    """The result page shows label, how sure as number and bar, and the version."""
    expect(page.locator("#label")).to_have_text("positive")
    expect(page.locator("#confidence")).to_have_text("Positive, >99.9% sure.")
    percent = shown_percent(page)
    bar = page.locator("#probability-bar").bounding_box()
    fill = page.locator("#probability-bar .bar-fill").bounding_box()
    assert fill["width"] == pytest.approx(bar["width"] * percent / 100, abs=2)
    expect(page.locator("#model-version")).to_have_text("Answered by model version 1.")
    return page.locator('input[name="prediction_id"]').get_attribute("value")


def stored_answer(sessions, reference):
    """The stored (correct, label) of the answer to the prediction named ``reference``."""
    with sessions() as session:
        row = session.scalar(
            select(Feedback)
            .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
            .where(StoredPrediction.reference == reference)
        )
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
    expect(page.locator("#feedback-status")).to_contain_text(
        "Thank you! Your answer is saved: this review is negative. The model learns from it at"
        " the next retraining, within 10 minutes"
    )
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
    expect(page.locator("#thanks")).to_contain_text(
        "Your answer is saved: this review is negative. The model learns from it at"
        " the next retraining, within 10 minutes"
    )
    assert page.url.endswith("/feedback")
    shot(page, "thanks-page-no-js")
    page.get_by_role("link", name="Classify another review").click()
    expect(page.get_by_label("Your review")).to_be_visible()
    assert stored_answer(sessions, prediction_id) == (False, 0)
    page.context.close()


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", list(WIDTHS.values()), ids=list(WIDTHS))
def test_a_review_near_even_odds_shows_not_sure(live, browser, width):
    url, _ = live
    page = open_page(browser, width=width)
    submit(page, url, UNSURE_REVIEW)
    percent = shown_percent(page)
    assert 50 <= percent < 60
    expect(page.locator("#confidence")).to_have_text(re.compile(r"^Positive, 5\d\.\d% sure\.$"))
    badge = page.locator("#unsure-badge")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("not sure")
    note = page.locator("#unsure")
    expect(note).to_be_visible()
    # The note names both sides, and they add up.
    other = f"{100 - percent:.1f}% negative"
    expect(note).to_contain_text(
        "Not sure. This is close to a coin toss: the model puts it at"
        f" {percent:.1f}% positive and {other}."
    )
    box = note.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert fits_the_screen(page)
    page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS.values()), ids=list(WIDTHS))
@pytest.mark.parametrize(
    ("review", "wording"),
    [
        (REVIEW, r"^Positive, >99\.9% sure\.$"),
        (FAIRLY_SURE_REVIEW, r"^Positive, [6-9]\d\.\d% sure\.$"),
    ],
    ids=["very-sure", "fairly-sure"],
)
def test_a_confident_review_says_how_sure_and_not_unsure(live, browser, width, review, wording):
    url, _ = live
    page = open_page(browser, width=width)
    submit(page, url, review)
    expect(page.locator("#confidence")).to_have_text(re.compile(wording))
    assert "100.0%" not in page.locator("main").inner_text()
    expect(page.locator("#unsure-badge")).to_have_count(0)
    expect(page.locator("#unsure")).to_have_count(0)
    expect(page.locator("#model-note")).to_contain_text("The model knows English movie reviews.")
    bar = page.locator("#probability-bar")
    expect(bar).to_have_attribute("aria-valuetext", re.compile(r"% sure$"))
    assert fits_the_screen(page)
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
