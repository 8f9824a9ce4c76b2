"""What a review may be, and the largest id a client may send: rules without words.

``review_problem`` is the one place that says what a review may be. It answers with a
``ReviewProblem`` (its ``Kind`` and the numbers that go with it) or None, never a message:
the JSON API (``web/api.py``) and the review form (``web/forms.py``) each word every kind
for their own readers, so nobody parses a message back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from movieclassifier.config import Settings

# The ids are an INTEGER column: a larger number cannot name a row and would overflow.
MAX_ID = 2**31 - 1


class Kind(enum.Enum):
    """Why a text is not an acceptable review."""

    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NUL_CHARACTER = "nul_character"
    UNPAIRED_SURROGATE = "unpaired_surrogate"


@dataclass(frozen=True)
class ReviewProblem:
    """A broken rule: its kind, the review's length (stripped) and the limit it broke.

    ``limit`` is ``min_review_chars`` for ``TOO_SHORT``, ``max_review_chars`` for
    ``TOO_LONG``, and None for the kinds that have no number.
    """

    kind: Kind
    length: int
    limit: int | None = None


def review_problem(text: str, settings: Settings) -> ReviewProblem | None:
    """What is wrong with ``text`` as a review, or None when it is acceptable.

    Length is counted after stripping surrounding whitespace; the limits are the settings'
    ``min_review_chars`` and ``max_review_chars``.

    >>> review_problem("  short ", Settings(min_review_chars=10))
    ReviewProblem(kind=<Kind.TOO_SHORT: 'too_short'>, length=5, limit=10)
    >>> review_problem("A perfectly fine review.", Settings()) is None
    True
    """
    length = len(text.strip())
    if length == 0:
        return ReviewProblem(Kind.EMPTY, 0)
    if length < settings.min_review_chars:
        return ReviewProblem(Kind.TOO_SHORT, length, settings.min_review_chars)
    if length > settings.max_review_chars:
        return ReviewProblem(Kind.TOO_LONG, length, settings.max_review_chars)
    if "\x00" in text:
        return ReviewProblem(Kind.NUL_CHARACTER, length)
    if text.isascii():  # known without a scan: no surrogate, and no copy to encode
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ReviewProblem(Kind.UNPAIRED_SURROGATE, length)
    return None
