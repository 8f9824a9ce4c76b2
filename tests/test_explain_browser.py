"""The result page's explanation in headless Chromium, with and without JavaScript.

Against a real gunicorn (2 workers) on SQLite and on PostgreSQL. Screenshots go to
``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import Page, expect

from browser import ARTIFACTS, TIMEOUT_MS
from movieclassifier import explaining
from servers import gunicorn_server, settings_env

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REVIEW = "A wonderful film with a great story, but the plot is stupid and the ending boring."
SCRIPT_REVIEW = 'Great fun! <script>alert(1)</script> <b onmouseover="alert(2)">Boring</b> plot.'


@pytest.fixture
def site(settings, seed_model, tmp_path):
    settings = dataclasses.replace(settings, ratelimit_enabled=False)
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn.log", workers=2) as url:
        yield url


def result_page(browser, url: str, review: str, javascript: bool, width: int = 1280) -> Page:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{url}/")
    page.get_by_label("Your review").fill(review)
    page.get_by_role("button", name="Classify").click()
    expect(page.locator("#why")).to_be_visible()
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_result_page_shows_what_pushed_it(site, browser, tiny_model, javascript):
    page = result_page(browser, site, REVIEW, javascript)
    explained = explaining.explain(tiny_model, REVIEW)
    for toward, sign in (("positive", 1), ("negative", -1)):
        listed = page.locator(f"#why-{toward} li .phrase").all_inner_texts()
        assert listed == [p.text for p in explained.pushing(sign, 5)]
        assert listed, f"something pushed toward {toward}"
        marks = page.locator(f"#review-text mark.push-{toward}")
        assert marks.count() >= 1
        assert marks.first.get_attribute("title").startswith(f"pushes toward {toward}")
        assert marks.first.get_attribute("aria-describedby") == f"legend-{toward}"
    # The marked review reads as the review itself.
    expect(page.locator("#review-text")).to_have_text(REVIEW)
    # The two kinds differ by more than colour: their underline style differs too.
    styles = [
        page.locator(f"#review-text mark.push-{toward}").first.evaluate(
            "e => getComputedStyle(e).textDecorationStyle"
        )
        for toward in ("positive", "negative")
    ]
    assert styles == ["solid", "dashed"]
    ARTIFACTS.mkdir(exist_ok=True)
    suffix = "js" if javascript else "no-js"
    page.screenshot(path=ARTIFACTS / f"explain-{suffix}.png", full_page=True)
    page.context.close()


def test_the_explanation_fits_a_phone(site, browser):
    page = result_page(browser, site, REVIEW, javascript=True, width=390)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=ARTIFACTS / "explain-phone.png", full_page=True)
    page.context.close()


def test_a_script_review_explained_stays_inert(site, browser):
    page = result_page(browser, site, SCRIPT_REVIEW, javascript=True)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    expect(page.locator("#review-text")).to_have_text(SCRIPT_REVIEW)
    assert page.locator("#review-text script, #review-text b").count() == 0
    page.locator("#review-text").hover()
    for mark in page.locator("#review-text mark").all():
        mark.hover()
    assert dialogs == []
    page.context.close()
