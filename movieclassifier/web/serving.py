"""Classifying reviews in a request: the worker's model cache, storing what was shown.

Each worker process has one ``model_cache.ModelCache`` (the core's); this module gives it
the request's database session and counts what it does in the metrics.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app

from movieclassifier import feedback
from movieclassifier.model import LABELS, Prediction, SentimentModel
from movieclassifier.model_cache import ModelCache
from movieclassifier.schema import Feedback, iso_utc
from movieclassifier.web import database, metrics
from movieclassifier.web.errors import Conflict, NotFound


def init_app(app: Flask) -> None:
    """Give ``app`` its own model cache (one per worker process)."""
    settings = app.extensions["movieclassifier.settings"]
    app.extensions["movieclassifier.models"] = ModelCache(
        settings.model_dir, settings.model_reload_seconds, on_load=metrics.record_model_loaded
    )


def model_cache() -> ModelCache:
    return current_app.extensions["movieclassifier.models"]


def current_model() -> SentimentModel:
    """The model this worker serves now.

    Raises:
        NoServableModel: no model is published yet (503 with a hint to train one).
    """
    return model_cache().get(database.get_session)


def classify(reviews: Sequence[str], channel: str) -> list[Prediction]:
    """Predict ``reviews`` in one vectorized call; count them and time it."""
    model = current_model()
    started = time.perf_counter()
    predictions = model.predict(reviews)
    metrics.observe_predict_latency(time.perf_counter() - started)
    metrics.record_predictions(channel, [p.label for p in predictions])
    return predictions


def classify_and_store(reviews: Sequence[str], channel: str) -> tuple[list[Prediction], list[int]]:
    """Predict ``reviews``, store what was shown, commit, and return the stored ids."""
    predictions = classify(reviews, channel)
    session = database.get_session()
    rows = feedback.store_predictions(session, reviews, predictions, channel)
    ids = [row.id for row in rows]
    session.commit()
    return predictions, ids


def record_feedback(prediction_id: int, correct: bool) -> Feedback:
    """Store the answer and commit (shared with the page's form).

    Raises:
        NotFound: no stored prediction has that id.
        Conflict: the earlier answer was already learned.
    """
    session = database.get_session()
    try:
        row = feedback.add(session, prediction_id, correct)
    except feedback.UnknownPrediction as exc:
        session.rollback()
        message = f"'prediction_id' {prediction_id} does not name a stored prediction"
        raise NotFound(message) from exc
    except feedback.AlreadyLearned as exc:
        session.rollback()
        raise Conflict(str(exc)) from exc
    session.commit()
    metrics.record_feedback(correct)
    return row


def feedback_json(row: Feedback) -> dict[str, Any]:
    """A stored feedback row as the API, and the result page's script, show it."""
    return {
        "id": row.id,
        "prediction_id": row.prediction_id,
        "correct": row.correct,
        "label": LABELS[row.label],
        "status": row.status,
        "created_at": iso_utc(row.created_at),
    }
