"""``/admin/queue``: a reviewer answers the reviews the model in service is least sure of.

One question at a time (``review_queue.waiting``). An answer is feedback like any other
(``feedback.add``), with the reviewer as its source: a keyed hash of ``reviewer:<name>``,
so the quarantine can name and settle one reviewer's answers as it does any source's.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from movieclassifier import audit, feedback, model_store, review_queue
from movieclassifier.config import Settings
from movieclassifier.web.admin.auth import address, current_user, requires
from movieclassifier.web.admin.forms import AnswerForm
from movieclassifier.web.database import get_session


def reviewer_source(name: str) -> str:
    """The source hash a reviewer's answers are stored with."""
    settings: Settings = current_app.extensions["movieclassifier.settings"]
    return feedback.source_hash(settings.secret_key, f"reviewer:{name}")


def _offset() -> int:
    raw = request.args.get("skip", "0")
    return min(int(raw), 10_000) if raw.isdigit() else 0


@requires("queue")
def queue() -> ResponseReturnValue:
    """The next question: the unanswered prediction of the version in service that is
    closest to 50%, after ``skip`` skipped ones."""
    db = get_session()
    version = model_store.current_version(db)
    skip = _offset()
    found = review_queue.waiting(db, version, 1, skip) if version is not None else None
    question = found.questions[0] if found and found.questions else None
    form = AnswerForm()
    if question is not None:
        form.prediction_id.data = str(question.id)
    user = current_user()
    return render_template(
        "admin/queue.html",
        version=version,
        question=question,
        total=found.total if found else 0,
        skip=skip,
        form=form,
        done=request.args.get("done"),
        source=reviewer_source(user.name) if user else "",
    )


@requires("queue")
def answer() -> ResponseReturnValue:
    """Store the reviewer's answer, then show the next question."""
    form = AnswerForm()
    if not form.validate() or form.correct.data not in ("true", "false"):
        abort(400, description="the answer must be Correct or Incorrect, for one review")
    raw = form.prediction_id.data or ""
    if not raw.isdigit():
        abort(400, description=f'the review to answer is a number, got "{raw}"')
    db = get_session()
    user = current_user()
    assert user is not None  # requires() let only a user in
    version = model_store.current_version(db)
    prediction_id = int(raw)
    if version is None or not review_queue.is_waiting(db, prediction_id, version):
        # Answered by another reviewer meanwhile, or the version changed: the next one.
        return redirect(url_for("admin.queue", done="gone"))
    correct = form.correct.data == "true"
    try:
        row = feedback.add(db, prediction_id, correct, reviewer_source(user.name))
    except (feedback.UnknownPrediction, feedback.AlreadyLearned):
        db.rollback()
        return redirect(url_for("admin.queue", done="gone"))
    audit.record(
        db,
        user.name,
        audit.QUEUE_ANSWER,
        f"prediction {prediction_id}",
        f"feedback {row.id}: {'correct' if correct else 'incorrect'}",
        address(),
    )
    db.commit()
    return redirect(url_for("admin.queue", done="correct" if correct else "incorrect"))


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/admin/queue", "queue", queue)
    bp.add_url_rule("/admin/queue/answer", "answer", answer, methods=["POST"])
