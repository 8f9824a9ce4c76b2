"""When the database goes away: predictions go on from memory, the rest answers 503.

A worker's model is in memory, so classifying a review needs no database; storing one,
recording feedback and listing versions do. Those answer 503 with ``Retry-After`` in the
usual shapes, never a 500. The database is taken away for real: PostgreSQL's is dropped
(its connections killed), SQLite's file is replaced by a directory it cannot open.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from conftest import drop_postgresql_database

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."


def take_database_away(app, database_url: str) -> None:
    if database_url.startswith("postgresql"):
        drop_postgresql_database(database_url)
        return
    path = Path(make_url(database_url).database)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()  # "unable to open database file" from now on
    app.extensions["movieclassifier.engine"].dispose()  # no pooled connection to the old file


@pytest.fixture
def served_app(make_app, seed_model, database_url):
    app = make_app()  # checks the registry on every request (MODEL_RELOAD_SECONDS=0)
    client = app.test_client()
    assert client.post("/api/v1/predict", json={"review": REVIEW}).status_code == 200
    take_database_away(app, database_url)
    yield app
    path = make_url(database_url).database
    if not database_url.startswith("postgresql") and Path(path).is_dir():
        shutil.rmtree(path)


def test_predictions_go_on_from_memory(served_app, seed_model, caplog):
    client = served_app.test_client()
    with caplog.at_level(logging.WARNING, logger="movieclassifier.serving"):
        answers = [client.post("/api/v1/predict", json={"review": REVIEW}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json()["model_version"] == seed_model
    assert f"still serving version {seed_model}" in caplog.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/predict", {"review": REVIEW, "track": True}),
        ("post", "/api/v1/feedback", {"prediction_id": 1, "correct": True}),
        ("get", "/api/v1/model", None),
        ("get", "/api/v1/models", None),
    ],
)
def test_what_needs_the_database_is_503_with_retry_after(served_app, method, path, body):
    response = getattr(served_app.test_client(), method)(path, json=body)
    assert response.status_code == 503
    assert response.get_json() == {
        "ok": False,
        "status": 503,
        "error": "The database is unavailable right now; try again in a few seconds",
    }
    assert response.headers["Retry-After"] == "5"


def test_the_review_form_shows_an_error_page(served_app):
    served_app.config["WTF_CSRF_ENABLED"] = False
    response = served_app.test_client().post("/", data={"review": REVIEW})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "The database is unavailable right now" in response.get_data(as_text=True)
