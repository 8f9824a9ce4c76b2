"""The pages' forms (WTForms, with their CSRF token) and how they word a bad review.

What a review may be is the core's rule (``reviews.review_problem``); this module only
says each kind of problem to a person (``FORM_MESSAGES``), as the API says it to a program.
"""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import InputRequired, ValidationError

from movieclassifier.config import Settings
from movieclassifier.reviews import Kind, ReviewProblem, review_problem
from movieclassifier.web.errors import BadRequest

# Each kind of bad review in words for people; ``{limit}`` is the rule's number.
FORM_MESSAGES = {
    Kind.EMPTY: "Please write a review.",
    Kind.TOO_SHORT: "Please write a little more: a review needs at least {limit} characters.",
    Kind.TOO_LONG: "That review is too long: please keep it under {limit:,} characters.",
    Kind.NUL_CHARACTER: "The review must not contain NUL characters (\\u0000)",
    Kind.UNPAIRED_SURROGATE: "The review must be valid Unicode text; it contains an unpaired "
    "surrogate",
}


def form_message(problem: ReviewProblem) -> str:
    """``problem`` as the review form says it.

    >>> form_message(ReviewProblem(Kind.TOO_LONG, 20001, 20000))
    'That review is too long: please keep it under 20,000 characters.'
    """
    return FORM_MESSAGES[problem.kind].format(limit=problem.limit)


def refuse_unnamed_fields() -> None:
    """Refuse a posted form with a nameless field: a multipart part without ``name=``.

    werkzeug keeps such a part under the key None, and Flask-WTF's CSRF check, which reads
    every key as a string, would fail with a 500. Runs before that check (``create_app``).

    Raises:
        BadRequest: a field of the posted form has no name.
    """
    if request.method != "GET" and None in request.form:
        raise BadRequest("Every form field needs a name: a part of the form has none")


class ReviewForm(FlaskForm):
    """The review form of ``GET /``; the length rules come from the settings."""

    review = TextAreaField("Your review", validators=[InputRequired("Please write a review.")])

    def __init__(self, settings: Settings, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._settings = settings

    def validate_review(self, field: TextAreaField) -> None:
        if not isinstance(field.data, str):
            # A multipart post can send the review as a file, which Flask-WTF hands over as
            # the field's data; the text box shows nothing of it.
            field.data = ""
            raise ValidationError("Please type or paste the review; files are not accepted.")
        problem = review_problem(field.data, self._settings)
        if problem is not None:
            raise ValidationError(form_message(problem))


class FeedbackForm(FlaskForm):
    """Correct / Incorrect (or "change my answer"): the prediction's reference and the answer.

    Whether this browser may answer that reference is the view's check, not the form's.
    """

    prediction_id = HiddenField(
        "prediction_id", validators=[InputRequired("prediction_id is missing")]
    )
    correct = HiddenField("correct", validators=[InputRequired("the answer is missing")])

    def validate_correct(self, field: HiddenField) -> None:
        if field.data not in ("true", "false"):
            raise ValidationError(f'the answer must be "true" or "false", got "{field.data}"')
