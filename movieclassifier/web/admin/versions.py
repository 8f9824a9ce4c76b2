"""``/admin/versions``: every version with its figures, rollback, and "retrain now".

The figures are ``flask versions``' (``stats.versions``). A rollback is the command's:
``lifetime.rollback`` under the one-writer lock. The web never learns (docs/DESIGN.md,
invariant 1), so "retrain now" starts the retrain command as its own process, which takes
the same lock; a retrain already running answers 409 and says so.
"""

from __future__ import annotations

import subprocess
import sys
import threading

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from movieclassifier import audit, lifetime, locking, model_store, stats
from movieclassifier.config import Settings, environ_of
from movieclassifier.web.admin.auth import address, current_user, requires
from movieclassifier.web.admin.forms import ActionForm, RollbackForm
from movieclassifier.web.database import get_engine, get_session

RETRAIN_COMMAND = ("-m", "flask", "--app", "movieclassifier", "retrain", "--fail-if-busy")
BUSY = "A retrain is running (it holds the one-writer lock); try again when it has finished."


def _settings() -> Settings:
    return current_app.extensions["movieclassifier.settings"]


@requires("versions")
def versions() -> ResponseReturnValue:
    """Every version, newest first, with a rollback form for each one it may go back to."""
    db = get_session()
    return render_template(
        "admin/versions.html",
        rows=stats.versions(db),
        last_run=stats.last_retrain(db),
        form=RollbackForm(),
        retrain_form=ActionForm(),
        done=request.args.get("done"),
    )


def _user_name() -> str:
    user = current_user()
    assert user is not None  # requires() let only a user in
    return user.name


@requires("versions")
def rollback() -> ResponseReturnValue:
    """Confirm, then make the named version current (``lifetime.rollback``)."""
    form = RollbackForm()
    raw = form.version.data or ""
    if not form.validate() or not raw.isdigit():
        abort(400, description=f'the version to roll back to is a number, got "{raw}"')
    version = int(raw)
    if not form.confirmed.data:
        return render_template("admin/confirm_rollback.html", form=form, version=version)
    settings = _settings()
    sessions = current_app.extensions["movieclassifier.sessions"]
    name = _user_name()
    # End this request's transaction first: on SQLite it holds the write lock the
    # rollback's own transaction needs.
    get_session().commit()
    try:
        with locking.retrain_lock(get_engine()):
            done = lifetime.rollback(sessions, settings.model_dir, version, form.drop_labels.data)
    except locking.Busy:
        return render_template("admin/problem.html", message=BUSY), 409
    except (model_store.ModelStoreError, lifetime.LabelError) as exc:
        return render_template("admin/problem.html", message=str(exc)), 409
    rolled = ", ".join(str(v) for v in done.rolled_back) or "none"
    detail = f"rolled back: {rolled}; requeued {len(done.requeued)}, dropped {len(done.dropped)}"
    db = get_session()
    audit.record(db, name, audit.ROLLBACK, f"version {version}", detail, address())
    db.commit()
    return redirect(url_for("admin.versions", done=f"rolled back to {version}"))


@requires("versions")
def retrain_now() -> ResponseReturnValue:
    """Start a retrain unless one is running (then 409, and the page says so)."""
    ActionForm().validate()  # the CSRF check already ran; the form has no other field
    db = get_session()
    name = _user_name()
    db.commit()  # no transaction (on SQLite, a write lock) held while the command starts
    try:
        with locking.retrain_lock(get_engine()):
            pass
    except locking.Busy:
        audit.record(db, name, audit.RETRAIN_BUSY, address=address())
        db.commit()
        return render_template("admin/problem.html", message=BUSY), 409
    # The command takes the lock again itself (--fail-if-busy): a run that starts in
    # between makes it exit 75, busy, and nothing is learned twice.
    process = subprocess.Popen(
        [sys.executable, *RETRAIN_COMMAND],
        env=environ_of(_settings()),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # its report goes to retrain_runs; its log to our stderr
        start_new_session=True,
    )
    # Reap it when it ends, so no zombie is left behind the worker.
    threading.Thread(target=process.wait, daemon=True).start()
    audit.record(db, name, audit.RETRAIN_NOW, detail=f"pid {process.pid}", address=address())
    db.commit()
    return redirect(url_for("admin.versions", done="retrain started"))


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/admin/versions", "versions", versions)
    bp.add_url_rule("/admin/versions/rollback", "rollback", rollback, methods=["POST"])
    bp.add_url_rule("/admin/versions/retrain", "retrain", retrain_now, methods=["POST"])
