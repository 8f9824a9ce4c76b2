"""Rate limits: the figure a client meets is the one the settings state, across workers.

With ``memory://`` storage each gunicorn worker counts on its own, so each enforces its
share of the limit; with Redis the count is shared and the stated figure is global. The
gunicorn tests count how many of 3× the limit requests got through; they time nothing.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from databases import REQUIRE_ALL
from movieclassifier.web import limits
from servers import gunicorn_server, settings_env

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."
REDIS_URI = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("rate", "storage", "workers", "expected"),
    [
        ("120 per minute", "memory://", 2, "60 per 1 minute"),
        ("3 per minute", "memory://", 2, "1 per 1 minute"),  # rounded down: never above 3
        ("1 per minute", "memory://", 4, "1 per 1 minute"),  # at least one each
        ("100 per 5 minutes", "memory://", 3, "33 per 5 minute"),
        ("120 per minute", "memory://", 1, "120 per 1 minute"),
        ("120 per minute", REDIS_URI, 2, "120 per 1 minute"),  # shared: the stated figure
    ],
)
def test_each_worker_enforces_its_share_of_a_memory_limit(rate, storage, workers, expected):
    assert limits.worker_rate(rate, storage, workers) == expected


@pytest.mark.parametrize(
    ("rate", "words"),
    [
        ("30 per minute", "at most 30 reviews a minute"),
        ("1/minute", "at most 1 review a minute"),
        ("10/second", "at most 10 reviews a second"),
        ("100 per 5 minutes", "at most 100 reviews every 5 minutes"),
        ("500 per day", "at most 500 reviews a day"),
    ],
)
def test_the_limit_is_worded_for_people(rate, words):
    assert limits.limit_words(rate, "review") == words


def test_a_200_has_no_retry_after_and_a_429_has_one(make_app, seed_model):
    client = make_app(ratelimit_enabled=True, ratelimit_predict="1 per minute").test_client()
    first = client.post("/api/v1/predict", json={"review": REVIEW})
    second = client.post("/api/v1/predict", json={"review": REVIEW})
    assert (first.status_code, second.status_code) == (200, 429)
    assert "Retry-After" not in first.headers
    assert 0 < int(second.headers["Retry-After"]) <= 60
    wait = re.search(r"; retry in (\d+) seconds?$", second.get_json()["error"])
    assert wait and wait.group(1) == second.headers["Retry-After"]


def test_pages_and_other_api_answers_have_no_retry_after(make_app, seed_model):
    client = make_app(ratelimit_enabled=True).test_client()
    for response in (
        client.get("/"),
        client.get("/api/v1/model"),
        client.post("/api/v1/predict", json={"review": REVIEW}),
        client.post("/api/v1/feedback", json={"prediction_id": 5, "correct": True}),
    ):
        assert response.status_code in (200, 400, 404), response.get_data(as_text=True)
        assert "Retry-After" not in response.headers
        assert not [name for name in response.headers.keys() if name.startswith("X-RateLimit")]


def test_the_429_states_the_stated_limit_not_the_worker_share(make_app, seed_model):
    client = make_app(
        ratelimit_enabled=True, ratelimit_predict="4 per minute", web_concurrency=2
    ).test_client()
    statuses = [
        client.post("/api/v1/predict", json={"review": REVIEW}).status_code for _ in range(4)
    ]
    # This one process is one of two workers: it lets through its share, 2 of the 4.
    assert statuses == [200, 200, 429, 429]
    error = client.post("/api/v1/predict", json={"review": REVIEW}).get_json()["error"]
    assert error.startswith("Too many requests: the limit is 4 per 1 minute")


def _form_post(client, review: str):
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    return client.post("/", data={"review": review, "csrf_token": token})


def test_the_rate_limit_page_keeps_the_review_and_says_how_long_to_wait(make_app, seed_model):
    client = make_app(ratelimit_enabled=True, ratelimit_predict="1 per minute").test_client()
    assert _form_post(client, REVIEW).status_code in (200, 303)  # the result, or a redirect to it
    kept = "My second review, with <markup> & an ampersand, is kept."
    response = _form_post(client, kept)
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 60
    html = response.get_data(as_text=True)
    assert "My second review, with &lt;markup&gt; &amp; an ampersand, is kept.</textarea>" in html
    assert "at most 1 review a minute" in html
    assert f"{wait} second" in html
    assert 'name="csrf_token"' in html  # the kept review can be sent again as it is


def test_the_feedback_rate_limit_page_states_its_limit(make_app, seed_model):
    client = make_app(ratelimit_enabled=True, ratelimit_feedback="1 per minute").test_client()
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answers = [
        client.post(
            "/feedback", data={"prediction_id": "5", "correct": "true", "csrf_token": token}
        )
        for _ in range(2)
    ]
    assert answers[0].status_code != 429 and answers[1].status_code == 429
    assert "at most 1 answer a minute" in answers[1].get_data(as_text=True)
    assert "Retry-After" in answers[1].headers and "Retry-After" not in answers[0].headers


# gunicorn's access log, one line per answer with the worker's pid: shows which worker
# answered, so the tests know both took part.
ACCESS_LOG = {
    "GUNICORN_ACCESS_LOG": "true",
    "GUNICORN_CMD_ARGS": "--access-logformat 'access %(p)s %(U)s %(s)s'",
}


def _answers(log: Path) -> list[tuple[str, str, int]]:
    """(worker pid, path, status) of each answer in the access log so far."""
    rows = [
        line.split()[1:4] for line in log.read_text().splitlines() if line.startswith("access ")
    ]
    return [(pid, path, int(status)) for pid, path, status in rows]


def _fresh_requests(
    send: Callable[[int], requests.Response], count: int
) -> list[requests.Response]:
    """``count`` requests, four at a time so that both sync workers answer."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(send, range(count)))


