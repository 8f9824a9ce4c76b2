"""When the database goes away: predictions go on from memory, the rest answers 503.

A worker's model is in memory, so classifying a review needs no database; storing one,
recording feedback and listing versions do. Those answer 503 with ``Retry-After`` in the
usual shapes, never a 500. The dashboard, ``/readyz``, ``/metrics`` and the commands each
ask ``db.database_unavailable`` and say so in their own way; a database error that is not
an outage is a bug on every surface, never reported as one. The database is taken away
for real: PostgreSQL's is dropped (its connections killed), SQLite's file is replaced by a
directory it cannot open.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from databases import drop_postgresql_database
from movieclassifier.db import database_unavailable

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
        ("post", "/api/v1/feedback", {"prediction_id": "k" * 22, "correct": True}),
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


# Every other surface asks the same question (``db.database_unavailable``) and documents
# what it does with the answer; each decision is checked here, outage first.


def test_the_dashboard_is_a_503_page_that_says_when_to_retry(served_app):
    response = served_app.test_client().get("/dashboard")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "The database cannot be read right now" in response.get_data(as_text=True)


def test_readyz_is_not_ready_and_says_unreachable(served_app):
    response = served_app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "unreachable"
    assert body["error"].startswith("database unreachable (")


def test_metrics_still_answer_with_database_up_0_and_a_warning(served_app, caplog):
    with caplog.at_level(logging.WARNING, logger="movieclassifier.web.metrics"):
        response = served_app.test_client().get("/metrics")
    assert response.status_code == 200
    assert "movieclassifier_database_up 0.0" in response.get_data(as_text=True)
    records = [r for r in caplog.records if r.name == "movieclassifier.web.metrics"]
    assert records and all(r.levelno == logging.WARNING and not r.exc_info for r in records)


def test_a_command_says_so_in_one_line(served_app, settings, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("APP_ENV", "testing")
    result = served_app.test_cli_runner().invoke(args=["versions"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: the database ") and "is unavailable: " in result.output
    assert "Traceback" not in result.output


# A database error that is not an outage (here a table gone under the running app) is a
# bug: no surface may report it as "unavailable, try again".


def drop_table(engine, table):
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {table}"))


def test_a_bug_on_the_dashboard_is_a_500_not_an_outage(client, engine):
    drop_table(engine, "feedback")
    response = client.get("/dashboard")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    assert "Internal server error" in response.get_data(as_text=True)


def test_a_bug_behind_readyz_is_not_ready_but_not_unreachable(client, engine, caplog):
    drop_table(engine, "current_model")
    with caplog.at_level(logging.WARNING, logger="movieclassifier.web.health"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "error"
    assert body["error"].startswith("model registry error (")
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


def test_a_bug_behind_metrics_is_logged_with_its_traceback(client, engine, caplog):
    drop_table(engine, "retrain_runs")
    with caplog.at_level(logging.WARNING, logger="movieclassifier.web.metrics"):
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "movieclassifier_database_up 0.0" in response.get_data(as_text=True)
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


def test_a_bug_in_a_command_is_a_traceback_not_one_line(app, settings, engine, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("APP_ENV", "testing")
    drop_table(engine, "feedback")
    result = app.test_cli_runner().invoke(args=["quarantine", "list"])
    assert result.exit_code == 1
    assert "is unavailable" not in result.output
    assert isinstance(result.exception, DBAPIError)
    assert not database_unavailable(result.exception)
