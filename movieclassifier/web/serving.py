"""Classifying reviews in a request: the worker's model cache, storing what was shown.

Each worker process has one ``model_cache.ModelCache`` (the core's); this module gives it
the request's database session and counts what it does in the metrics. It also says who
a request comes from (``api_source``, ``page_source``) as the keyed hash that is stored.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app, request, session

from movieclassifier import feedback
from movieclassifier.explaining import Explanation
from movieclassifier.model import LABELS, Prediction, SentimentModel
from movieclassifier.model_cache import ModelCache
from movieclassifier.schema import Feedback, StoredPrediction, iso_utc
from movieclassifier.web import database, metrics
from movieclassifier.web.errors import Conflict, NotFound

# The key of the page session's random id in the (signed) session cookie.
PAGE_SESSION_KEY = "page_session"


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


def classify(
    reviews: Sequence[str], channel: str, model: SentimentModel | None = None
) -> list[Prediction]:
    """Predict ``reviews`` in one vectorized call; count them and time it.

    ``model`` is this worker's current model unless given (to explain with the same one).
    """
    model = model or current_model()
    started = time.perf_counter()
    predictions = model.predict(reviews)
    metrics.observe_predict_latency(time.perf_counter() - started)
    metrics.record_predictions(channel, [p.label for p in predictions])
    return predictions


def _secret_key() -> str:
    return str(current_app.extensions["movieclassifier.settings"].secret_key)


def api_source() -> str:
    """The keyed hash of the API client's address.

    ``request.remote_addr`` is the client's address as the app's ``ProxyFix`` (the
    ``TRUSTED_PROXIES`` setting) reads it.
    """
    return feedback.source_hash(_secret_key(), f"api:{request.remote_addr or ''}")


def page_source() -> str | None:
    """The keyed hash of this browser's page session; None when it has none yet."""
    if PAGE_SESSION_KEY not in session:
        return None
    return feedback.source_hash(_secret_key(), f"page:{session[PAGE_SESSION_KEY]}")


def start_page_source() -> str:
    """``page_source``, giving a session without an id a fresh random one first.

    The id lives in the signed session cookie, so the predictions stored under it can be
    answered from this browser only.
    """
    if PAGE_SESSION_KEY not in session:
        session[PAGE_SESSION_KEY] = secrets.token_urlsafe(16)
    return feedback.source_hash(_secret_key(), f"page:{session[PAGE_SESSION_KEY]}")


def explanation_json(explanation: Explanation, top: int) -> list[dict[str, Any]]:
    """The ``top`` strongest phrases of an explanation as the API gives them."""
    return [
        {"text": phrase.text, "weight": round(phrase.weight, 6)} for phrase in explanation.top(top)
    ]


def classify_and_store(
    reviews: Sequence[str], channel: str, source: str, model: SentimentModel | None = None
) -> tuple[list[Prediction], list[str]]:
    """Predict ``reviews``, store what was shown, commit, and return their references."""
    predictions = classify(reviews, channel, model)
    db_session = database.get_session()
    rows = feedback.store_predictions(db_session, reviews, predictions, channel, source)
    references = [row.reference for row in rows]
    db_session.commit()
    return predictions, references


# Only a stored prediction has a reference: an API client that forgot "track" learns why.
UNTRACKED_HINT = {
    feedback.API: " (predict stores a prediction, and returns its reference, only with "
    '"track": true)'
}


def unknown_reference(reference: str, channel: str) -> NotFound:
    """The one 404 for a reference that names nothing, or nothing this sender may answer."""
    shown = reference if len(reference) <= 40 else reference[:40] + "…"
    return NotFound(
        f"'prediction_id' \"{shown}\" does not name a prediction you can answer"
        + UNTRACKED_HINT.get(channel, "")
    )


def record_feedback(
    reference: str, correct: bool, channel: str, source: str | None
) -> tuple[StoredPrediction, Feedback]:
    """Store the answer from ``source`` and commit (shared with the page's form).

    Raises:
        NotFound: no stored prediction has that reference, or this sender may not answer it.
        Conflict: the earlier answer was already learned.
    """
    return record_feedback_batch([(reference, correct)], channel, source, named=False)[0]


def record_feedback_batch(
    answers: Sequence[tuple[str, bool]], channel: str, source: str | None, named: bool = True
) -> list[tuple[StoredPrediction, Feedback]]:
    """Store every answer from ``source`` in one transaction, or none; with ``named``, an
    error names the answer by its index (``answers[i]: ...``).

    Rows are locked in the order of their references, so two batches naming the same
    predictions cannot deadlock; a reference named twice keeps its last answer.

    Raises:
        NotFound: an answer names nothing, or nothing this sender may answer.
        Conflict: the earlier answer to one was already learned.
    """
    db_session = database.get_session()
    stored: dict[int, tuple[StoredPrediction, Feedback]] = {}
    for index in sorted(range(len(answers)), key=lambda i: (answers[i][0], i)):
        reference, correct = answers[index]
        named_as = f"answers[{index}]: " if named else ""
        try:
            stored[index] = feedback.answer(db_session, reference, correct, channel, source)
        except feedback.UnknownPrediction as exc:
            db_session.rollback()
            error = unknown_reference(reference, channel)
            raise NotFound(named_as + error.message) from exc
        except feedback.AlreadyLearned as exc:
            db_session.rollback()
            raise Conflict(f"{named_as}{exc}") from exc
    db_session.commit()
    for _, correct in answers:
        metrics.record_feedback(correct)
    return [stored[index] for index in range(len(answers))]


def feedback_json(prediction: StoredPrediction, row: Feedback) -> dict[str, Any]:
    """A stored feedback row as the API, and the result page's script, show it."""
    return {
        "id": row.id,
        "prediction_id": prediction.reference,
        "correct": row.correct,
        "label": LABELS[row.label],
        "status": row.status,
        "created_at": iso_utc(row.created_at),
    }
