"""The public dashboard: ``GET /dashboard`` (versions, feedback counts, live accuracy).

Only aggregates and registry facts are shown, never review text: anyone may open it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from movieclassifier import reliability, schema, stats
from movieclassifier.db import database_unavailable
from movieclassifier.web import chart, database

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)
# People reload a page; a slower retry than the API's is enough.
DATABASE_DOWN_RETRY_SECONDS = 30


@bp.get("/dashboard")
def dashboard() -> ResponseReturnValue:
    """What the service is doing: which model answers, how well, and what it learned."""
    session = database.get_session()
    try:
        versions = stats.versions(session)
        series = stats.live_accuracy(session)
        served = stats.current_version(session)
        return render_template(
            "dashboard.html",
            # Each prediction names a version: the total is the sum, without a second count.
            counts=stats.counts(session, predictions=sum(v.predictions for v in versions)),
            versions=versions,
            current=stats.current(versions),
            series=series,
            chart=chart.layout(series),
            reliability=_reliability(session, served),
            retrains=stats.retrain_history(session),
            recent=stats.recent_accuracy(session),
            as_utc=schema.as_utc,
        )
    except SQLAlchemyError as exc:
        return _database_trouble(exc)


def _reliability(
    session: Session, served: schema.ModelVersion | None
) -> chart.ReliabilityChart | None:
    """The reliability diagram of the version in service: its held-out rows (recorded when
    its calibration was fitted) and the live answers to its predictions."""
    if served is None:
        return None
    held = reliability.recorded_bins((served.details or {}).get("calibration"))
    return chart.reliability_layout(held, stats.live_reliability(session, served.version))


def _database_trouble(error: SQLAlchemyError) -> ResponseReturnValue:
    """The page for a database the dashboard cannot read; re-raises anything else (a bug).

    Database down (``db.database_unavailable``): a 503 page with Retry-After, since the
    outage is expected to pass. No schema yet: a 503 page that says to run ``init-db``, with
    no Retry-After, since waiting will not fix it. Any other error is a bug: the 500 handler.
    """
    if database_unavailable(error):
        log.warning("dashboard: database unavailable: %s", error)
        page = render_template("dashboard.html", unavailable=True)
        return page, 503, {"Retry-After": str(DATABASE_DOWN_RETRY_SECONDS)}
    database.get_session().rollback()
    if inspect(database.get_engine()).has_table(schema.CurrentModel.__tablename__):
        raise error
    log.warning("dashboard: the database has no schema yet; run init-db")
    return render_template("dashboard.html", unavailable=True), 503
