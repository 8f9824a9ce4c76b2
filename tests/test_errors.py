"""Every error path of the API answers one shape: {"ok": false, "error": msg, "status": code}."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from databases import REQUIRE_ALL, create_postgresql_database, drop_postgresql_database
from movieclassifier import create_app, db
from movieclassifier.config import Settings

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."

# (id, method, path, JSON body or raw bytes, expected status, words the message must contain)
CASES = [
    ("not-json", "post", "/api/v1/predict", b"review=great", 400, ["JSON object"]),
    ("json-array", "post", "/api/v1/predict", [REVIEW], 400, ["JSON object", "array"]),
    ("json-string", "post", "/api/v1/predict", "hello", 400, ["JSON object", "string"]),
    ("unknown-field", "post", "/api/v1/predict", {"review": REVIEW, "lang": "en"}, 400, ["'lang'"]),
    ("neither", "post", "/api/v1/predict", {}, 400, ["'review'", "'reviews'"]),
    (
        "both",
        "post",
        "/api/v1/predict",
        {"review": REVIEW, "reviews": [REVIEW]},
        400,
        ["exactly one"],
    ),
    ("review-number", "post", "/api/v1/predict", {"review": 5}, 400, ["'review'", "integer"]),
    ("review-null", "post", "/api/v1/predict", {"review": None}, 400, ["'review'", "null"]),
    ("review-empty", "post", "/api/v1/predict", {"review": "   "}, 400, ["'review'", "empty"]),
    (
        "review-short",
        "post",
        "/api/v1/predict",
        {"review": " tiny "},
        400,
        ["at least 10", "got 4"],
    ),
    (
        "review-long",
        "post",
        "/api/v1/predict",
        {"review": "x" * 20001},
        400,
        ["at most 20000", "got 20001"],
    ),
    ("review-nul", "post", "/api/v1/predict", {"review": REVIEW + "\x00"}, 400, ["NUL"]),
    (
        "review-surrogate",
        "post",
        "/api/v1/predict",
        b'{"review": "A lovely film, truly \\ud800 great"}',
        400,
        ["surrogate"],
    ),
    ("reviews-object", "post", "/api/v1/predict", {"reviews": {}}, 400, ["'reviews'", "object"]),
    ("reviews-empty", "post", "/api/v1/predict", {"reviews": []}, 400, ["1 to 100", "got 0"]),
    (
        "reviews-too-many",
        "post",
        "/api/v1/predict",
        {"reviews": [REVIEW] * 101},
        400,
        ["1 to 100", "got 101"],
    ),
    (
        "reviews-item",
        "post",
        "/api/v1/predict",
        {"reviews": [REVIEW, 3]},
        400,
        ["'reviews[1]'", "integer"],
    ),
    (
        "reviews-item-short",
        "post",
        "/api/v1/predict",
        {"reviews": [REVIEW, "bad"]},
        400,
        ["'reviews[1]'", "at least"],
    ),
    (
        "track-string",
        "post",
        "/api/v1/predict",
        {"review": REVIEW, "track": "yes"},
        400,
        ["'track'", "boolean", "string"],
    ),
    ("fb-not-json", "post", "/api/v1/feedback", b"not json", 400, ["JSON object"]),
    ("fb-missing", "post", "/api/v1/feedback", {"correct": True}, 400, ["'prediction_id'"]),
    (
        "fb-unknown",
        "post",
        "/api/v1/feedback",
        {"prediction_id": 1, "correct": True, "x": 1},
        400,
        ["'x'"],
    ),
    (
        "fb-id-integer",
        "post",
        "/api/v1/feedback",
        {"prediction_id": 1, "correct": True},
        400,
        ["'prediction_id'", "string", "got 1 (integer)"],
    ),
    (
        "fb-id-bool",
        "post",
        "/api/v1/feedback",
        {"prediction_id": True, "correct": True},
        400,
        ["'prediction_id'", "boolean"],
    ),
    (
        "fb-id-float",
        "post",
        "/api/v1/feedback",
        {"prediction_id": 1.5, "correct": True},
        400,
        ["'prediction_id'", "number"],
    ),
    (
        "fb-id-huge",
        "post",
        "/api/v1/feedback",
        {"prediction_id": 2**70, "correct": True},
        400,
        ["'prediction_id'", str(2**70)],
    ),
    (
        "fb-id-zero",
        "post",
        "/api/v1/feedback",
        {"prediction_id": 0, "correct": True},
        400,
        ["got 0"],
    ),
    (
        "fb-correct-string",
        "post",
        "/api/v1/feedback",
        {"prediction_id": "k" * 22, "correct": "false"},
        400,
        ["'correct'", "boolean", "string"],
    ),
    (
        "fb-unknown-id",
        "post",
        "/api/v1/feedback",
        {"prediction_id": "k" * 22, "correct": True},
        404,
        ['"' + "k" * 22 + '"', '"track": true'],
    ),
    ("nested-deep", "post", "/api/v1/predict", b"[" * 100_000, 400, ["nested too deeply"]),
    (
        "nested-deep-object",
        "post",
        "/api/v1/predict",
        b'{"review": ' * 50_000,
        400,
        ["nested too deeply"],
    ),
    (
        "fb-nested-deep",
        "post",
        "/api/v1/feedback",
        b"[" * 2000 + b"]" * 2000,
        400,
        ["nested too deeply"],
    ),
    ("no-route", "get", "/api/v1/nothing", None, 404, ["/api/v1/nothing"]),
    ("wrong-method", "get", "/api/v1/predict", None, 405, ["GET", "POST"]),
    ("wrong-method-fb", "delete", "/api/v1/feedback", None, 405, ["DELETE", "POST"]),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_client(request, tmp_path_factory, postgresql_available):
    """One app per backend for the cases that change nothing (keeps 60+ cases quick)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('errors') / 'reviews.sqlite'}"
    elif not postgresql_available:
        (pytest.fail if REQUIRE_ALL else pytest.skip)("PostgreSQL not reachable")
    else:
        url = create_postgresql_database()
    settings = Settings(
        database_url=url,
        model_dir=tmp_path_factory.mktemp("pkl"),
        app_env="testing",
        secret_key="test-secret",
        ratelimit_enabled=False,
    )
    engine = db.make_engine(url)
    db.init_db(engine)
    app = create_app(settings)
    yield app.test_client()
    app.extensions["movieclassifier.engine"].dispose()
    engine.dispose()
    if request.param == "postgresql":
        drop_postgresql_database(url)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_error_shape(shared_client, method, path, body, status, words):
    client = shared_client
    if isinstance(body, bytes):
        response = getattr(client, method)(path, data=body, content_type="application/json")
    else:
        response = getattr(client, method)(path, json=body)
    assert response.status_code == status
    payload = response.get_json()
    assert set(payload) == {"ok", "error", "status"}
    assert payload["ok"] is False
    assert payload["status"] == status
    for word in words:
        assert word in payload["error"]


