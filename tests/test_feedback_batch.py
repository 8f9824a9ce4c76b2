"""Batch feedback: ``POST /api/v1/feedback`` with ``{"answers": [...]}``, all or nothing.

On SQLite and PostgreSQL (the ``client`` fixture's database).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from movieclassifier.schema import Feedback


def tracked(client, reviews):
    body = client.post("/api/v1/predict", json={"reviews": reviews, "track": True}).get_json()
    return [item["prediction_id"] for item in body["predictions"]]


def answers_stored(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Feedback))


def test_a_batch_of_answers_is_stored_in_order(client, seed_model, sessions):
    references = tracked(client, POSITIVE_REVIEWS[:3])
    answers = [{"prediction_id": r, "correct": i != 1} for i, r in enumerate(references)]
    response = client.post("/api/v1/feedback", json={"answers": answers})
    assert response.status_code == 201
    body = response.get_json()
    assert [a["prediction_id"] for a in body["answers"]] == references
    assert [a["correct"] for a in body["answers"]] == [True, False, True]
    assert [a["label"] for a in body["answers"]] == ["positive", "negative", "positive"]
    assert answers_stored(sessions) == 3


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"prediction_id": "x", "correct": "yes"}, "'answers[1].correct' must be a boolean"),
        ({"correct": True}, "'answers[1].prediction_id' is required"),
        ({"prediction_id": 7, "correct": True}, "'answers[1].prediction_id' must be a string"),
        ({"prediction_id": "x", "correct": True, "why": 1}, "unknown field 'answers[1].why'"),
        ("yes", "'answers[1]' must be an object"),
    ],
)
def test_a_bad_answer_in_the_middle_stores_nothing(client, seed_model, sessions, bad, message):
    references = tracked(client, POSITIVE_REVIEWS[:2])
    good = [{"prediction_id": r, "correct": True} for r in references]
    response = client.post("/api/v1/feedback", json={"answers": [good[0], bad, good[1]]})
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert answers_stored(sessions) == 0


def test_an_unknown_reference_in_the_middle_stores_nothing(client, seed_model, sessions):
    references = tracked(client, NEGATIVE_REVIEWS[:2])
    answers = [
        {"prediction_id": references[0], "correct": True},
        {"prediction_id": "no-such-reference-at-all-xyz", "correct": True},
        {"prediction_id": references[1], "correct": False},
    ]
    response = client.post("/api/v1/feedback", json={"answers": answers})
    assert response.status_code == 404
    assert response.get_json()["error"].startswith("answers[1]: ")
    assert answers_stored(sessions) == 0


def test_an_answer_already_learned_in_a_batch_is_a_conflict(client, seed_model, sessions):
    references = tracked(client, POSITIVE_REVIEWS[:2])
    client.post("/api/v1/feedback", json={"prediction_id": references[1], "correct": True})
    with sessions.begin() as session:
        session.execute(Feedback.__table__.update().values(status="learned"))
    answers = [{"prediction_id": r, "correct": False} for r in references]
    response = client.post("/api/v1/feedback", json={"answers": answers})
    assert response.status_code == 409
    assert response.get_json()["error"].startswith("answers[1]: ")
    assert answers_stored(sessions) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"answers": []}, "'answers' must hold 1 to"),
        ({"answers": {}}, "'answers' must be an array of objects"),
        ({"answers": [], "correct": True}, "give either 'answers'"),
    ],
)
def test_the_batch_itself_must_be_well_formed(client, seed_model, body, message):
    response = client.post("/api/v1/feedback", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_a_batch_holds_at_most_max_batch_answers(make_app, seed_model):
    client = make_app(max_batch=2).test_client()
    answers = [{"prediction_id": "x", "correct": True}] * 3
    response = client.post("/api/v1/feedback", json={"answers": answers})
    assert response.status_code == 400
    assert "'answers' must hold 1 to 2 answers, got 3" in response.get_json()["error"]


def test_the_openapi_document_describes_batch_feedback(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    request = schemas["FeedbackRequest"]
    assert request["properties"]["answers"]["items"] == {"$ref": "#/components/schemas/Answer"}
    assert {"required": ["answers"]} in request["oneOf"]
    assert "FeedbackBatch" in schemas
