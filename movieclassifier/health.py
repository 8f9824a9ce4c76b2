"""Liveness and readiness: ``GET /healthz`` and ``GET /readyz``."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from movieclassifier import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """The process is up; checks nothing else."""
    return jsonify({"ok": True})


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """Ready when the database answers; reports which model version is current."""
    from movieclassifier import model_store

    try:
        with db.get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        version = model_store.current_version(db.get_session())
    except SQLAlchemyError as exc:
        return jsonify(
            {
                "ok": False,
                "database": "unreachable",
                "error": str(exc.__class__.__name__),
                "status": 503,
            }
        ), 503
    return jsonify({"ok": True, "database": "ok", "model_version": version})
