"""The model one process serves from memory, re-checked against the registry.

A process loads the current version once and keeps it. At most every
``reload_seconds`` it asks the registry which version is current (one tiny query) and
loads that one when it differs, newer or older (a rollback). When loading fails, or the
database does not answer, it keeps serving the model it has and logs why
(docs/DESIGN.md, invariant 4).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from movieclassifier import model_store
from movieclassifier.db import DATABASE_DOWN, database_unavailable
from movieclassifier.model import SentimentModel

log = logging.getLogger(__name__)


class NoServableModel(model_store.ModelStoreError):
    """No model can be served: none is published yet, or the first one cannot be loaded."""


class ModelCache:
    """One process's model, re-checked against the registry at most every ``reload_seconds``."""

    def __init__(
        self,
        model_dir: Path,
        reload_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_load: Callable[[int], None] = lambda version: None,
    ) -> None:
        self.model_dir = model_dir
        self.reload_seconds = reload_seconds
        self._clock = clock
        # Told the version each time one is loaded (the web layer's metrics gauge).
        self._on_load = on_load
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
            NoServableModel: no version is published, or the first load failed.
        """
        model = self._model
        if model is not None and not self._check_due():
            return model
        with self._lock:
            if self._model is None or self._check_due():
                self._refresh(session() if callable(session) else session)
        if self._model is None:
            raise NoServableModel(f"no model has been published yet; {model_store.TRAIN_HINT}")
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
                raise NoServableModel(f"model version {version} cannot be loaded; see the log")
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
        self._on_load(version)
        log.info("serving model version %s (was %s)", version, old)

    def _load_failed(self, version: int, exc: model_store.ModelStoreError) -> None:
        if self._model is None:
            log.error("model version %s cannot be loaded: %s", version, exc)
            raise NoServableModel(f"model version {version} cannot be loaded: {exc}") from exc
        log.error(
            "model version %s cannot be loaded, still serving version %s: %s",
            version,
            self._model.version,
            exc,
        )
