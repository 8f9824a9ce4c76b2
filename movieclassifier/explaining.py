"""Why the model answered as it did: each word n-gram's exact share of the score.

A review's score is the sum of the weights of its distinct hashed n-gram columns over the
square root of their number, plus the intercept (``features.feature_scores``); calibration
multiplies it by the version's scale. So every column's share is exact:

* a column's share (scale * weight / sqrt(distinct columns)) goes to the n-grams hashed to
  it, split evenly between its occurrences (a repeated n-gram counts once, as in the
  features; two n-grams that collide share their column);
* an occurrence's share is split evenly between its words;
* a phrase is a run of neighbouring words that push the same way, each pushing at least
  half as hard as the review's average word; its weight is the sum of its words' shares.

The words' shares plus the (scaled) intercept are the logit of the probability shown, and
so are the n-grams' (``Explanation.total``; tests/test_explaining.py checks both on the C
and the Python features). A positive weight pushes toward positive.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from movieclassifier import features
from movieclassifier.features.reference import SHOWN
from movieclassifier.model import SentimentModel

# How many phrases the API gives by default (the EXPLAIN_TOP setting).
EXPLAIN_TOP = 10
# A word belongs to a phrase when it pushes at least this share of the review's mean push.
STRONG_SHARE = 0.5
# The longest phrase, in words: longer runs are cut where the push is weakest.
MAX_PHRASE_WORDS = 4


class Phrase(NamedTuple):
    """Neighbouring words of the review (tokens ``start`` to ``end``, end excluded).

    A named tuple: a long review has a hundred, made on every explanation.
    """

    text: str
    weight: float
    start: int
    end: int


@dataclass(frozen=True)
class Explanation:
    """A review's words as the model reads them, each word's share, and its phrases."""

    words: list[str]
    word_weights: np.ndarray
    # Each n-gram occurrence: its first word, its number of words, and its share.
    starts: np.ndarray
    lengths: np.ndarray
    shares: np.ndarray
    intercept: float
    runs: Runs

    def ngrams(self) -> dict[str, float]:
        """Each distinct n-gram of the review and its share of the score."""
        found: dict[str, float] = {}
        spans = zip(self.starts.tolist(), self.lengths.tolist(), self.shares.tolist(), strict=True)
        for start, n, share in spans:
            gram = " ".join(self.words[start : start + n])
            found[gram] = found.get(gram, 0.0) + share
        return found

    @property
    def total(self) -> float:
        """The calibrated logit: every word's share plus the intercept."""
        return float(self.word_weights.sum()) + self.intercept

    @property
    def phrases(self) -> list[Phrase]:
        """Every phrase, strongest first."""
        return self.top(len(self.runs.weights))

    def top(self, count: int) -> list[Phrase]:
        """The ``count`` phrases that push hardest, either way."""
        return self.runs.phrases(self.words, self.runs.strongest(count))

    def pushing(self, sign: int, count: int) -> list[Phrase]:
        """The ``count`` strongest phrases toward positive (sign 1) or negative (-1)."""
        return self.runs.phrases(self.words, self.runs.strongest(count, sign))


def explain(model: SentimentModel, review: str) -> Explanation:
    """Each word n-gram's and each word's share of ``model``'s score for ``review``.

    >>> from movieclassifier.model import SentimentModel
    >>> model = SentimentModel()
    >>> model.learn(["good fun", "dull mess"], [1, 0])
    >>> explain(model, "   ").phrases
    []
    >>> [phrase.text for phrase in explain(model, "Good fun!").phrases]
    ['good fun']
    """
    read = features.review_ngrams(review)
    words = read.words
    if any(word.startswith("EMO") for word in words if word[0] == "E"):
        words = [SHOWN.get(word, word) for word in words]
    weights, intercept = model.served_weights()
    scale = model.calibration.scale
    starts, lengths, columns = read.starts, read.lengths, read.columns
    word_weights = np.zeros(len(words), np.float64)
    shares = np.zeros(0, np.float64)
    if len(columns):
        distinct, which, repeats = np.unique(columns, return_inverse=True, return_counts=True)
        column_share = scale * weights[distinct].astype(np.float64) / math.sqrt(len(distinct))
        shares = column_share[which] / repeats[which]
        # The n-grams of one length are contiguous and start at words 0, 1, 2, ... in turn
        # (``analyze``'s order): each of their words gets 1/n of their shares by a slice.
        first = 0
        while first < len(shares):
            n = int(lengths[first])
            count = len(words) - n + 1
            part = shares[first : first + count] / n
            for offset in range(n):
                word_weights[offset : offset + count] += part
            first += count
    return Explanation(
        words,
        word_weights,
        starts,
        lengths,
        shares,
        scale * intercept,
        Runs.of(word_weights, read.apart),
    )


