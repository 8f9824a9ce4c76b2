"""The review rule is the core's (``reviews.review_problem``); each surface words it.

The API (``api.API_MESSAGES``) and the review form (``forms.FORM_MESSAGES``) each have a
message for every kind of problem, so nobody parses a message back to learn what was wrong.
"""

from __future__ import annotations

import pytest

from movieclassifier.config import Settings
from movieclassifier.reviews import Kind, ReviewProblem, review_problem
from movieclassifier.web.api import API_MESSAGES, api_message
from movieclassifier.web.forms import FORM_MESSAGES, form_message

SETTINGS = Settings(min_review_chars=10, max_review_chars=20)
FINE = "A fine review."


@pytest.mark.parametrize(
    "text, kind, length, limit",
    [
        ("", Kind.EMPTY, 0, None),
        (" \n\t ", Kind.EMPTY, 0, None),
        ("  short  ", Kind.TOO_SHORT, 5, 10),
        ("y" * 21, Kind.TOO_LONG, 21, 20),
        ("Fine but \x00 nul", Kind.NUL_CHARACTER, 14, None),
        ("Fine but \ud800 lone", Kind.UNPAIRED_SURROGATE, 15, None),
    ],
)
def test_each_broken_rule_is_one_kind_with_its_numbers(text, kind, length, limit):
    assert review_problem(text, SETTINGS) == ReviewProblem(kind, length, limit)


@pytest.mark.parametrize("text", [FINE, "  " + FINE + "  ", "Très bien, ça ✓"])
def test_an_acceptable_review_has_no_problem(text):
    assert review_problem(text, SETTINGS) is None


def test_every_kind_is_worded_by_both_surfaces():
    assert set(API_MESSAGES) == set(FORM_MESSAGES) == set(Kind)


@pytest.mark.parametrize(
    "text, field, api, form",
    [
        ("", "review", "'review' must not be empty", "Please write a review."),
        (
            "  short  ",
            "reviews[2]",
            "'reviews[2]' must have at least 10 characters (not counting surrounding spaces), "
            "got 5",
            "Please write a little more: a review needs at least 10 characters.",
        ),
        (
            "y" * 21,
            "review",
            "'review' must have at most 20 characters, got 21",
            "That review is too long: please keep it under 20 characters.",
        ),
        (
            "Fine but \x00 nul",
            "review",
            "'review' must not contain NUL characters (\\u0000)",
            "The review must not contain NUL characters (\\u0000)",
        ),
        (
            "Fine but \ud800 lone",
            "review",
            "'review' must be valid Unicode text; it contains an unpaired surrogate",
            "The review must be valid Unicode text; it contains an unpaired surrogate",
        ),
    ],
)
def test_the_api_and_the_form_say_each_problem_their_own_way(text, field, api, form):
    problem = review_problem(text, SETTINGS)
    assert problem is not None
    assert api_message(problem, field) == api
    assert form_message(problem) == form


def test_the_form_writes_large_limits_with_separators():
    problem = review_problem("y" * 20001, Settings())
    assert problem is not None
    assert form_message(problem) == (
        "That review is too long: please keep it under 20,000 characters."
    )
