"""The public dashboard: ``GET /dashboard`` (versions, feedback counts, live accuracy).

Only aggregates and registry facts are shown, never review text: anyone may open it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from sqlalchemy.exc import OperationalError, ProgrammingError

from movieclassifier import schema, stats
from movieclassifier.web import chart, database

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
def dashboard():  # type: ignore[no-untyped-def]
    """What the service is doing: which model answers, how well, and what it learned."""
    session = database.get_session()
    try:
        versions = stats.versions(session)
        series = stats.live_accuracy(session)
        page = render_template(
            "dashboard.html",
            counts=stats.counts(session),
            versions=versions,
            current=stats.current(versions),
            series=series,
            chart=chart.layout(series),
            last_run=stats.last_retrain(session),
            as_utc=schema.as_utc,
        )
    except (OperationalError, ProgrammingError):
        # An unreachable or uninitialised database is an operator's problem to fix, not a
        # crash: say so, and let the log hold the details.
        log.exception("dashboard: database unavailable")
        page = render_template("dashboard.html", unavailable=True)
        return page, 503, {"Retry-After": "30"}
    return page
