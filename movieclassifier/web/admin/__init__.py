"""The admin pages: login, quarantine triage, the review queue, versions and the audit log.

``bp`` holds every route (``/login``, ``/logout``, ``/admin/...``); ``init_app`` throttles
failed logins once the limiter exists. Every answer of the blueprint is ``no-store``, so no
cache or back button shows an admin page after logout.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response
from flask_limiter import Limiter

from movieclassifier.config import Settings
from movieclassifier.web.admin import auth, overview, queue, triage, versions

bp = Blueprint("admin", __name__)
auth.register(bp)
overview.register(bp)
triage.register(bp)
queue.register(bp)
versions.register(bp)


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask, limiter: Limiter, settings: Settings) -> None:
    """Throttle failed logins on ``app`` (call after the blueprint and the limiter)."""
    auth.limit_logins(app, limiter, settings)
