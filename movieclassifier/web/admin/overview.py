"""``/admin/`` (what waits for whom) and ``/admin/audit`` (the audit log), operators only."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from movieclassifier import audit, feedback, model_store, review_queue, stats
from movieclassifier.web.admin.auth import requires
from movieclassifier.web.database import get_session

AUDIT_ROWS = 200


@requires("overview")
def overview() -> ResponseReturnValue:
    """How much waits in the quarantine and the queue, the version in service, the latest
    audit rows."""
    db = get_session()
    version = model_store.current_version(db)
    waiting = review_queue.waiting(db, version, limit=0).total if version is not None else 0
    return render_template(
        "admin/overview.html",
        version=version,
        quarantined=feedback.triage(db, limit=0).total,
        waiting=waiting,
        last_run=stats.last_retrain(db),
        entries=audit.recent(db, 10),
    )


@requires("audit")
def audit_page() -> ResponseReturnValue:
    """The newest audit rows, optionally of one action."""
    action = request.args.get("action") or None
    if action not in (None, *audit.ACTIONS):
        action = None
    entries = audit.recent(get_session(), AUDIT_ROWS, action)
    return render_template(
        "admin/audit.html", entries=entries, actions=audit.ACTIONS, action=action
    )


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/admin/", "overview", overview)
    bp.add_url_rule("/admin/audit", "audit", audit_page)
