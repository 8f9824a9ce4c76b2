"""The pages a person uses: the review form, the prediction's page, the thank-you page.

Server-rendered and usable without JavaScript; ``static/app.js`` only sends the feedback
without leaving the page. Every form carries a CSRF token (Flask-WTF). The feedback form
sends just the stored prediction's reference and the answer; the rest comes from our own
row, and only the browser (page session) that got the prediction may answer it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from movieclassifier import explaining, feedback
from movieclassifier.config import Settings
from movieclassifier.model import LABELS, is_unsure
from movieclassifier.model_cache import NoServableModel
from movieclassifier.schema import (
    APPROVED,
    DISCARDED,
    LEARNED,
    LEARNING,
    PENDING,
    QUARANTINED,
    Feedback,
    StoredPrediction,
)
from movieclassifier.web import database, serving
from movieclassifier.web.errors import BadRequest, NotFound, wants_json
from movieclassifier.web.forms import FeedbackForm, ReviewForm

bp = Blueprint("web", __name__)

# Where an answer stands, in words for the person who gave it.
ANSWER_STATUS = {
    None: "not answered",
    PENDING: "pending — will be learned at the next retraining",
    LEARNING: "being learned by a retraining now",
    QUARANTINED: "quarantined",
    APPROVED: "approved — will be learned at the next retraining",
    DISCARDED: "discarded — it will not be learned",
}
NO_SUCH_PREDICTION = "There is no stored prediction with that reference."
# The phrases the result page lists (and marks in the review) each way.
PAGE_PHRASES = 5


def answer_status(row: Feedback | None) -> str:
    """Where the answer ``row`` stands (None: there is none), as the prediction's page says.

    >>> answer_status(Feedback(status="learned", learned_version=4))
    'learned by version 4'
    """
    if row is not None and row.status == LEARNED:
        return f"learned by version {row.learned_version}"
    return ANSWER_STATUS[row.status if row is not None else None]


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
    source = serving.start_page_source()
    _, references = serving.classify_and_store([review], feedback.WEB, source)
    # Post/Redirect/Get: the result has an address of its own, and a reload asks nothing.
    return redirect(url_for("web.prediction", reference=references[0]), 303)


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """Browsers ask for /favicon.ico whatever the page links: send them to the SVG."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/p/<reference>", endpoint="prediction")
def prediction_page(reference: str) -> ResponseReturnValue:
    """A stored prediction and where its answer stands; its buttons for the browser that got it.

    Anyone with the (unguessable) reference may look; only its page session may answer.

    Raises:
        NotFound: no stored prediction has that reference.
    """
    session = database.get_session()
    try:
        stored = feedback.find_prediction(session, reference)
    except feedback.UnknownPrediction as exc:
        raise NotFound(NO_SUCH_PREDICTION) from exc
    answer = feedback.answer_of(session, stored.id)
    can_answer = feedback.may_answer(stored, feedback.WEB, serving.page_source())
    html = render_template(
        "prediction.html",
        review=stored.review,
        why=why(stored),
        unsure=is_unsure(stored.probability, _settings().unsure_band),
        prediction=stored,
        prediction_id=stored.reference,
        # Only a form that is shown needs a CSRF token (and a session cookie for it).
        feedback_form=FeedbackForm() if can_answer else None,
        answer=answer,
        answer_label=LABELS[answer.label] if answer is not None else None,
        status=answer_status(answer),
        can_answer=can_answer,
        can_change=answer is None or answer.status == PENDING,
    )
    # The page shows the review and carries a CSRF token: no shared cache may keep it.
    return html, 200, {"Cache-Control": "private, no-store"}


@dataclass(frozen=True)
class Why:
    """What the result page shows of an explanation: the marked review and both lists."""

    segments: list[explaining.Segment]
    positive: list[explaining.Phrase]
    negative: list[explaining.Phrase]


def why(stored: StoredPrediction) -> Why | None:
    """The explanation of a stored prediction by the version that gave it, when this
    worker serves that version (else None: an older version's weights are not loaded;
    docs/DESIGN.md, invariant 14)."""
    try:
        model = serving.current_model()
    except NoServableModel:
        return None
    if model.version != stored.model_version:
        return None
    explanation = explaining.explain(model, stored.review)
    positive = explanation.pushing(1, PAGE_PHRASES)
    negative = explanation.pushing(-1, PAGE_PHRASES)
    segments = explaining.highlighted(stored.review, explanation, positive + negative)
    return Why(segments, positive, negative)


@bp.post("/feedback", endpoint="feedback")
def feedback_view() -> ResponseReturnValue:
    """Record Correct / Incorrect for a stored prediction; JSON when the page's script asks.

    Raises:
        NotFound: the reference names nothing, or a prediction another browser got.
        Conflict: the earlier answer was already learned.
    """
    form = FeedbackForm()
    if not form.validate():
        field, errors = next(iter(form.errors.items()))
        raise BadRequest(f"{errors[0]} ({field})")
    correct = form.correct.data == "true"
    reference = form.prediction_id.data or ""
    stored, row = serving.record_feedback(reference, correct, feedback.WEB, serving.page_source())
    if wants_json():
        return jsonify({"ok": True, **serving.feedback_json(stored, row)}), 201
    return render_template(
        "thanks.html",
        label=LABELS[row.label],
        correct=correct,
        prediction_id=stored.reference,
        feedback_form=FeedbackForm(),
        can_change=row.status == PENDING,
    )
