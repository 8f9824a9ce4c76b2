"""Liveness and readiness: ``GET /healthz`` and ``GET /readyz``.

Ready means this worker has a model in memory (it loads one when it has none) and the
database answers. Before the first model is published ``/readyz`` is 503 with the hint to
train one, so a load balancer sends no traffic to a server that can only answer 503.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from movieclassifier.db import database_unavailable
from movieclassifier.model_cache import NoServableModel
from movieclassifier.web import database, serving

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up; checks nothing else."""
    return jsonify({"ok": True})


def _not_ready(message: str, database: str, version: int | None = None) -> ResponseReturnValue:
    body = {
        "ok": False,
        "error": message,
        "status": 503,
        "database": database,
        "model_version": version,
    }
    return jsonify(body), 503


def _database_not_ready(outage: str, what: str, error: SQLAlchemyError) -> ResponseReturnValue:
    """Any database error makes this worker not ready (503): a balancer must send it no
    traffic. ``db.database_unavailable`` says which: an outage is reported as ``outage``
    with "unreachable" (a warning; it should pass); anything else (a bug, no schema) as an
    error of ``what`` with "error", logged with its traceback, never as an outage."""
    name = error.__class__.__name__
    if database_unavailable(error):
        log.warning("readyz: %s: %s", outage, error)
        return _not_ready(f"{outage} ({name})", "unreachable")
    log.error("readyz: %s error", what, exc_info=error)
    return _not_ready(f"{what} error ({name}); see the log", "error")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready when the database answers and this worker has a model loaded."""
    try:
        with database.get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return _database_not_ready("database unreachable", "database", exc)
    try:
        model = serving.current_model()
    except NoServableModel as exc:
        return _not_ready(str(exc), "ok")
    except SQLAlchemyError as exc:
        return _database_not_ready("model registry unreadable", "model registry", exc)
    return jsonify({"ok": True, "database": "ok", "model_version": model.version})
