"""The admin pages in a real headless Chromium against gunicorn: log in, triage, answer the
queue with the keyboard (a reviewer, on a phone), roll back, log out. Screenshots go to
``test-artifacts/`` as in ``test_e2e_browser.py``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from admin_helpers import PASSWORD, add_user, quarantine_rows, track
from browser import ARTIFACTS, TIMEOUT_MS
from movieclassifier import audit, feedback, model_store
from movieclassifier.schema import APPROVED, PROMOTED, QUARANTINED, Feedback
from servers import gunicorn_server, settings_env

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
SOURCE = "abcdef01" + "0" * 24


def new_page(browser: Browser, problems: list[str], **options) -> Page:
    page = browser.new_page(**options)
    page.set_default_timeout(TIMEOUT_MS)
    # A blocked script or style (the Content-Security-Policy) shows in the console.
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def shot(page: Page, settings, name: str) -> None:
    backend = settings.database_url.split(":", 1)[0].split("+", 1)[0]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{backend}-admin-{name}.png", full_page=True)


def log_in(page: Page, url: str, name: str, start: str = "/admin/") -> None:
    page.goto(url + start)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_log_in_triage_answer_the_queue_roll_back_and_log_out(
    settings, sessions, seed_model, tiny_model, tiny_model_written, tmp_path, browser
):
    add_user(sessions, "olga", "operator")
    add_user(sessions, "remi", "reviewer")
    rows = [
        ("<b>Sure</b> the best film of the year.", "positive", 0.97, False, SOURCE),
        ("Dull and long.", "negative", 0.55, True, SOURCE),
    ]
    _rejected, suspects = quarantine_rows(
        sessions, seed_model, tiny_model, tiny_model_written, rows
    )
    with sessions.begin() as session:
        newer = model_store.register(
            session,
            tiny_model_written,
            tiny_model,
            status=PROMOTED,
            source="test",
            parent_version=seed_model,
        ).version
    asked = track(
        sessions,
        newer,
        [("Maybe good, maybe not.", "positive", 0.52), ("Clearly great.", "positive", 0.96)],
    )
    problems: list[str] = []
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn.log") as url:
        page = new_page(browser, problems)
        log_in(page, url, "olga")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.locator("#quarantined-count")).to_have_text("2")
        shot(page, settings, "overview")

        # Triage: the review is text, not markup; approve the most suspect after confirming.
        page.get_by_role("navigation", name="Admin").get_by_role("link", name="Quarantine").click()
        first = page.locator("#quarantine-table tbody tr").first
        expect(first).to_contain_text("<b>Sure</b> the best film of the year.")
        page.get_by_label(f"Select answer {suspects[0]}").check()
        shot(page, settings, "quarantine")
        page.get_by_role("button", name="Approve selected").click()
        expect(page.get_by_role("heading", name="Approve 1 quarantined answer?")).to_be_visible()
        page.get_by_role("button", name="Yes, approve 1").click()
        expect(page.locator("#admin-status")).to_have_text("Done: approved 1 answers.")
        with sessions() as session:
            assert [session.get(Feedback, i).status for i in suspects] == [APPROVED, QUARANTINED]

        # Roll back to the first version, confirming.
        page.get_by_role("link", name="Versions").click()
        page.get_by_role("button", name=f"Roll back to version {seed_model}").click()
        page.get_by_role("button", name=f"Yes, roll back to {seed_model}").click()
        expect(page.locator("#admin-status")).to_have_text(f"Done: rolled back to {seed_model}.")
        expect(page.locator(f"#version-{seed_model}")).to_contain_text("in service")
        shot(page, settings, "versions")
        with sessions() as session:
            assert model_store.current_version(session) == seed_model
        # Back to the newer version, so that the queue asks about its predictions.
        page.get_by_role("button", name=f"Roll back to version {newer}").click()
        page.get_by_role("button", name=f"Yes, roll back to {newer}").click()
        expect(page.locator("#admin-status")).to_have_text(f"Done: rolled back to {newer}.")

        # A reviewer on a phone answers with the keyboard, most uncertain first.
        phone = new_page(browser, problems, viewport=PHONE)
        log_in(phone, url, "remi", start="/admin/queue")
        expect(phone.locator("#question-review")).to_have_text("Maybe good, maybe not.")
        assert fits_the_screen(phone)
        shot(phone, settings, "queue-phone")
        phone.keyboard.press("i")
        expect(phone.locator("#admin-status")).to_have_text("Saved: incorrect.")
        expect(phone.locator("#question-review")).to_have_text("Clearly great.")
        # And by Tab and Enter, as a keyboard user without shortcuts would.
        correct = phone.get_by_role("button", name=re.compile("^Correct"))
        for _ in range(30):
            phone.keyboard.press("Tab")
            if correct.evaluate("node => node === document.activeElement"):
                break
        phone.keyboard.press("Enter")
        expect(phone.locator("#queue-empty")).to_be_visible()
        with sessions() as session:
            answers = [feedback.answer_of(session, i) for i in asked]
        assert [(a.correct, a.label) for a in answers] == [(False, 0), (True, 1)]
        phone.get_by_role("button", name="Log out").click()
        expect(phone.locator("#admin-status")).to_have_text("You are logged out.")

        # The operator logs out; the admin pages send the browser back to the login page.
        page.get_by_role("button", name="Log out").click()
        expect(page.locator("#admin-status")).to_have_text("You are logged out.")
        page.goto(f"{url}/admin/versions")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert problems == []
    with sessions() as session:
        done = [entry.action for entry in reversed(audit.recent(session))]
    assert done == [
        audit.LOGIN,
        audit.APPROVE,
        audit.ROLLBACK,
        audit.ROLLBACK,
        audit.LOGIN,
        audit.QUEUE_ANSWER,
        audit.QUEUE_ANSWER,
        audit.LOGOUT,
        audit.LOGOUT,
    ]