def _wait_for_workers(url: str, log: Path, workers: int) -> None:
    """Until every worker has answered /healthz (a worker still booting answers nothing)."""
    for _ in range(300):  # a bound on rounds, not a timing: each round is 8 requests
        _fresh_requests(lambda _: requests.get(f"{url}/healthz", timeout=30), 8)
        if len({pid for pid, _, _ in _answers(log)}) == workers:
            return
        time.sleep(0.1)
    raise AssertionError(f"not all {workers} workers answered:\n{log.read_text()[-3000:]}")


def _count_through(url: str, log: Path, requests_sent: int, workers: int = 2) -> int:
    """Send ``requests_sent`` predictions, each on a fresh connection, to all the workers; how
    many were not 429. Checks that every worker answered and that only 429s carry Retry-After."""
    _wait_for_workers(url, log, workers)

    def predict(_: int) -> requests.Response:
        return requests.post(
            f"{url}/api/v1/predict",
            json={"review": REVIEW},
            headers={"Connection": "close"},
            timeout=30,
        )

    answers = _fresh_requests(predict, requests_sent)
    for answer in answers:
        assert answer.status_code in (200, 429), answer.text
        if answer.status_code == 429:
            assert 0 < int(answer.headers["Retry-After"]) <= 60
        else:
            assert "Retry-After" not in answer.headers
    answered = {pid for pid, path, _ in _answers(log) if path == "/api/v1/predict"}
    assert len(answered) == workers, "the predictions did not reach every worker"
    return sum(answer.status_code != 429 for answer in answers)


@pytest.mark.slow
def test_two_gunicorn_workers_on_memory_storage_let_through_the_stated_limit(
    settings, seed_model, tmp_path
):
    env = settings_env(
        settings,
        RATELIMIT_ENABLED="true",
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_PREDICT="10 per minute",
        **ACCESS_LOG,
    )
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env, log, workers=2) as url:
        through = _count_through(url, log, 30)
    # Each worker lets through its share (5); together never more than the stated 10.
    assert 5 <= through <= 10, through


@pytest.mark.slow
def test_the_share_follows_gunicorns_real_worker_count(settings, seed_model, tmp_path):
    # ``--workers 3`` overrides WEB_CONCURRENCY=2 (which gunicorn_server sets): gunicorn.conf.py
    # tells each worker the real count, so each enforces 3 of the 9, not 4.
    env = settings_env(
        settings,
        RATELIMIT_ENABLED="true",
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_PREDICT="9 per minute",
        **ACCESS_LOG,
    )
    env["GUNICORN_CMD_ARGS"] = "--workers 3 " + ACCESS_LOG["GUNICORN_CMD_ARGS"]
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env, log, workers=2) as url:
        through = _count_through(url, log, 30, workers=3)
    assert 3 <= through <= 9, through


@pytest.fixture
def redis_prefix():
    import redis

    client = redis.Redis.from_url(REDIS_URI)
    try:
        client.ping()
    except redis.ConnectionError:
        (pytest.fail if REQUIRE_ALL else pytest.skip)("Redis not reachable at 127.0.0.1:6379")
    prefix = f"mc-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    keys = list(client.scan_iter(match=f"*{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.slow
def test_two_gunicorn_workers_on_redis_storage_share_the_stated_limit(
    settings, seed_model, tmp_path, redis_prefix
):
    import redis

    env = settings_env(
        settings,
        RATELIMIT_ENABLED="true",
        RATELIMIT_STORAGE_URI=REDIS_URI,
        RATELIMIT_KEY_PREFIX=redis_prefix,
        RATELIMIT_PREDICT="10 per minute",
        **ACCESS_LOG,
    )
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env, log, workers=2) as url:
        through = _count_through(url, log, 30)
    assert through == 10  # one count for both workers
    assert list(redis.Redis.from_url(REDIS_URI).scan_iter(match=f"*{redis_prefix}*"))
    assert "falling back" not in (tmp_path / "gunicorn.log").read_text()
