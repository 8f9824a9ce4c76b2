"""Per-label screening: which answers of a batch to quarantine before a retrain learns them.

The gate (``retrain._gate``) judges a whole batch; this module judges each answer, so that a
few lies need not quarantine the honest answers around them (docs/DESIGN.md, invariant 11).
It is pure computation: the served model's probabilities, counted three ways.

1. **Confident disagreement.** An answer the current model contradicts with probability at
   least ``CONFIDENT`` is suspect by itself. On a new domain honest answers disagree with the
   model often (about 24% on Rotten Tomatoes), but rarely with confidence: the IMDb model is
   wrong at ``p >= 0.8`` on about 3% of honest RT answers (bench/results/screening.md).
2. **A batch surplus.** The model's probabilities say how many honest answers should
   disagree with it: a review it scores ``p`` gets the other answer with probability
   ``1 - p`` (the model is close to calibrated on RT: 0.26 expected, 0.24 seen). Disagreements
   beyond that expectation by more than ``SURPLUS_Z`` standard deviations are not honest
   corrections; that many of the disagreeing answers, the most confident first, are suspect.
   Counted separately for reviews the model calls positive and negative, so that lies pushed
   in one direction stand out against honest corrections in both. When only a majority
   (``FLOOD_SHARE``) of inverted answers explains a group's disagreements, the group is a
   flood and all of it is suspect: its answers that agree with the model are then mostly
   lies on the reviews the model gets wrong. Keeping just those cost more RT accuracy over
   six floods (-3.9 points) than keeping every answer under ``CONFIDENT`` (-1.7 points;
   bench/results/screening.md).
3. **A source's surplus.** The same count per source (``sources``, the keyed hash of the
   sender): a source whose answers disagree with the model beyond its expectation by
   ``SOURCE_Z`` standard deviations, and by at least ``SOURCE_MIN_EXCESS`` answers, is lying;
   all its answers are suspect (an operator can approve a source's rows at once). This is
   what catches lies the model is unsure of, when one sender tells them.

A model fitted on the *other* answers of the batch (k-fold) was measured too and not used.
It costs k fits (3-17 s for 1,000 answers and a 5,000-label replay, against 3-11 ms
here), and coordinated lies support each other in it: it flagged 68% of the targeted lies,
where the current model flags all of them (bench/results/screening.md). ``base`` and
``replay`` are taken so that the recipe can change without the caller changing.

The ``score`` is the current model's probability for the label the answer did not give: it
compares across runs and batches. ``suspect`` also depends on the batch and the source, so
a suspect answer may score lower than a kept one in another batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from movieclassifier.model import Labelled, SentimentModel

# Suspect by itself at or above this probability against the answer. Measured on RT with the
# IMDb model, 5 seeds (bench/results/screening.md, "Thresholds"): 0.8 keeps 96.6% of the
# honest answers of a mixed batch and flags all its targeted lies; 0.75 keeps 94.8%, under
# the 95%; 0.85 flags 74-79% of the lies, under its 80%.
CONFIDENT = 0.8
# Standard deviations of slack before disagreements count as a surplus. Measured
# (bench/results/screening.md, "Thresholds"): at 2 or 3 the surplus flags no answer of an
# honest-only batch, on RT or on IMDb first sentences (where the model expects 1.6 points too
# few disagreements); with weak lies 2 flags 42% of them against 32%, but keeps 95.1% of the
# honest answers against 95.7%.
SURPLUS_Z = 3.0
# A group whose disagreements are explained only by more than this share of inverted
# answers is a flood: all its answers are suspect. Measured (bench/results/screening.md,
# "Flood share"): honest batches estimate -0.27 to 0.13, 50 targeted lies among 550 honest
# answers 0.27-0.42, 10% random flips up to 0.23, floods of 120 inverted answers 0.69-1.33.
FLOOD_SHARE = 0.5
# A source is lying when its disagreements exceed its expectation by this many standard
# deviations and by at least this many answers (a one-source flood of 120 RT answers scores
# z = 9.9-12.9, of 120 IMDb first sentences 12.1-13.7; a whole honest batch -2.7 to 1.2).
SOURCE_Z = 4.0
SOURCE_MIN_EXCESS = 5.0
MAX_REASON = 64


@dataclass(frozen=True)
class Verdict:
    """One answer's verdict: quarantine it (``suspect``), how much, and why in a few words."""

    suspect: bool
    score: float  # higher = more suspect; comparable across runs
    reason: str  # at most MAX_REASON characters, for operators


