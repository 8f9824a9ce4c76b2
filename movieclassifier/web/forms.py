"""Input rules for a review, shared by the pages and the API, and the pages' forms.

``check_review`` is the one place that says what a review may be; the WTForms forms of
the pages (with their CSRF token) and the JSON API both call it.
"""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from movieclassifier.config import Settings
from movieclassifier.web.errors import BadRequest

# The ids are an INTEGER column: a larger number cannot name a row and would overflow.
MAX_ID = 2**31 - 1


def check_review(value: str, settings: Settings, field: str = "review") -> str | None:
    """Why ``value`` is not an acceptable review, or None when it is.

    Length is counted after stripping surrounding whitespace.

    >>> check_review("  short ", Settings(min_review_chars=10), "review")
    "'review' must have at least 10 characters (not counting surrounding spaces), got 5"
    >>> check_review("A perfectly fine review.", Settings()) is None
    True
    """
    length = len(value.strip())
    if length == 0:
        return f"'{field}' must not be empty"
    if length < settings.min_review_chars:
        return (
            f"'{field}' must have at least {settings.min_review_chars} characters "
            f"(not counting surrounding spaces), got {length}"
        )
    if length > settings.max_review_chars:
        return f"'{field}' must have at most {settings.max_review_chars} characters, got {length}"
    if "\x00" in value:
        return f"'{field}' must not contain NUL characters (\\u0000)"
    if value.isascii():  # known without a scan: no surrogate, and no copy to encode
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"'{field}' must be valid Unicode text; it contains an unpaired surrogate"
    return None


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
        problem = check_review(field.data, self._settings, "review")
        if problem:
            raise ValidationError(friendly(problem, self._settings))


def friendly(problem: str, settings: Settings) -> str:
    """A form error for people rather than programs (same rule as ``check_review``).

    >>> friendly("'review' must not be empty", Settings())
    'Please write a review.'
    """
    if "must not be empty" in problem:
        return "Please write a review."
    if "at least" in problem:
        return (
            f"Please write a little more: a review needs at least "
            f"{settings.min_review_chars} characters."
        )
    if "at most" in problem:
        return (
            f"That review is too long: please keep it under {settings.max_review_chars:,} "
            "characters."
        )
    return problem.replace("'review'", "The review")


class FeedbackForm(FlaskForm):
    """Correct / Incorrect on the result page: only the stored prediction's id and the answer."""

    prediction_id = IntegerField(
        "prediction_id",
        validators=[
            InputRequired("prediction_id is missing"),
            NumberRange(1, MAX_ID, f"prediction_id must be an integer from 1 to {MAX_ID}"),
        ],
    )
    correct = HiddenField("correct", validators=[InputRequired("the answer is missing")])

    def validate_correct(self, field: HiddenField) -> None:
        if field.data not in ("true", "false"):
            raise ValidationError(f'the answer must be "true" or "false", got "{field.data}"')
