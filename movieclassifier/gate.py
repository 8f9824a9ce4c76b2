"""The retraining gate (docs/DESIGN.md, invariant 7): a retrained version is promoted only
when it lost no more than ``GATE_MAX_DROP`` on two evaluation sets, each compared with the
current version and with the lineage's anchor (so floods each within the bound of the one
before cannot walk the model down step by step):

- the held-out reviews its lineage's base never trained on (``holdout``);
- the domain slice: trusted answers, held out of learning by earlier runs
  (``GATE_FEEDBACK_SLICE``), which measure the domain the feedback comes from.
"""

from __future__ import annotations

from typing import NamedTuple

from movieclassifier.model import Featured, Labelled, SentimentModel
from movieclassifier.schema import PROMOTED, REJECTED

# So that a drop of exactly max_drop, or none, is not a rejection on a float round-off.
_TOLERANCE = 1e-9
# On a small domain slice one answer is worth more than GATE_MAX_DROP: a version is only
# refused there for losing more than this many answers net.
SLICE_MIN_ROWS = 2
# Knuth's multiplicative hash: which answers the slice holds out, stable and well spread.
_SLICE_HASH = 2_654_435_761


class Scores(NamedTuple):
    """The current, the new and the anchor model's accuracy on one evaluation set."""

    before: float | None = None
    after: float | None = None
    anchor: float | None = None
    rows: int = 0


class Accuracies(NamedTuple):
    """What the gate decides on: the held-out set, the domain slice, and the batch."""

    holdout: Scores
    domain: Scores
    feedback_before: float | None
    feedback_after: float | None
    anchor_version: int | None = None


def in_slice(feedback_id: int, share: float) -> bool:
    """Whether the domain slice holds this answer out of learning, for a slice of ``share``.

    >>> sum(in_slice(i, 0.1) for i in range(1, 1001))
    100
    >>> in_slice(7, 0.0), in_slice(7, 1.0)
    (False, True)
    """
    return (feedback_id * _SLICE_HASH) % 2**32 < share * 2**32


def evaluate(
    current: SentimentModel,
    anchor: SentimentModel,
    model: SentimentModel,
    held: Featured,
    domain: Featured,
    new: Labelled,
) -> Accuracies:
    """Score the three models on the held-out set and the domain slice, and the current and
    new ones on the labels being learned.

    The anchor is scored now, on the same rows as the others, not read from its registry
    row: the slice has grown since it was made.
    """
    feedback_before = feedback_after = None
    if new.texts:
        feedback_before, feedback_after = _accuracies((current, model), Featured.of(new))
    return Accuracies(
        _scores(current, anchor, model, held),
        _scores(current, anchor, model, domain),
        feedback_before,
        feedback_after,
        anchor.version,
    )


def _scores(
    current: SentimentModel, anchor: SentimentModel, model: SentimentModel, rows: Featured
) -> Scores:
    if not rows.rows.texts:
        return Scores()
    before, at_anchor, after = _accuracies((current, anchor, model), rows)
    return Scores(before, after, at_anchor, len(rows.rows.texts))


def _accuracies(models: tuple[SentimentModel, ...], rows: Featured) -> tuple[float, ...]:
    # The features do not depend on the model: hashed once (``Featured``), not per model.
    scored: dict[int, float] = {}
    for model in models:
        # The anchor is often the current model itself: score each object once.
        if id(model) not in scored:
            scored[id(model)] = model.accuracy_of_features(rows.features, rows.rows.labels)
    return tuple(scored[id(model)] for model in models)


def decide(accuracies: Accuracies, max_drop: float, approved: bool) -> str:
    """Promote unless either evaluation set says the version lost too much; approved
    labels (an operator's decision) pass once.

    >>> held = Scores(0.90, 0.88, 0.90, 5000)
    >>> decide(Accuracies(held, Scores(), 0.5, 0.5), 0.01, approved=False)
    'rejected'
    >>> decide(Accuracies(held, Scores(), 0.5, 0.5), 0.01, approved=True)
    'promoted'

    On a slice of 50 answers, losing two is within the bound; losing three is not.

    >>> decide(Accuracies(Scores(), Scores(0.80, 0.76, 0.70, 50), 0.5, 0.5), 0.01, False)
    'promoted'
    >>> decide(Accuracies(Scores(), Scores(0.80, 0.74, 0.70, 50), 0.5, 0.5), 0.01, False)
    'rejected'
    """
    if approved:
        return PROMOTED
    held, domain = accuracies.holdout, accuracies.domain
    slice_bound = max(max_drop, SLICE_MIN_ROWS / domain.rows) if domain.rows else max_drop
    if _too_low(held, max_drop) or _too_low(domain, slice_bound):
        return REJECTED
    return PROMOTED


def _too_low(scores: Scores, bound: float) -> bool:
    """Whether ``after`` fell more than ``bound`` below the current version, or below the
    anchor while still falling.

    Each step 0.006, but 0.012 below the anchor: too low.

    >>> _too_low(Scores(0.914, 0.908, 0.92), 0.01)
    True

    A lineage an operator's approval took below the anchor's bound may still learn, as long
    as it loses nothing more.

    >>> _too_low(Scores(0.90, 0.902, 0.92), 0.01)
    False
    """
    before, after, anchor = scores.before, scores.after, scores.anchor
    if before is None or after is None:
        return False
    if before - after > bound + _TOLERANCE:
        return True
    past_anchor = anchor is not None and anchor - after > bound + _TOLERANCE
    return past_anchor and after < before - _TOLERANCE