def screen(
    current: SentimentModel,
    base: SentimentModel,
    replay: Labelled,
    new: Labelled,
    sources: Sequence[str | None] | None = None,
) -> list[Verdict]:
    """One verdict per row of ``new``, in order.

    ``current`` is the served model, ``base`` the model the retrain starts from, ``replay``
    the labels its lineage already learned (both unused by this recipe), ``sources`` the
    sender of each row (None when unknown).
    """
    count = len(new.texts)
    if count != len(new.labels) or (sources is not None and len(sources) != count):
        raise ValueError("texts, labels and sources must have one entry per answer")
    if count == 0:
        return []
    labels = np.asarray(new.labels)
    positive = current.positive_probabilities(current.vectorize(new.texts))
    against = np.where(labels == 1, 1.0 - positive, positive)
    expect = np.minimum(positive, 1.0 - positive)  # P(an honest answer disagrees)
    disagrees = against > 0.5
    reasons: list[str | None] = [None] * count
    for row in np.flatnonzero(against >= CONFIDENT):
        reasons[row] = f"disagrees with the model (p={against[row]:.2f})"
    lying = _lying_sources(sources, disagrees, expect)
    caught = np.zeros(count, dtype=bool)
    for rows, _ in lying:
        caught[rows] = True
    for group in (positive >= 0.5, positive < 0.5):
        rows = np.flatnonzero(group)
        excess = _excess(disagrees[rows], expect[rows], SURPLUS_Z)
        if excess <= 0:
            continue
        # Whether the rest is a flood is judged without a lying source's answers: caught
        # already, they must not make the honest answers around them a flood. (Confident
        # disagreements stay counted: without them a flood's low-confidence rest can pass.)
        rest = rows[~caught[rows]]
        share = _inverted_share(disagrees[rest], expect[rest]) if len(rest) else 0.0
        if share >= FLOOD_SHARE:
            # Mostly inverted answers: those that agree with the model are mostly lies on the
            # reviews it gets wrong, and learning them confirms its mistakes.
            for row in rows:
                reasons[row] = (
                    f"one of {len(rows)} answers in a flood ({min(share, 1.0):.0%} inverted)"
                )
            continue
        # The most confident disagreements first; a stable sort keeps ties in row order.
        for row in rows[np.argsort(-against[rows], kind="stable")][:excess]:
            reasons[row] = reasons[row] or (
                f"disagrees with the model (p={against[row]:.2f}), one of {excess} too many"
            )
    for rows, note in lying:
        for row in rows:
            reasons[row] = note
    return [
        Verdict(
            reason is not None,
            float(against[row]),
            (reason or _kept(float(against[row])))[:MAX_REASON],
        )
        for row, reason in enumerate(reasons)
    ]


def _excess(disagrees: np.ndarray, expect: np.ndarray, z: float) -> int:
    """Disagreements beyond what the model expects of honest answers, plus ``z`` sd of slack.

    Ten answers all against a model that expected one of them (sd 0.95):

    >>> _excess(np.ones(10, bool), np.full(10, 0.1), 3.0)
    6
    >>> _excess(np.array([True, False]), np.array([0.5, 0.5]), 3.0)
    0
    """
    observed = float(np.sum(disagrees))
    mean = float(np.sum(expect))
    spread = math.sqrt(float(np.sum(expect * (1.0 - expect))))
    return max(0, math.floor(observed - mean - z * spread))


def _inverted_share(disagrees: np.ndarray, expect: np.ndarray) -> float:
    """The share ``f`` of answers inverted at random that explains the disagreements seen.

    An honest answer disagrees with probability ``e``, an inverted one with ``1 - e``, so
    ``E[disagreements] = sum(e) + f * sum(1 - 2e)``.

    >>> _inverted_share(np.array([True, True, True, False]), np.full(4, 0.25))
    1.0
    >>> _inverted_share(np.array([True, False, False, False]), np.full(4, 0.25))
    0.0
    """
    room = float(np.sum(1.0 - 2.0 * expect))
    if room <= 0.0:
        return 0.0
    return (float(np.sum(disagrees)) - float(np.sum(expect))) / room


def _lying_sources(
    sources: Sequence[str | None] | None, disagrees: np.ndarray, expect: np.ndarray
) -> list[tuple[np.ndarray, str]]:
    """The rows of each source that disagrees with the model far beyond its expectation."""
    if sources is None:
        return []
    by_source: dict[str, list[int]] = {}
    for row, source in enumerate(sources):
        if source is not None:
            by_source.setdefault(source, []).append(row)
    lying = []
    for rows in by_source.values():
        index = np.asarray(rows)
        observed = int(np.sum(disagrees[index]))
        mean = float(np.sum(expect[index]))
        spread = math.sqrt(float(np.sum(expect[index] * (1.0 - expect[index]))))
        excess = observed - mean
        if excess >= SOURCE_MIN_EXCESS and excess >= SOURCE_Z * spread:
            note = f"source sent {observed} of {len(rows)} against the model (expected {mean:.0f})"
            lying.append((index, note))
    return lying


def _kept(against: float) -> str:
    if against > 0.5:
        return f"a plausible correction (p={against:.2f} against the model)"
    return f"agrees with the model (p={1.0 - against:.2f})"
