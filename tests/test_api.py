"""The JSON API on both backends: predict, feedback, model versions, health, OpenAPI."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS, train_tiny_model
from movieclassifier import create_app, db, features, feedback, model_store
from movieclassifier.schema import LEARNED, PROMOTED, Feedback, StoredPrediction

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."


def publish(settings, sessions, seed=1):
    model = train_tiny_model(seed)
    written = model_store.write(model, settings.model_dir)
    with sessions.begin() as session:
        return model_store.register(session, written, model, status=PROMOTED, source="test").version


def count_predictions(sessions):
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(StoredPrediction))


def stored(session, reference):
    return session.scalar(select(StoredPrediction).where(StoredPrediction.reference == reference))


def test_predict_one_review(client, seed_model, sessions):
    response = client.post("/api/v1/predict", json={"review": REVIEW})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert body["model_version"] == seed_model
    [item] = body["predictions"]
    assert item["label"] == "positive"
    assert 0.5 <= item["probability"] <= 1
    assert item["prediction_id"] is None
    assert count_predictions(sessions) == 0


def test_predict_batch_matches_the_model_in_process(client, seed_model, tiny_model):
    reviews = POSITIVE_REVIEWS[:3] + NEGATIVE_REVIEWS[:3]
    body = client.post("/api/v1/predict", json={"reviews": reviews}).get_json()
    expected = tiny_model.predict(reviews)
    assert [p["label"] for p in body["predictions"]] == [p.label for p in expected]
    assert [p["probability"] for p in body["predictions"]] == [p.probability for p in expected]
    assert [p["label"] for p in body["predictions"]] == ["positive"] * 3 + ["negative"] * 3


def test_predict_with_track_stores_each_prediction(client, seed_model, sessions):
    reviews = [POSITIVE_REVIEWS[0], NEGATIVE_REVIEWS[0]]
    body = client.post("/api/v1/predict", json={"reviews": reviews, "track": True}).get_json()
    references = [item["prediction_id"] for item in body["predictions"]]
    assert all(feedback.REFERENCE_PATTERN.fullmatch(r) for r in references)
    assert len(set(references)) == 2
    with sessions() as session:
        rows = [stored(session, reference) for reference in references]
        assert [row.review for row in rows] == reviews
        assert [row.label for row in rows] == ["positive", "negative"]
        assert {row.channel for row in rows} == {"api"}
        assert {row.model_version for row in rows} == {seed_model}
        assert [row.probability for row in rows] == [
            item["probability"] for item in body["predictions"]
        ]


def test_predict_with_track_false_stores_nothing(client, seed_model, sessions):
    body = client.post("/api/v1/predict", json={"review": REVIEW, "track": False}).get_json()
    assert body["predictions"][0]["prediction_id"] is None
    assert count_predictions(sessions) == 0


def tracked_id(client, review=REVIEW):
    body = client.post("/api/v1/predict", json={"review": review, "track": True}).get_json()
    return body["predictions"][0]["prediction_id"]


def test_feedback_answers_201_with_the_committed_row(client, seed_model, settings):
    prediction_id = tracked_id(client)
    assert isinstance(prediction_id, str)
    response = client.post(
        "/api/v1/feedback", json={"prediction_id": prediction_id, "correct": False}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["ok"] is True
    assert body["prediction_id"] == prediction_id
    assert body["correct"] is False
    # Predicted positive and marked incorrect: the confirmed label is the other one.
    assert body["label"] == "negative"
    assert body["status"] == "pending"
    assert body["created_at"]
    # Committed: a connection of its own (another process, in effect) sees it.
    other = db.make_engine(settings.database_url)
    try:
        with db.make_session_factory(other)() as session:
            row = session.get(Feedback, body["id"])
            assert (row.correct, row.label) == (False, 0)
            assert row.prediction_id == stored(session, prediction_id).id
    finally:
        other.dispose()


def test_second_answer_replaces_the_first_while_pending(client, seed_model, sessions):
    prediction_id = tracked_id(client)
    first = client.post("/api/v1/feedback", json={"prediction_id": prediction_id, "correct": True})
    second = client.post(
        "/api/v1/feedback", json={"prediction_id": prediction_id, "correct": False}
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.get_json()["label"] == "negative"
    with sessions() as session:
        rows = session.scalars(select(Feedback)).all()
        assert [(row.correct, row.label) for row in rows] == [(False, 0)]


def test_answer_after_it_was_learned_is_409(client, seed_model, sessions):
    prediction_id = tracked_id(client)
    client.post("/api/v1/feedback", json={"prediction_id": prediction_id, "correct": True})
    with sessions.begin() as session:
        row = session.scalar(select(Feedback))
        row.status = LEARNED
        row.learned_version = seed_model
    response = client.post(
        "/api/v1/feedback", json={"prediction_id": prediction_id, "correct": False}
    )
    assert response.status_code == 409
    assert response.get_json() == {
        "ok": False,
        "status": 409,
        "error": f"the answer to prediction {prediction_id} is already learned; "
        "it can no longer change",
    }
    with sessions() as session:
        assert session.scalar(select(Feedback.correct)) is True


def test_feedback_for_an_unknown_prediction_is_404(client, seed_model):
    guess = "x" * 22
    response = client.post("/api/v1/feedback", json={"prediction_id": guess, "correct": True})
    assert response.status_code == 404
    assert response.get_json()["error"] == (
        f"'prediction_id' \"{guess}\" does not name a prediction you can answer (predict "
        'stores a prediction, and returns its reference, only with "track": true)'
    )


def test_feedback_with_an_integer_id_says_it_takes_the_reference(client, seed_model):
    tracked_id(client)
    response = client.post("/api/v1/feedback", json={"prediction_id": 1, "correct": True})
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "'prediction_id' must be a string (the reference that predict returned), got 1 (integer)"
    )


def test_model_describes_the_current_version(client, seed_model):
    body = client.get("/api/v1/model").get_json()
    assert body["ok"] is True
    assert body["version"] == seed_model
    assert body["status"] == "promoted"
    assert len(body["sha256"]) == 64
    assert body["feature_params"]["n_features"] > 0
    assert body["feature_backend"] == features.BACKEND.name


def test_model_says_when_the_python_features_serve(client, seed_model, monkeypatch):
    monkeypatch.setattr(features, "BACKEND", features.PYTHON_BACKEND)
    assert client.get("/api/v1/model").get_json()["feature_backend"] == "python"


def test_openapi_documents_the_feature_backend_of_the_served_model(client):
    document = client.get("/api/v1/openapi.json").get_json()
    ok = document["paths"]["/api/v1/model"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServedModel"
    }
    served = document["components"]["schemas"]["ServedModel"]
    assert {"version", "current_version", "feature_backend"} <= set(served["required"])
    assert served["properties"]["feature_backend"]["enum"] == ["c", "python"]


def test_an_app_on_the_python_features_logs_a_warning(settings, engine, monkeypatch, caplog):
    monkeypatch.setattr(features, "BACKEND", features.PYTHON_BACKEND)
    with caplog.at_level(logging.WARNING, logger="movieclassifier.features"):
        app = create_app(settings)
    app.extensions["movieclassifier.engine"].dispose()
    assert features.SLOW_WARNING in caplog.messages


@pytest.mark.skipif(features.C_BACKEND is None, reason="the C extension is not built")
def test_an_app_on_the_c_features_logs_no_warning(settings, engine, caplog):
    with caplog.at_level(logging.WARNING, logger="movieclassifier.features"):
        app = create_app(settings)
    app.extensions["movieclassifier.engine"].dispose()
    assert features.SLOW_WARNING not in caplog.messages


def test_model_reports_the_served_version_until_the_worker_reloads(
    make_app, seed_model, settings, sessions
):
    app = make_app(model_reload_seconds=3600)
    client = app.test_client()
    assert client.get("/api/v1/model").get_json()["version"] == seed_model
    second = publish(settings, sessions)
    body = client.get("/api/v1/model").get_json()
    # This worker checks the registry only once an hour: it still serves the first version.
    assert (body["version"], body["current_version"]) == (seed_model, second)


def test_models_lists_every_version_newest_first(client, seed_model, settings, sessions):
    second = publish(settings, sessions)
    body = client.get("/api/v1/models").get_json()
    assert body["current_version"] == second
    assert [m["version"] for m in body["models"]] == [second, seed_model]
    assert client.get("/api/v1/model").get_json()["version"] == second


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/predict", {"review": REVIEW}),
        ("get", "/api/v1/model", None),
        ("get", "/readyz", None),
    ],
)
def test_without_a_model_the_answer_is_503_with_how_to_train(client, method, path, body):
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 503
    assert "train_stream.py" in response.get_json()["error"]


def test_models_is_empty_before_the_first_model(client):
    assert client.get("/api/v1/models").get_json() == {
        "ok": True,
        "current_version": None,
        "models": [],
    }


def test_healthz_answers_without_a_model(client):
    assert client.get("/healthz").get_json() == {"ok": True}


def test_readyz_reports_the_loaded_version(client, seed_model):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "database": "ok", "model_version": seed_model}


def test_readyz_is_503_when_the_database_is_unreachable(make_app):
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    app = make_app(database_url=unreachable)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
    assert response.get_json()["error"].startswith("database unreachable")


def test_predict_picks_up_a_new_version_without_restart(client, seed_model, settings, sessions):
    assert client.post("/api/v1/predict", json={"review": REVIEW}).get_json()["model_version"] == 1
    second = publish(settings, sessions)
    body = client.post("/api/v1/predict", json={"review": REVIEW}).get_json()
    assert body["model_version"] == second


def api_routes(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/readyz"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((rule.rule, method.lower()))
    return routes


def test_openapi_document_matches_the_routes(client, app):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == api_routes(app)


def test_openapi_documents_the_reference_as_a_string(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("Prediction", "FeedbackRequest", "Feedback"):
        field = schemas[name]["properties"]["prediction_id"]
        assert field["type"] == "string"
        assert "unguessable" in field["description"]
    assert schemas["Prediction"]["properties"]["prediction_id"]["nullable"] is True


def test_openapi_document_carries_the_configured_limits(make_app):
    app = make_app(max_batch=7, max_review_chars=500)
    schemas = app.test_client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    predict = schemas["PredictRequest"]["properties"]
    assert predict["reviews"]["maxItems"] == 7
    assert predict["review"]["maxLength"] == 500


def test_feedback_time_carries_its_timezone(client, seed_model):
    prediction_id = tracked_id(client)
    body = client.post(
        "/api/v1/feedback", json={"prediction_id": prediction_id, "correct": True}
    ).get_json()
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert abs(datetime.now(UTC) - created) < timedelta(hours=1)


def test_predict_reads_a_chunked_body(client, seed_model):
    body = json.dumps({"review": REVIEW}).encode()
    response = client.post(
        "/api/v1/predict",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["predictions"][0]["label"] == "positive"


def test_predict_accepts_a_json_content_type_with_a_charset(client, seed_model):
    body = json.dumps({"review": REVIEW})
    response = client.post(
        "/api/v1/predict", data=body, content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200


def test_predict_accepts_text_beyond_ascii(client, seed_model):
    review = "Très beau film, une histoire magnifique ☺ — loved it."
    response = client.post("/api/v1/predict", json={"review": review})
    assert response.status_code == 200


def test_a_body_shorter_than_its_content_length_is_400(client, seed_model):
    body = json.dumps({"review": REVIEW}).encode()
    response = client.post(
        "/api/v1/predict",
        data=body,
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(len(body) + 10)},
    )
    assert response.status_code == 400
    assert response.get_json()["ok"] is False


def test_predict_answers_the_bytes_jsonify_would(client, seed_model, app):
    from flask import jsonify

    response = client.post("/api/v1/predict", json={"reviews": [REVIEW, NEGATIVE_REVIEWS[0]]})
    assert response.content_type == "application/json"
    with app.app_context():
        assert response.get_data() == jsonify(response.get_json()).get_data()


@pytest.mark.parametrize(
    "body",
    [
        b'{"review": "plain", "track": true}',
        b'{"reviews": ["caf\\u00e9 \\u263a", "tab\\tand \\"quotes\\""], "track": false}',
        '{"review": "Très beau ☺"}'.encode(),
        b'{"review": "first", "review": "last"}',
        b'{"review": "lone \\ud800 surrogate"}',
        b'{"review": NaN}',
        b'\xef\xbb\xbf{"review": "after a byte-order mark"}',
        b'{"review": 1e400}',
        b"[]",
        b'"just a string"',
    ],
)
def test_the_fast_parser_reads_what_json_reads(body):
    from movieclassifier.web.shortcuts import loads_fast

    expected = json.loads(body)
    parsed = loads_fast(body)
    # NaN is not equal to itself: compare the JSON they write back.
    assert json.dumps(parsed) == json.dumps(expected)


@pytest.mark.parametrize("body", [b"not json", b'{"review": "cut', b"\xff\xfe", b""])
def test_the_fast_parser_refuses_what_json_refuses(body):
    from movieclassifier.web.shortcuts import loads_fast

    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        loads_fast(body)