@dataclass(frozen=True)
class Runs:
    """The phrases of a review as word ranges ``[starts[i], ends[i])`` and their weights:
    arrays, so that only the phrases shown are made."""

    starts: np.ndarray
    ends: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, weights: np.ndarray, apart: np.ndarray | None = None) -> Runs:
        """Runs of neighbouring words pushing the same way, each at least half the mean
        push. ``apart[i]`` says that punctuation separates word i from word i + 1.

        >>> words = ["so", "very", "good", "but", "dull"]
        >>> weights = np.array([0.01, 0.3, 0.5, 0, -0.4])
        >>> def texts(runs): return [p.text for p in runs.phrases(words, runs.strongest(9))]
        >>> texts(Runs.of(weights))
        ['very good', 'dull']
        >>> texts(Runs.of(weights, np.array([False, True, False, False])))
        ['good', 'dull', 'very']
        """
        pushes = np.asarray(weights, np.float64)
        if not len(pushes):
            empty = np.zeros(0, np.int64)
            return cls(empty, empty, np.zeros(0))
        size = np.abs(pushes)
        strong = size >= max(STRONG_SHARE * float(size.mean()), 1e-12)
        positive = pushes > 0
        # Word i continues the phrase of word i - 1 when both are strong, push the same
        # way, and no punctuation parts them.
        joins = strong[1:] & strong[:-1] & (positive[1:] == positive[:-1])
        if apart is not None:
            joins &= ~np.asarray(apart, bool)
        starts = np.flatnonzero(strong & ~np.concatenate(([False], joins)))
        ends = np.flatnonzero(strong & ~np.concatenate((joins, [False]))) + 1
        if np.any(ends - starts > MAX_PHRASE_WORDS):
            starts, ends = _cut(starts, ends)
        totals = np.concatenate(([0.0], np.cumsum(pushes)))
        return cls(starts, ends, totals[ends] - totals[starts])

    def strongest(self, count: int, sign: int = 0) -> np.ndarray:
        """The indices of the ``count`` strongest runs (toward ``sign``, if not 0)."""
        chosen = np.flatnonzero(self.weights * sign > 0) if sign else np.arange(len(self.weights))
        order = np.argsort(-np.abs(self.weights[chosen]), kind="stable")
        return chosen[order[:count]]

    def phrases(self, words: list[str], which: np.ndarray) -> list[Phrase]:
        return [
            Phrase(" ".join(words[start:end]), weight, start, end)
            for start, end, weight in zip(
                self.starts[which].tolist(),
                self.ends[which].tolist(),
                self.weights[which].tolist(),
                strict=True,
            )
        ]


def _cut(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs longer than ``MAX_PHRASE_WORDS`` cut into pieces of at most that many words."""
    pieces = -(-(ends - starts) // MAX_PHRASE_WORDS)
    first = np.repeat(starts, pieces)
    # Each piece's number within its run: 0, 1, ... restarting at every run.
    number = np.arange(len(first)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    cut_starts = first + MAX_PHRASE_WORDS * number
    return cut_starts, np.minimum(cut_starts + MAX_PHRASE_WORDS, np.repeat(ends, pieces))


# Characters of a review between two of its words that normalization drops or rewrites:
# anything but letters and digits, HTML tags, the "n't" that becomes " not", emoticons.
_BETWEEN_WORDS = re.compile(r"(?:[^A-Za-z0-9\u0080-\U0010ffff]|<[^>]*>|n['\u2019]t|[:;=]-?[dDpP])*")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def word_offsets(review: str, words: list[str]) -> list[tuple[int, int] | None]:
    """Where each word (as the model reads it) is in the review's own text, or None.

    Normalization lower-cases ASCII only, so offsets are the review's own; a word it made
    (the "not" of "didn't", an emoticon's marker) is not found and is None.

    >>> review = "I didn't LIKE it :-("
    >>> [review[a:b] if (a, b) != (None, None) else None
    ...  for a, b in (o or (None, None) for o in word_offsets(review, features.tokenize(review)))]
    ['I', 'did', None, 'LIKE', 'it', None]
    """
    lowered = review.translate(_ASCII_LOWER)
    found: list[tuple[int, int] | None] = []
    position = 0
    for word in words:
        at = lowered.find(word, position) if word not in SHOWN.values() else -1
        if at < 0 or not _BETWEEN_WORDS.fullmatch(lowered, position, at):
            found.append(None)
            continue
        found.append((at, at + len(word)))
        position = at + len(word)
    return found


@dataclass(frozen=True)
class Segment:
    """A piece of the review's own text, and the phrase it shows (None: plain text)."""

    text: str
    phrase: Phrase | None = None


def highlighted(review: str, explanation: Explanation, phrases: list[Phrase]) -> list[Segment]:
    """The review cut into plain pieces and the pieces that show ``phrases``, in order.

    A phrase covers its words as the review writes them (from its first word found to its
    last); one whose words are not found (made by normalization) is left unmarked.

    >>> from movieclassifier.model import SentimentModel
    >>> model = SentimentModel()
    >>> model.learn(["good fun", "dull mess"], [1, 0])
    >>> review = "Such GOOD fun!"
    >>> explained = explain(model, review)
    >>> segments = highlighted(review, explained, explained.phrases[:1])
    >>> [(segment.text, segment.phrase is not None) for segment in segments]
    [('Such ', False), ('GOOD fun', True), ('!', False)]
    """
    offsets = word_offsets(review, explanation.words)
    marks = []
    for phrase in phrases:
        found = [spot for spot in offsets[phrase.start : phrase.end] if spot is not None]
        if found:
            marks.append((found[0][0], found[-1][1], phrase))
    marks.sort(key=lambda mark: mark[0])
    segments = []
    position = 0
    for start, end, phrase in marks:
        if start < position:
            continue
        if start > position:
            segments.append(Segment(review[position:start]))
        segments.append(Segment(review[start:end], phrase))
        position = end
    if position < len(review):
        segments.append(Segment(review[position:]))
    return segments