def test_405_says_which_methods_are_allowed(client):
    response = client.get("/api/v1/feedback")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_413_in_the_error_shape(make_app):
    app = make_app(max_review_chars=100, max_batch=2)
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({"review": "x" * (limit + 10)})
    response = app.test_client().post("/api/v1/predict", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {
        "ok": False,
        "status": 413,
        "error": f"Request body too large: at most {limit} bytes are accepted",
    }


def test_a_bug_is_500_without_details(client, seed_model, engine):
    # A real failure, not a mock: the feedback table is gone under the running app.
    prediction_id = client.post(
        "/api/v1/predict", json={"review": REVIEW, "track": True}
    ).get_json()["predictions"][0]["prediction_id"]
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE feedback"))
    response = client.post(
        "/api/v1/feedback", json={"prediction_id": prediction_id, "correct": True}
    )
    assert response.status_code == 500
    assert response.get_json() == {"ok": False, "error": "Internal server error", "status": 500}


def test_a_bug_on_a_page_is_a_500_page_without_details(client, seed_model, engine):
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE feedback"))
        connection.execute(text("DROP TABLE predictions"))
    page = client.get("/")
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
    response = client.post("/", data={"review": REVIEW, "csrf_token": token.split('"')[0]})
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Internal server error" in html
    assert "predictions" not in html.lower().replace("<", " ")


def test_rate_limit_answers_429_with_retry_after(make_app, seed_model):
    client = make_app(
        ratelimit_enabled=True, ratelimit_predict="2 per minute", ratelimit_feedback="1 per minute"
    ).test_client()
    answers = [client.post("/api/v1/predict", json={"review": REVIEW}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert (
        answers[2].get_json()["error"].startswith("Too many requests: the limit is 2 per 1 minute")
    )
    assert answers[2].get_json()["status"] == 429
    assert 0 < int(answers[2].headers["Retry-After"]) <= 60
    feedback = [
        client.post("/api/v1/feedback", json={"prediction_id": 5, "correct": True})
        for _ in range(2)
    ]
    # The first is refused for its made-up id (whatever the status), the second is limited.
    assert feedback[0].status_code != 429 and feedback[1].status_code == 429
    assert "Retry-After" in feedback[1].headers


def test_rate_limits_can_be_turned_off(make_app, seed_model):
    client = make_app(ratelimit_enabled=False, ratelimit_predict="1 per minute").test_client()
    statuses = {
        client.post("/api/v1/predict", json={"review": REVIEW}).status_code for _ in range(5)
    }
    assert statuses == {200}


def test_rate_limits_hold_in_memory_while_redis_is_unreachable(make_app, seed_model, caplog):
    client = make_app(
        ratelimit_enabled=True,
        # Nothing listens on port 1: every call to the storage is refused.
        ratelimit_storage_uri="redis://127.0.0.1:1/0",
        ratelimit_predict="2 per minute",
    ).test_client()
    statuses = [
        client.post("/api/v1/predict", json={"review": REVIEW}).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert "falling back to in-memory storage" in caplog.text


@pytest.fixture
def redis_uri():
    import redis

    uri = "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(uri)
    try:
        client.ping()
    except redis.ConnectionError:
        (pytest.fail if REQUIRE_ALL else pytest.skip)("Redis not reachable at 127.0.0.1:6379")
    prefix = f"mc-test-{uuid.uuid4().hex[:12]}"
    yield uri, prefix
    keys = list(client.scan_iter(match=f"*{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_redis_storage_shares_the_count_between_workers(make_app, seed_model, redis_uri):
    import redis

    uri, prefix = redis_uri
    shared = {
        "ratelimit_enabled": True,
        "ratelimit_storage_uri": uri,
        "ratelimit_key_prefix": prefix,
        "ratelimit_predict": "3 per minute",
    }
    # Two apps stand for two gunicorn workers: each has its own memory, the count is shared.
    first, second = make_app(**shared).test_client(), make_app(**shared).test_client()
    statuses = [
        client.post("/api/v1/predict", json={"review": REVIEW}).status_code
        for client in (first, second, first, second)
    ]
    assert statuses == [200, 200, 200, 429]
    assert list(redis.Redis.from_url(uri).scan_iter(match=f"*{prefix}*"))
