"""Black-box security tests of the admin pages against real gunicorn servers (two workers),
on both backends: strangers and the wrong role refused, CSRF, failed logins throttled in
Redis across the workers, sessions ended by logout and set-password, no password, hash or
session cookie in any answer or log line, and the production cookie flags."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests

from admin_helpers import ADMIN_PAGES, OPERATOR_PAGES, OTHER_PASSWORD, PASSWORD, TOKEN, add_user
from movieclassifier import accounts, audit
from servers import REPO_ROOT, gunicorn_server, settings_env, subprocess_env

pytestmark = pytest.mark.slow

REDIS_URI = "redis://127.0.0.1:6379/0"


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URI, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def token(browser: requests.Session, url: str, path: str = "/login") -> str:
    match = TOKEN.search(browser.get(url + path, timeout=30).text)
    assert match
    return match.group(1)


def log_in(url: str, name: str, password: str = PASSWORD, browser=None, **headers):
    browser = browser or requests.Session()
    answer = browser.post(
        f"{url}/login",
        data={"csrf_token": token(browser, url), "name": name, "password": password},
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )
    return browser, answer


@pytest.fixture
def users(sessions):
    add_user(sessions, "olga", "operator")
    add_user(sessions, "remi", "reviewer")


def test_strangers_and_the_wrong_role_are_refused_and_csrf_checked(
    settings, seed_model, users, tmp_path
):
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn.log") as url:
        stranger = requests.Session()
        form_token = token(stranger, url)
        for method, path in ADMIN_PAGES:
            answer = stranger.request(
                method, url + path, data={"csrf_token": form_token}, allow_redirects=False
            )
            assert answer.status_code == 302, (method, path)
            assert answer.headers["Location"] == f"/login?next={path}"
            assert answer.headers["Cache-Control"] == "no-store"
        reviewer, answer = log_in(url, "remi")
        assert answer.status_code == 302
        form_token = token(reviewer, url, "/admin/queue")
        for method, path in OPERATOR_PAGES:
            answer = reviewer.request(method, url + path, data={"csrf_token": form_token})
            assert answer.status_code == 403, (method, path)
        assert reviewer.get(f"{url}/admin/queue").status_code == 200
        # Without the token, or with another session's: 400, and still logged in.
        for data in ({}, {"csrf_token": token(requests.Session(), url)}):
            answer = reviewer.post(f"{url}/logout", data=data, allow_redirects=False)
            assert answer.status_code == 400
        assert reviewer.get(f"{url}/admin/queue", allow_redirects=False).status_code == 200


def test_logout_and_set_password_end_the_other_sessions(settings, seed_model, users, tmp_path):
    env = settings_env(settings)
    with gunicorn_server(env, tmp_path / "gunicorn.log") as url:
        laptop, _ = log_in(url, "olga")
        phone, _ = log_in(url, "olga")
        assert phone.get(f"{url}/admin/", allow_redirects=False).status_code == 200
        laptop.post(f"{url}/logout", data={"csrf_token": token(laptop, url, "/admin/")})
        assert phone.get(f"{url}/admin/", allow_redirects=False).status_code == 302

        phone, _ = log_in(url, "olga")
        changed = subprocess.run(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "movieclassifier",
                "users",
                "set-password",
                "olga",
                "--password-stdin",
            ],
            cwd=REPO_ROOT,
            env=subprocess_env(env),
            input=OTHER_PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert changed.returncode == 0, changed.stderr
        assert phone.get(f"{url}/admin/", allow_redirects=False).status_code == 302
        assert log_in(url, "olga")[1].status_code == 401
        assert log_in(url, "olga", OTHER_PASSWORD)[1].status_code == 302


@pytest.mark.skipif(not redis_available(), reason="Redis not reachable at " + REDIS_URI)
def test_failed_logins_are_throttled_per_address_and_per_account_across_workers(
    settings, seed_model, users, sessions, tmp_path
):
    env = settings_env(
        settings,
        RATELIMIT_ENABLED="true",
        RATELIMIT_STORAGE_URI=REDIS_URI,
        RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        TRUSTED_PROXIES="1",
    )
    with gunicorn_server(env, tmp_path / "gunicorn.log", workers=2) as url:
        # One address: 10 failures answer 401, the 11th 429 with Retry-After, even with the
        # right password; a success before them cost nothing.
        assert log_in(url, "olga", **{"X-Forwarded-For": "192.0.2.1"})[1].status_code == 302
        browser = requests.Session()
        statuses = [
            log_in(url, "olga", "wrong password!", browser, **{"X-Forwarded-For": "192.0.2.1"})[1]
            for _ in range(11)
        ]
        assert [answer.status_code for answer in statuses] == [401] * 10 + [429]
        assert 0 < int(statuses[-1].headers["Retry-After"]) <= 15 * 60
        assert "Too many failed logins" in statuses[-1].text
        right = log_in(url, "olga", PASSWORD, **{"X-Forwarded-For": "192.0.2.1"})[1]
        assert right.status_code == 429
        # Another address still may, and its success does not count.
        assert log_in(url, "olga", **{"X-Forwarded-For": "192.0.2.2"})[1].status_code == 302

        # One account: 50 failures from 10 addresses (5 each, under the address limit),
        # then the account answers 429 from anywhere; another account does not.
        for attempt in range(40):
            forwarded = {"X-Forwarded-For": f"198.51.100.{attempt // 5}"}
            assert log_in(url, "remi", "wrong password!", **forwarded)[1].status_code == 401
        assert log_in(url, "remi", **{"X-Forwarded-For": "203.0.113.9"})[1].status_code == 302
        for attempt in range(40, 50):
            forwarded = {"X-Forwarded-For": f"198.51.100.{attempt // 5}"}
            assert log_in(url, "remi", "wrong password!", **forwarded)[1].status_code == 401
        fresh = {"X-Forwarded-For": "203.0.113.10"}
        assert log_in(url, "remi", PASSWORD, **fresh)[1].status_code == 429
        assert log_in(url, "olga", PASSWORD, **fresh)[1].status_code == 302
    with sessions() as session:
        failed = audit.recent(session, 1000, audit.LOGIN_FAILED)
    assert len(failed) == 60  # the 429s never reached the password check


def test_no_password_hash_or_session_cookie_in_any_answer_or_log_line(
    settings, seed_model, users, sessions, tmp_path
):
    with sessions() as session:
        stored = accounts.get(session, "olga").password_hash
    log_path = tmp_path / "gunicorn.log"
    env = settings_env(settings, GUNICORN_ACCESS_LOG="true", LOG_LEVEL="DEBUG")
    answers = []
    with gunicorn_server(env, log_path) as url:
        answers.append(log_in(url, "olga", "wrong password!")[1])
        answers.append(log_in(url, "nobody", PASSWORD)[1])
        browser, answer = log_in(url, "olga")
        answers.append(answer)
        cookie = browser.cookies["session"]
        for method, path in ADMIN_PAGES:
            answers.append(
                browser.request(
                    method, url + path, data={"csrf_token": token(browser, url, "/admin/")}
                )
            )
        answers.append(
            browser.post(f"{url}/logout", data={"csrf_token": token(browser, url, "/admin/")})
        )
    salt, digest = stored.split("$")[1:]
    for answer in answers:
        text = answer.text + repr(dict(answer.headers))
        for secret in (PASSWORD, salt, digest[:16]):
            assert secret not in text, answer.url
    log = log_path.read_text()
    assert "POST /login" in log  # the access log was on
    for secret in (PASSWORD, "wrong password!", salt, digest[:16], cookie):
        assert secret not in log


def test_production_cookie_flags_and_hsts(settings, seed_model, users, tmp_path):
    env = settings_env(settings, APP_ENV="production", SECRET_KEY="x" * 64, HTTPS_ONLY="true")
    with gunicorn_server(env, tmp_path / "gunicorn.log") as url:
        browser = requests.Session()
        page = browser.get(f"{url}/login")
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
        match = TOKEN.search(page.text)
        cookie = page.headers["Set-Cookie"]
        answer = requests.post(
            f"{url}/login",
            data={"csrf_token": match.group(1), "name": "olga", "password": PASSWORD},
            headers={"Cookie": cookie.split(";", 1)[0]},
            allow_redirects=False,
        )
    assert answer.status_code == 302
    flags = [part.strip().lower() for part in answer.headers["Set-Cookie"].split(";")]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(flags)
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
