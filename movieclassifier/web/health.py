"""Liveness and readiness: ``GET /healthz`` and ``GET /readyz``.

Ready means this worker has a model in memory (it loads one when it has none) and the
database answers. Before the first model is published ``/readyz`` is 503 with the hint to
train one, so a load balancer sends no traffic to a server that can only answer 503.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from movieclassifier.model_cache import NoServableModel
from movieclassifier.web import database, serving

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """The process is up; checks nothing else."""
    return jsonify({"ok": True})


def _not_ready(message: str, database: str, version: int | None = None):  # type: ignore[no-untyped-def]
    body = {
        "ok": False,
        "error": message,
        "status": 503,
        "database": database,
        "model_version": version,
    }
    return jsonify(body), 503


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """Ready when the database answers and this worker has a model loaded."""
    try:
        with database.get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("readyz: database unreachable: %s", exc)
        return _not_ready(f"database unreachable ({exc.__class__.__name__})", "unreachable")
    try:
        model = serving.current_model()
    except NoServableModel as exc:
        return _not_ready(str(exc), "ok")
    except SQLAlchemyError as exc:
        log.warning("readyz: model registry unreadable: %s", exc)
        return _not_ready(f"model registry unreadable ({exc.__class__.__name__})", "unreachable")
    return jsonify({"ok": True, "database": "ok", "model_version": model.version})
