"""The admin pages through Flask's test client, on both backends: who may see what, CSRF,
no-store, login answers, sessions ended by logout and set-password, triage, the queue,
versions and the audit row of every action."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from sqlalchemy import select

from admin_helpers import (
    ADMIN_PAGES,
    OPERATOR_PAGES,
    OTHER_PASSWORD,
    PASSWORD,
    REVIEWER_PAGES,
    add_user,
    csrf_token,
    login,
    quarantine_rows,
    token_in,
    track,
)
from movieclassifier import accounts, audit, feedback, locking, model_store, stats
from movieclassifier.schema import (
    APPROVED,
    DISCARDED,
    LEARNING,
    PENDING,
    QUARANTINED,
    AuditEntry,
    Feedback,
    ModelVersion,
)

FIRST = "abcdef01" + "0" * 24
SECOND = "12345678" + "1" * 24


@pytest.fixture
def operator(sessions):
    add_user(sessions, "olga", "operator")
    return "olga"


@pytest.fixture
def reviewer(sessions):
    add_user(sessions, "remi", "reviewer")
    return "remi"


def actions(sessions):
    with sessions() as session:
        return [
            (row.actor, row.action, row.target)
            for row in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


@pytest.mark.parametrize(("method", "path"), ADMIN_PAGES)
def test_a_stranger_is_sent_to_the_login_page(client, method, path):
    token = csrf_token(client)
    response = client.open(path, method=method, data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path"), OPERATOR_PAGES)
def test_a_reviewer_gets_403_on_every_operator_page(client, reviewer, sessions, method, path):
    assert login(client, reviewer).status_code == 302
    token = csrf_token(client, "/admin/queue")
    response = client.open(path, method=method, data={"csrf_token": token})
    assert response.status_code == 403
    assert "A reviewer may not use this page." in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path"), REVIEWER_PAGES)
def test_a_reviewer_may_use_the_queue_and_an_operator_everything(
    client, reviewer, operator, method, path
):
    for name in (reviewer, operator):
        assert login(client, name).status_code == 302
        response = client.open(
            path, method=method, data={"csrf_token": csrf_token(client, "/admin/queue")}
        )
        # Let in: the page, or the answer's own 400 for an empty form; never 403.
        assert response.status_code in (200, 302, 400), response.get_data(as_text=True)
        assert "may not use this page" not in response.get_data(as_text=True)
        assert not response.headers.get("Location", "").startswith("/login")
        client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/queue")})


@pytest.mark.parametrize(("method", "path"), [("GET", "/login"), *ADMIN_PAGES])
def test_every_admin_answer_is_no_store(client, operator, method, path):
    if path != "/login":
        login(client, operator)
    response = client.open(
        path,
        method=method,
        data={"csrf_token": csrf_token(client, "/login" if path == "/login" else "/admin/")},
    )
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/login"), ("POST", "/logout"), *[p for p in ADMIN_PAGES if p[0] == "POST"]],
)
def test_a_post_without_the_csrf_token_is_refused(client, operator, sessions, method, path):
    login(client, operator)
    before = actions(sessions)
    response = client.post(
        path,
        data={
            "name": operator,
            "password": PASSWORD,
            "version": "1",
            "scope": "version",
            "action": "approve",
            "confirmed": "y",
        },
    )
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert actions(sessions) == before
    # Still logged in: the refused logout changed nothing.
    assert client.get("/admin/").status_code == 200


def test_a_token_of_another_session_is_refused(app, operator):
    one, other = app.test_client(), app.test_client()
    login(one, operator)
    stolen = csrf_token(other)
    response = one.post("/logout", data={"csrf_token": stolen})
    assert response.status_code == 400
    assert one.get("/admin/").status_code == 200


def test_login_then_logout_are_audited_with_the_address(client, operator, sessions):
    response = login(client, operator)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert response.headers["Location"] == "/login?out=1"
    assert "You are logged out." in client.get("/login?out=1").get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    with sessions() as session:
        rows = audit.recent(session)
        user = accounts.get(session, operator)
        assert user.last_login_at is not None
    assert [(row.actor, row.action, row.address) for row in rows] == [
        ("olga", audit.LOGOUT, "127.0.0.1"),
        ("olga", audit.LOGIN, "127.0.0.1"),
    ]


def _page_without_tokens(response) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))


def test_unknown_name_and_wrong_password_get_the_same_answer_and_work(
    client, operator, sessions, monkeypatch
):
    """The same page, and the same scrypt work: an unknown name is checked against a dummy
    hash. The work is counted, not timed: the standard library's ``hashlib.scrypt`` is
    wrapped to count its calls and their cost parameters, and still does the work."""
    calls = []
    real_scrypt = hashlib.scrypt

    def counted(password, *, salt, n, r, p, **kwargs):
        calls.append((n, r, p))
        return real_scrypt(password, salt=salt, n=n, r=r, p=p, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)

    def attempt(name):
        calls.clear()
        response = login(client, name, "not the password at all")
        return response, list(calls)

    wrong, unknown = [], []
    for _ in range(3):
        wrong.append(attempt(operator))
        unknown.append(attempt("nobody"))
    (wrong_answer, wrong_work), (unknown_answer, unknown_work) = wrong[0], unknown[0]
    assert wrong_answer.status_code == unknown_answer.status_code == 401
    assert "Wrong user name or password." in wrong_answer.get_data(as_text=True)
    assert _page_without_tokens(wrong_answer) == _page_without_tokens(unknown_answer)
    # One full-cost hash each; without the dummy hash an unknown name would do none.
    assert wrong_work == unknown_work == [(accounts.SCRYPT_N, accounts.SCRYPT_R, accounts.SCRYPT_P)]
    assert all(work == wrong_work for _, work in wrong + unknown)
    assert [action for _, action, _ in actions(sessions)] == [audit.LOGIN_FAILED] * 6
    assert [actor for actor, _, _ in actions(sessions)] == [operator, audit.UNKNOWN_NAME] * 3


def test_a_password_typed_as_the_name_is_not_audited(client, operator, sessions):
    secret = "correct horse battery staple"
    assert login(client, secret, "anything at all here").status_code == 401
    rows = actions(sessions)
    assert [(actor, action) for actor, action, _ in rows] == [
        (audit.UNKNOWN_NAME, audit.LOGIN_FAILED)
    ]
    assert secret not in str(rows)


def test_a_disabled_user_cannot_log_in(client, operator, sessions):
    with sessions.begin() as session:
        accounts.disable(session, operator)
    assert login(client, operator).status_code == 401


def test_logout_ends_the_users_other_sessions(app, operator):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, operator)
    login(phone, operator)
    saved = phone.get_cookie("session").value
    assert phone.get("/admin/").status_code == 200
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/admin/")})
    assert phone.get("/admin/").status_code == 302
    # The cookie the phone had, replayed, is no good either.
    thief = app.test_client()
    thief.set_cookie("session", saved)
    assert thief.get("/admin/").status_code == 302


def test_set_password_and_disable_end_every_session(app, operator, sessions):
    browser = app.test_client()
    login(browser, operator)
    with sessions.begin() as session:
        accounts.set_password(session, operator, OTHER_PASSWORD)
    assert browser.get("/admin/").headers["Location"] == "/login?next=/admin/"
    assert login(browser, operator).status_code == 401
    assert login(browser, operator, OTHER_PASSWORD).status_code == 302
    with sessions.begin() as session:
        accounts.disable(session, operator)
    assert browser.get("/admin/").status_code == 302


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(client, operator):
    first = client.get("/admin/versions")
    assert first.headers["Location"] == "/login?next=/admin/versions"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert 'value="/admin/versions"' in page
    token = token_in(page)
    answer = client.post(
        "/login",
        data={
            "csrf_token": token,
            "name": operator,
            "password": PASSWORD,
            "next": "/admin/versions",
        },
    )
    assert answer.headers["Location"] == "/admin/versions"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    token = csrf_token(client)
    answer = client.post(
        "/login",
        data={
            "csrf_token": token,
            "name": operator,
            "password": PASSWORD,
            "next": "//evil.example/admin",
        },
    )
    assert answer.headers["Location"] == "/admin/"


def test_a_reviewer_lands_on_the_queue(client, reviewer):
    assert login(client, reviewer).headers["Location"] == "/admin/queue"


def test_triage_ranks_escapes_and_settles_selected_rows_after_confirming(
    client, operator, sessions, seed_model, tiny_model, tiny_model_written
):
    rejected, ids = quarantine_rows(
        sessions,
        seed_model,
        tiny_model,
        tiny_model_written,
        [
            ("<script>alert(1)</script> mild", "positive", 0.62, False, FIRST),
            ("The best film of the year.", "positive", 0.97, False, FIRST),
            ("Dull and long.", "negative", 0.55, True, SECOND),
        ],
    )
    login(client, operator)
    page = client.get("/admin/quarantine").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; mild" in page
    order = [int(found) for found in re.findall(r'id="suspect-(\d+)"', page)]
    assert order == [ids[1], ids[0], ids[2]]
    assert "positive 97.0%" in page and "held-out 0.8800 → 0.7400" in page
    assert FIRST[:8] in page and f"<td>{rejected}</td>" in page

    token = token_in(page)
    first = client.post(
        "/admin/quarantine/settle",
        data={
            "csrf_token": token,
            "action": "approve",
            "scope": "selected",
            "ids": [ids[0], ids[1]],
        },
    )
    assert first.status_code == 200
    assert "Approve 2 quarantined answers?" in first.get_data(as_text=True)
    with sessions() as session:
        assert session.get(Feedback, ids[0]).status == QUARANTINED  # not before confirming
    confirm = client.post(
        "/admin/quarantine/settle",
        data={
            "csrf_token": token,
            "action": "approve",
            "scope": "selected",
            "ids": [ids[0], ids[1]],
            "confirmed": "y",
        },
    )
    assert confirm.status_code == 302
    with sessions() as session:
        assert [session.get(Feedback, i).status for i in ids] == [APPROVED, APPROVED, QUARANTINED]
    assert actions(sessions)[-1] == ("olga", audit.APPROVE, audit.ids(ids[:2]))


def test_triage_settles_a_whole_version_or_source(
    client, operator, sessions, seed_model, tiny_model, tiny_model_written
):
    rows = [("Great.", "positive", 0.9, False, FIRST), ("Bad.", "negative", 0.8, False, SECOND)]
    rejected, ids = quarantine_rows(sessions, seed_model, tiny_model, tiny_model_written, rows)
    login(client, operator)
    token = csrf_token(client, "/admin/quarantine")
    asked = client.post(
        "/admin/quarantine/settle",
        data={"csrf_token": token, "action": "discard", "scope": "source", "source": SECOND},
    )
    assert "Discard 1 quarantined answer?" in asked.get_data(as_text=True)
    client.post(
        "/admin/quarantine/settle",
        data={
            "csrf_token": token,
            "action": "discard",
            "scope": "source",
            "source": SECOND,
            "confirmed": "y",
        },
    )
    client.post(
        "/admin/quarantine/settle",
        data={
            "csrf_token": token,
            "action": "approve",
            "scope": "version",
            "version": str(rejected),
            "confirmed": "y",
        },
    )
    with sessions() as session:
        assert [session.get(Feedback, i).status for i in ids] == [APPROVED, DISCARDED]
    assert actions(sessions)[-2:] == [
        ("olga", audit.DISCARD, f"source {SECOND}"),
        ("olga", audit.APPROVE, f"version {rejected}"),
    ]
    # Nothing left of that version: a clear 409, nothing audited.
    again = client.post(
        "/admin/quarantine/settle",
        data={
            "csrf_token": token,
            "action": "approve",
            "scope": "version",
            "version": str(rejected),
            "confirmed": "y",
        },
    )
    assert again.status_code == 409
    assert "there is no quarantined feedback by version" in again.get_data(as_text=True)


def test_the_queue_asks_the_most_uncertain_first_and_stores_the_reviewers_answer(
    client, reviewer, sessions, seed_model, app
):
    ids = track(
        sessions,
        seed_model,
        [
            ("Sure thing.", "positive", 0.95),
            ("Hmm <b>maybe</b>.", "negative", 0.51),
            ("Fairly.", "positive", 0.7),
        ],
    )
    login(client, reviewer)
    page = client.get("/admin/queue").get_data(as_text=True)
    assert "Hmm &lt;b&gt;maybe&lt;/b&gt;." in page and "51.0% sure" in page
    assert "3 reviews of version" in page
    assert 'data-key="c"' in page and 'data-key="i"' in page
    token = token_in(page)
    assert (
        client.post(
            "/admin/queue/answer",
            data={"csrf_token": token, "prediction_id": str(ids[1]), "correct": "false"},
        ).status_code
        == 302
    )
    page = client.get("/admin/queue").get_data(as_text=True)
    assert "Fairly." in page and "2 reviews of version" in page
    skipped = client.get("/admin/queue?skip=1").get_data(as_text=True)
    assert "Sure thing." in skipped
    with sessions() as session:
        row = feedback.answer_of(session, ids[1])
    assert row.status == PENDING and row.label == 1 and row.correct is False
    secret = app.extensions["movieclassifier.settings"].secret_key
    assert row.source == feedback.source_hash(secret, f"reviewer:{reviewer}")
    assert actions(sessions)[-1] == (reviewer, audit.QUEUE_ANSWER, f"prediction {ids[1]}")
    # Answering it again (a second tab) changes nothing: it left the queue.
    again = client.post(
        "/admin/queue/answer",
        data={"csrf_token": token, "prediction_id": str(ids[1]), "correct": "true"},
    )
    assert again.headers["Location"] == "/admin/queue?done=gone"
    with sessions() as session:
        assert feedback.answer_of(session, ids[1]).correct is False


def test_versions_rollback_after_confirming_and_audited(
    client, operator, sessions, settings, seed_model, tiny_model, tiny_model_written
):
    with sessions.begin() as session:
        newer = model_store.register(
            session,
            tiny_model_written,
            tiny_model,
            status="promoted",
            source="test",
            parent_version=seed_model,
        ).version
    login(client, operator)
    page = client.get("/admin/versions").get_data(as_text=True)
    assert f'id="version-{newer}" class="current"' in page
    assert f"Roll back to {seed_model}" in page and f"Roll back to {newer}" not in page
    token = token_in(page)
    asked = client.post(
        "/admin/versions/rollback", data={"csrf_token": token, "version": str(seed_model)}
    )
    assert f"Roll back to version {seed_model}?" in asked.get_data(as_text=True)
    with sessions() as session:
        assert model_store.current_version(session) == newer
    done = client.post(
        "/admin/versions/rollback",
        data={"csrf_token": token, "version": str(seed_model), "confirmed": "y"},
    )
    assert done.status_code == 302
    with sessions() as session:
        assert model_store.current_version(session) == seed_model
        assert session.get(ModelVersion, newer).status == "rolled_back"
    actor, action, target = actions(sessions)[-1]
    assert (actor, action, target) == ("olga", audit.ROLLBACK, f"version {seed_model}")
    # To the version in service already: refused, with the store's reason.
    refused = client.post(
        "/admin/versions/rollback",
        data={"csrf_token": token, "version": str(seed_model), "confirmed": "y"},
    )
    assert refused.status_code == 409


def test_retrain_now_says_busy_while_a_retrain_holds_the_lock(
    client, operator, sessions, engine, seed_model
):
    login(client, operator)
    token = csrf_token(client, "/admin/versions")
    with locking.retrain_lock(engine):
        busy = client.post("/admin/versions/retrain", data={"csrf_token": token})
        refused = client.post(
            "/admin/versions/rollback",
            data={"csrf_token": token, "version": str(seed_model), "confirmed": "y"},
        )
    assert busy.status_code == 409
    assert "A retrain is running" in busy.get_data(as_text=True)
    assert refused.status_code == 409
    assert actions(sessions)[-1][1] == audit.RETRAIN_BUSY


def test_retrain_now_runs_the_retrain_command_and_audits_it(client, operator, sessions, seed_model):
    ids = track(sessions, seed_model, [("A fine film, well acted and moving.", "positive", 0.8)])
    with sessions.begin() as session:
        feedback.add(session, ids[0], True, "ab" * 16)
    login(client, operator)
    started = client.post(
        "/admin/versions/retrain", data={"csrf_token": csrf_token(client, "/admin/versions")}
    )
    assert started.headers["Location"] == "/admin/versions?done=retrain+started"
    assert actions(sessions)[-1][1] == audit.RETRAIN_NOW
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            if stats.last_retrain(session) is not None:
                break
        time.sleep(0.5)
    with sessions() as session:
        assert feedback.answer_of(session, ids[0]).status not in (PENDING, LEARNING)
    page = client.get("/admin/versions").get_data(as_text=True)
    assert "Last retrain:" in page


def test_the_audit_page_shows_every_row_and_filters(client, operator, sessions):
    login(client, operator, "wrong password here")
    login(client, operator)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert page.count('data-action="login-failed"') == 1 and page.count('data-action="login"') == 1
    only = client.get("/admin/audit?action=login-failed").get_data(as_text=True)
    assert 'data-action="login"' not in only and 'data-action="login-failed"' in only
