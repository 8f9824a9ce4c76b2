"""The pages a person uses: the review form, the result, the thank-you page.

Server-rendered and usable without JavaScript; ``static/app.js`` only sends the feedback
without leaving the page. Every form carries a CSRF token (Flask-WTF). The feedback form
sends just the stored prediction's id and the answer; the rest comes from our own row.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from movieclassifier.config import Settings
from movieclassifier.model import LABELS
from movieclassifier.web import serving
from movieclassifier.web.errors import BadRequest, wants_json
from movieclassifier.web.forms import FeedbackForm, ReviewForm

bp = Blueprint("web", __name__)


def _settings() -> Settings:
    return current_app.extensions["movieclassifier.settings"]


def _form_page(form: ReviewForm, status: int = 200) -> tuple[str, int]:
    settings = _settings()
    return (
        render_template(
            "index.html",
            form=form,
            min_chars=settings.min_review_chars,
            max_chars=settings.max_review_chars,
        ),
        status,
    )


@bp.get("/", endpoint="index")
def index() -> ResponseReturnValue:
    """The review form."""
    return _form_page(ReviewForm(_settings()))


@bp.post("/", endpoint="predict")
def predict() -> ResponseReturnValue:
    """Classify the review, store what was shown, and show the result with the buttons."""
    form = ReviewForm(_settings())
    if not form.validate():
        # Re-show the form with the text kept and the reason next to it.
        return _form_page(form, 400)
    review = form.review.data or ""
    predictions, ids = serving.classify_and_store([review], "web")
    prediction = predictions[0]
    return render_template(
        "result.html",
        review=review,
        prediction=prediction,
        prediction_id=ids[0],
        percent=round(prediction.probability * 100, 1),
        feedback_form=FeedbackForm(),
    )


@bp.post("/feedback", endpoint="feedback")
def feedback() -> ResponseReturnValue:
    """Record Correct / Incorrect for a stored prediction; JSON when the page's script asks."""
    form = FeedbackForm()
    if not form.validate():
        field, errors = next(iter(form.errors.items()))
        raise BadRequest(f"{errors[0]} ({field})")
    correct = form.correct.data == "true"
    row = serving.record_feedback(int(form.prediction_id.data or 0), correct)
    if wants_json():
        return jsonify({"ok": True, **serving.feedback_json(row)}), 201
    return render_template("thanks.html", label=LABELS[row.label], correct=correct)
