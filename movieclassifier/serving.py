"""The model each worker serves from memory, and classifying reviews with it.

A worker loads the current version once and keeps it. At most every
``MODEL_RELOAD_SECONDS`` it asks the registry which version is current (one tiny query)
and loads that one when it differs, newer or older (a rollback). When loading fails, or
the database does not answer, it keeps serving the model it has and logs why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.orm import Session

from movieclassifier import db, feedback, metrics, model_store
from movieclassifier.errors import (
    DATABASE_DOWN,
    Conflict,
    ModelUnavailable,
    NotFound,
    database_unavailable,
)
from movieclassifier.model import Prediction, SentimentModel
from movieclassifier.schema import Feedback

log = logging.getLogger(__name__)


class ModelCache:
    """One process's model, re-checked against the registry at most every ``reload_seconds``."""

    def __init__(
        self,
        model_dir: Path,
        reload_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model_dir = model_dir
        self.reload_seconds = reload_seconds
        self._clock = clock
        self._model: SentimentModel | None = None
        self._checked_at: float | None = None
        # The version that last failed to load and when: not retried (re-read, re-hashed)
        # on every request, only once per reload interval.
        self._failed: tuple[int, float] | None = None
        self._lock = threading.Lock()
        self.checks = 0
        self.loads = 0

    @property
    def model(self) -> SentimentModel | None:
        """The model in memory now (None before the first successful load)."""
        return self._model

    def get(self, session: Session | Callable[[], Session]) -> SentimentModel:
        """The model to serve, reloaded first when the registry has moved to another version.

        ``session`` may be a callable, so that no session is opened when no check is due.

        Raises:
            ModelUnavailable: no version is published, or the first load failed.
        """
        model = self._model
        if model is not None and not self._check_due():
            return model
        with self._lock:
            if self._model is None or self._check_due():
                self._refresh(session() if callable(session) else session)
        if self._model is None:
            raise ModelUnavailable(f"no model has been published yet; {model_store.TRAIN_HINT}")
        return self._model

    def _check_due(self) -> bool:
        if self._checked_at is None:
            return True
        return self._clock() - self._checked_at >= self.reload_seconds

    def _refresh(self, session: Session) -> None:
        now = self._checked_at = self._clock()
        self.checks += 1
        try:
            version = model_store.current_version(session)
        except DATABASE_DOWN as exc:
            if self._model is None or not database_unavailable(exc):
                raise
            # Predicting needs no database: keep serving, ask again at the next interval.
            session.rollback()
            log.warning("model registry unreachable, still serving version %s", self._model.version)
            return
        if version is None or (self._model is not None and self._model.version == version):
            return
        if (
            self._failed
            and self._failed[0] == version
            and now - self._failed[1] < max(self.reload_seconds, 1e-9)
        ):
            if self._model is None:
                raise ModelUnavailable(f"model version {version} cannot be loaded; see the log")
            return
        try:
            loaded = model_store.load(session, version, self.model_dir)
        except model_store.ModelStoreError as exc:
            self._failed = (version, now)
            self._load_failed(version, exc)
            return
        old = None if self._model is None else self._model.version
        self._model, self._failed = loaded, None
        self.loads += 1
        metrics.record_model_loaded(version)
        log.info("serving model version %s (was %s)", version, old)

    def _load_failed(self, version: int, exc: model_store.ModelStoreError) -> None:
        if self._model is None:
            log.error("model version %s cannot be loaded: %s", version, exc)
            raise ModelUnavailable(f"model version {version} cannot be loaded: {exc}") from exc
        log.error(
            "model version %s cannot be loaded, still serving version %s: %s",
            version,
            self._model.version,
            exc,
        )


def init_app(app: Flask) -> None:
    """Give ``app`` its own model cache (one per worker process)."""
    settings = app.extensions["movieclassifier.settings"]
    app.extensions["movieclassifier.models"] = ModelCache(
        settings.model_dir, settings.model_reload_seconds
    )


def model_cache() -> ModelCache:
    return current_app.extensions["movieclassifier.models"]  # type: ignore[no-any-return]


def current_model() -> SentimentModel:
    """The model this worker serves now.

    Raises:
        ModelUnavailable: no model is published yet (503 with a hint to train one).
    """
    return model_cache().get(db.get_session)


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
    session = db.get_session()
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
    session = db.get_session()
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
