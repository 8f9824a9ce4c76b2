"""Parity: the API answers exactly what the model in the store answers, after the same
feedback and retrain steps (chantilly's scenario tests)."""

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from movieclassifier import feedback, model_store, retrain

PROBES = ["a fine and moving film", "dull, stupid and far too long", "it was a film"]


def _api_answers(client, reviews):
    response = client.post("/api/v1/predict", json={"reviews": reviews})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["model_version"], [(p["label"], p["probability"]) for p in body["predictions"]]


def _store_answers(settings, sessions, reviews):
    with sessions() as session:
        model = model_store.load_current(session, settings.model_dir)
    return model.version, [(p.label, p.probability) for p in model.predict(reviews)]


def test_api_matches_the_stored_model_after_feedback_and_retrain(
    client, settings, engine, sessions, seed_model
):
    assert _api_answers(client, PROBES) == _store_answers(settings, sessions, PROBES)
    reviews = POSITIVE_REVIEWS[:3] + NEGATIVE_REVIEWS[:3]
    first = _api_answers(client, reviews)[1]
    tracked = client.post("/api/v1/predict", json={"reviews": reviews, "track": True})
    ids = [p["prediction_id"] for p in tracked.get_json()["predictions"]]
    # Every answer says "incorrect": the retrained model must move away from the first one.
    for prediction_id in ids:
        answer = client.post(
            "/api/v1/feedback", json={"prediction_id": prediction_id, "correct": False}
        )
        assert answer.status_code == 201
    # Answers against a confident model are quarantined by the screen; an operator's
    # approval lets them through, so the retrain learns every one.
    screened = retrain.retrain(engine, settings)
    assert screened.quarantined == len(ids)
    with sessions.begin() as session:
        feedback.approve(session, version=seed_model)
    report = retrain.retrain(engine, settings)
    assert report.learned == len(ids) and report.version != seed_model

    version, answers = _api_answers(client, PROBES)
    assert (version, answers) == _store_answers(settings, sessions, PROBES)
    assert version == report.version
    for (label, probability), (new_label, new_probability) in zip(
        first, _api_answers(client, reviews)[1], strict=True
    ):
        # The first answer was marked incorrect: the new model is less sure of it.
        still = new_probability if new_label == label else 1 - new_probability
        assert still < probability
