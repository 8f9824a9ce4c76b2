"""Every page at a desktop width (1280 px) and a phone width (390 px), in headless Chromium.

Each page is saved as a full-page PNG in ``$SCREENSHOT_DIR`` or, by default,
``test-artifacts/screenshots/`` at the repository root (gitignored), named
``<page>-<width>.png``, for a person to look at. The tests check what a screenshot cannot
prove by itself: the page never scrolls sideways (only the versions table may, inside its
own wrapper, and then says so), the key words are visible, and the chart's labels stay
legible and apart on a phone.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_stats import add_answers, add_version

from browser import ARTIFACTS, TIMEOUT_MS, site_database
from corpus import train_tiny_model
from loop_helpers import movie_rows
from movieclassifier import calibration, model_store
from movieclassifier.model import Labelled
from movieclassifier.schema import PROMOTED, REJECTED, ROLLED_BACK, RetrainRun
from servers import gunicorn_server, settings_env

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTHS = {"desktop": 1280, "phone": 390}
SURE = "A wonderful, moving film with brilliant acting and a great story."  # > 99.9 %
UNSURE = "I saw it on a Tuesday afternoon."  # about 50.5 % positive for the tiny model
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or ARTIFACTS / "screenshots")
# Smallest on-screen font size, in CSS pixels, at which a chart label counts as legible.
LEGIBLE_PX = 11


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """gunicorn serving a tiny model, with answers, versions and retrain runs to show."""
    tmp = tmp_path_factory.mktemp("screens")
    settings, engine, sessions = site_database(tmp, "screenshot-test-secret")
    model = train_tiny_model()
    # Calibrated on IMDb rows, so the dashboard draws a held-out reliability line.
    held = Labelled.of(movie_rows(300))
    calibration.calibrate(model, [(calibration.HELD_OUT, held)])
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with sessions.begin() as session:
        old = add_version(session, ROLLED_BACK, holdout=0.851, promoted_at=start)
        add_answers(session, old, [True, True, False, True] * 6, start=start)
        rejected = add_version(session, REJECTED, holdout=0.612, learned=24)
        written = model_store.write(model, settings.model_dir)
        current = model_store.register(
            session, written, model, status=PROMOTED, source="test"
        ).version
        add_answers(session, current, [True, True, True, False] * 3, start=start)
        for status, version, hours in (
            ("promoted", current, 2),
            ("rejected", rejected, 20),
            ("nothing_to_learn", None, 26),
        ):
            moment = start + timedelta(hours=hours)
            session.add(
                RetrainRun(
                    started_at=moment,
                    finished_at=moment + timedelta(seconds=42),
                    status=status,
                    version=version,
                    learned=24 if status == "promoted" else 0,
                    holdout_accuracy_before=0.851,
                    holdout_accuracy_after=0.873 if status == "promoted" else 0.612,
                    seconds=42.0,
                    message=f"{status.replace('_', ' ')}",
                )
            )
    with gunicorn_server(settings_env(settings), tmp / "gunicorn.log", workers=1) as url:
        yield url
    engine.dispose()


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def page(request, browser):
    width = WIDTHS[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="en-GB", timezone_id="Europe/Berlin"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def save(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"
    page.screenshot(path=path, full_page=True)
    return path


def check_fits(page: Page) -> None:
    """Nothing makes the page itself scroll sideways."""
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[1], widths


def classify(page: Page, url: str, review: str) -> None:
    page.goto(f"{url}/")
    page.get_by_label("Your review").fill(review)
    page.get_by_role("button", name="Classify").click()
    expect(page.locator("#label")).to_be_visible()


def test_form(live, page):
    page.goto(f"{live}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Is this movie review positive or negative?"
    )
    expect(page.locator("#review-hint")).to_contain_text("English movie reviews")
    privacy = page.locator("#privacy")
    expect(privacy).to_be_visible()
    expect(privacy).to_contain_text("stores the review text and the answer the model gave")
    expect(privacy).to_contain_text("keyed hash of your browser session")
    expect(privacy).to_contain_text("until an operator deletes it")
    icon = page.locator('link[rel="icon"]')
    assert icon.get_attribute("href") == "/static/favicon.svg"
    assert (
        page.request.get(f"{live}/static/favicon.svg")
        .headers["content-type"]
        .startswith("image/svg+xml")
    )
    check_fits(page)
    save(page, "form")


def test_result_sure_and_thanks_in_place(live, page):
    classify(page, live, SURE)
    expect(page.locator("#confidence")).to_have_text("Positive, >99.9% sure.")
    expect(page.locator("#unsure-badge")).to_have_count(0)
    expect(page.locator("#model-note")).to_contain_text("English movie reviews")
    check_fits(page)
    save(page, "result")
    page.get_by_role("button", name=re.compile(r"^Correct")).click()
    status = page.locator("#feedback-status")
    expect(status).to_contain_text("Thank you! Your answer is saved: this review is positive.")
    expect(status).to_contain_text("at the next retraining, within 10 minutes")
    check_fits(page)
    save(page, "thanks-in-place")


def test_result_unsure(live, page):
    classify(page, live, UNSURE)
    expect(page.locator("#unsure-badge")).to_be_visible()
    expect(page.locator("#unsure")).to_be_visible()
    expect(page.locator("#unsure")).to_contain_text("Not sure.")
    expect(page.locator("#confidence")).to_have_text(re.compile(r"^\w+, 5\d\.\d% sure\.$"))
    check_fits(page)
    save(page, "result-unsure")


def test_thanks_page_without_javascript(live, browser, page):
    width = page.viewport_size["width"]
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=False
    )
    plain = context.new_page()
    plain.set_default_timeout(TIMEOUT_MS)
    classify(plain, live, SURE)
    plain.get_by_role("button", name=re.compile(r"^Incorrect")).click()
    expect(plain.locator("h1")).to_have_text("Thank you!")
    expect(plain.locator("#thanks")).to_have_text(
        "Your answer is saved: this review is negative. The model learns from it at the next"
        " retraining, within 10 minutes, if the retrained model still passes its accuracy check."
    )
    check_fits(plain)
    save(plain, "thanks")
    context.close()


def test_dashboard(live, page):
    page.goto(f"{live}/dashboard")
    width = page.viewport_size["width"]
    expect(page.locator("#current-version")).to_have_text("3")
    expect(page.locator("#last-promotion")).to_contain_text("v3")
    expect(page.locator("#last-rejection")).to_contain_text("v2")
    # The script shows times in the reader's zone (Berlin here), still named.
    expect(page.locator("#retrain-ran time")).to_have_text("2 Dec 2026, 11:00 CET")
    for text in page.locator("time").all_text_contents():
        assert re.search(r"\b(CET|UTC)$", text), text
    check_fits(page)
    wrapper = page.locator("#versions .scroll")
    hint = page.locator("#versions-hint")
    inner, outer = wrapper.evaluate("node => [node.scrollWidth, node.clientWidth]")
    if width >= 1280:
        assert inner <= outer, "the versions table should fit at 1280 px"
        expect(hint).to_be_hidden()
    else:
        assert inner > outer, "on a phone the table scrolls inside its wrapper"
        expect(hint).to_be_visible()
    for chart in ("#live-accuracy", "#reliability"):
        check_chart_labels(page, chart)
    save(page, "dashboard")


def check_chart_labels(page: Page, section: str) -> None:
    """Every label of the section's chart is drawn at LEGIBLE_PX or more on screen; its x
    labels stay apart."""
    labels = page.evaluate(
        """(section) => [...document.querySelectorAll(section + ' svg.chart text')]
             .filter(node => getComputedStyle(node).display !== 'none')
             .map(node => { const box = node.getBoundingClientRect();
                 const scale = node.getScreenCTM().a;
                 return {text: node.textContent, left: box.left, right: box.right,
                         px: scale * parseFloat(getComputedStyle(node).fontSize),
                         x_tick: node.classList.contains('x-tick')}; })""",
        section,
    )
    assert labels
    for label in labels:
        assert label["px"] >= LEGIBLE_PX, label
    x_ticks = sorted((label for label in labels if label["x_tick"]), key=lambda t: t["left"])
    assert len(x_ticks) >= 2
    for left, right in zip(x_ticks, x_ticks[1:], strict=False):
        assert left["right"] < right["left"], (left, right)


def test_error_page(live, page):
    response = page.goto(f"{live}/no-such-page")
    assert response.status == 404
    expect(page.locator("#error-message")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the review form")).to_be_visible()
    check_fits(page)
    save(page, "error-404")
