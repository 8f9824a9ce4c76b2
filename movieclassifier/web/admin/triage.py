"""``/admin/quarantine``: quarantined answers ranked by suspicion, approved or discarded.

The ranking and the changes are the quarantine command's (``feedback.triage``,
``feedback.approve``, ``feedback.discard``). Settling takes two posts: the first shows what
would change and asks to confirm, the second (``confirmed``) changes it and audits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from movieclassifier import audit, feedback
from movieclassifier.model import LABELS
from movieclassifier.web.admin.auth import address, current_user, requires
from movieclassifier.web.admin.forms import SettleForm
from movieclassifier.web.database import get_session

SHOWN = 100
CONFIRM_SHOWN = 20
ACTIONS = {
    "approve": (feedback.approve, audit.APPROVE),
    "discard": (feedback.discard, audit.DISCARD),
}
SCOPES = ("selected", "version", "source")


@dataclass(frozen=True)
class Choice:
    """What a settle form names: an action and the rows it applies to."""

    action: str
    scope: str
    ids: list[int]
    version: int | None
    source: str | None

    @property
    def target(self) -> str:
        if self.scope == "version":
            return f"version {self.version}"
        if self.scope == "source":
            return f"source {self.source}"
        return audit.ids(self.ids)


def _number(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@requires("quarantine")
def quarantine() -> ResponseReturnValue:
    """The most suspect quarantined answers (of a version, from a source), with forms to
    settle the selected ones, a version's or a source's."""
    version = _number(request.args.get("version"))
    source = (request.args.get("source") or "").strip() or None
    error = None
    try:
        found = feedback.triage(get_session(), version, source, SHOWN)
    except feedback.BadSource as exc:
        found, error = feedback.triage(get_session(), version, None, SHOWN), str(exc)
        source = None
    return render_template(
        "admin/quarantine.html",
        found=found,
        labels=LABELS,
        version=version,
        source=source,
        error=error,
        done=request.args.get("done"),
        form=SettleForm(),
        versions=sorted({row.version for row in found.rows if row.version is not None}),
        sources=sorted({row.source for row in found.rows if row.source}),
    )


def _choice(form: SettleForm) -> Choice:
    action, scope = form.action.data or "", form.scope.data or ""
    if action not in ACTIONS or scope not in SCOPES:
        abort(400, description="the form names no known action or rows")
    ids = [int(raw) for raw in request.form.getlist("ids") if raw.isdigit()]
    version = _number(form.version.data) if scope == "version" else None
    source = (form.source.data or "").strip() if scope == "source" else None
    if (scope == "selected" and not ids) or (scope == "version" and version is None):
        abort(400, description="select at least one answer, or name a version")
    if scope == "source" and not source:
        abort(400, description="name a source")
    return Choice(action, scope, ids if scope == "selected" else [], version, source)


@requires("quarantine")
def settle() -> ResponseReturnValue:
    """Approve or discard: the confirmation page first, then the change."""
    form = SettleForm()
    if not form.validate():
        abort(400, description="; ".join(e for errors in form.errors.values() for e in errors))
    choice = _choice(form)
    db = get_session()
    if not form.confirmed.data:
        try:
            total, rows = _affected(choice)
        except (feedback.BadSource, feedback.NotQuarantined) as exc:
            return render_template("admin/problem.html", message=str(exc)), 409
        return render_template(
            "admin/confirm_settle.html", choice=choice, total=total, rows=rows, form=form
        )
    change, action = ACTIONS[choice.action]
    user = current_user()
    assert user is not None  # requires() let only a user in
    try:
        count = change(db, choice.ids, choice.version, choice.source)
    except (feedback.NotQuarantined, feedback.BadSource) as exc:
        db.rollback()
        return render_template("admin/problem.html", message=str(exc)), 409
    audit.record(db, user.name, action, choice.target, f"{count} rows", address())
    db.commit()
    return redirect(url_for("admin.quarantine", done=f"{choice.action}d {count}"))


def _affected(choice: Choice) -> tuple[int, list[feedback.Suspect]]:
    """How many quarantined rows ``choice`` would settle, and the first of them (the
    confirmation page lists them). Selected ids are checked by the change itself.

    Raises:
        feedback.BadSource: the source prefix is bad or names several sources.
        feedback.NotQuarantined: nothing of that version or source is quarantined.
    """
    if choice.scope == "selected":
        return len(choice.ids), []
    db = get_session()
    if choice.source is not None:
        feedback.matching_source(db, choice.source)
    found = feedback.triage(db, choice.version, choice.source, limit=CONFIRM_SHOWN)
    if not found.total:
        raise feedback.NotQuarantined(f"there is no quarantined feedback of {choice.target}")
    return found.total, found.rows


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/admin/quarantine", "quarantine", quarantine)
    bp.add_url_rule("/admin/quarantine/settle", "settle", settle, methods=["POST"])
