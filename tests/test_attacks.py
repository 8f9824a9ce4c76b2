"""The integrity attacks, end to end (docs/DESIGN.md, invariants 7 and 11; figures with the
full model in bench/results/integrity.md).

Each answer goes the way the API records it: the served model predicts the review,
``feedback.store_predictions`` keeps what it showed, and ``feedback.add`` records "correct"
or "incorrect" from a source (the keyed hash of a client address, as the API stores it).
The label is the model's if "correct", else the other one. Honest answers each come from a
source of their own; an attacker's lies from one. The answers are Rotten Tomatoes snippets
(rows 0-4999), and the held-back rows of the same domain are RT rows 5000 on (5,662).

The model is the suite's small IMDb model (2,000 reviews; 0.842 on its 500 held-out rows,
0.6916 on the held-back RT rows). It is confidently wrong on RT far more often than the full
model, so the screen keeps fewer honest answers here (76-84% of honest-only batches of 300,
against 93.5-98% with the full model); the thresholds below fit what it can do, with the
figures measured on it.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import gzip
import json
from collections import Counter

import numpy as np
import pytest
from sqlalchemy import select

from loop_helpers import REPO_ROOT, run_retrain
from movieclassifier import feedback, gate, model_store, retrain
from movieclassifier.model import SentimentModel
from movieclassifier.schema import HELD_OUT, LEARNED, PROMOTED, QUARANTINED, REJECTED, Feedback

RT = REPO_ROOT / "data" / "rt_polarity.csv.gz"
RT_POOL = 5000  # answers come from rows before this; the held-back rows are the rest
CONFIDENT_LIE = 0.8  # a targeted lie: the model calls it positive at least this sure
UNSURE = (0.5, 0.75)  # a subtle lie: the model calls it positive, unsure


@functools.cache
def rt_rows() -> tuple[tuple[str, ...], np.ndarray]:
    with gzip.open(RT, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return tuple(review for review, _ in rows), np.array([int(label) for _, label in rows])


def pool() -> tuple[tuple[str, ...], np.ndarray]:
    texts, labels = rt_rows()
    return texts[:RT_POOL], labels[:RT_POOL]


def held_back() -> tuple[list[str], list[int]]:
    texts, labels = rt_rows()
    return list(texts[RT_POOL:]), labels[RT_POOL:].tolist()


def honest_source(settings, index: int) -> str:
    return feedback.source_hash(settings.secret_key, f"api:10.0.{index // 250}.{index % 250}")


def attacker(settings) -> str:
    return feedback.source_hash(settings.secret_key, "api:203.0.113.66")


def current(sessions, settings) -> SentimentModel:
    with sessions() as session:
        return model_store.load_current(session, settings.model_dir)


def answer(sessions, settings, rows, labels, sources) -> list[int]:
    """Pool ``rows`` predicted by the served model, stored, and answered so that the
    confirmed label is ``labels``; the feedback ids, in order."""
    texts = [pool()[0][i] for i in rows]
    with sessions.begin() as session:
        model = model_store.load_current(session, settings.model_dir)
        ids = []
        for text, label, source, prediction in zip(
            texts, labels, sources, model.predict(texts), strict=True
        ):
            (row,) = feedback.store_predictions(session, [text], [prediction], "api", source)
            correct = (prediction.label == "positive") == bool(label)
            ids.append(feedback.add(session, row.id, correct, source).id)
    return ids


def statuses(sessions, ids) -> Counter:
    with sessions() as session:
        return Counter(session.scalars(select(Feedback.status).where(Feedback.id.in_(ids))))


def positive_probabilities(sessions, settings) -> np.ndarray:
    model = current(sessions, settings)
    return model.positive_probabilities(model.vectorize(list(pool()[0])))


def held_back_figures(model: SentimentModel) -> tuple[float, float]:
    """Accuracy and mean probability of the true label on the held-back RT rows."""
    texts, labels = held_back()
    positive = model.positive_probabilities(model.vectorize(texts))
    truth = np.asarray(labels)
    return model.accuracy(texts, labels), float(
        np.mean(np.where(truth == 1, positive, 1 - positive))
    )


def slice_figures(sessions, settings, anchor: SentimentModel) -> tuple[int, float, float]:
    """The domain slice: its rows, the served model's accuracy on it and the anchor's."""
    model = current(sessions, settings)
    with sessions() as session:
        held = feedback.domain_slice(session)
    return (
        len(held.texts),
        model.accuracy(held.texts, held.labels),
        anchor.accuracy(held.texts, held.labels),
    )


def retrain_report(settings) -> dict:
    """``scripts/retrain.py --json`` in a real process; its report."""
    done = run_retrain(settings, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# The mixed flood: 275 honest answers and 25 targeted lies (positive snippets the model calls
# positive at >= 0.8, answered "incorrect", from one source), shuffled, slice 10%.
MIXED_HONEST = 275
MIXED_LIES = 25


def mixed_batch(sessions, settings, seed: int = 0):
    """Send the mixed flood; the feedback ids and which of them are lies."""
    truth = pool()[1]
    positive = positive_probabilities(sessions, settings)
    rng = np.random.RandomState(seed)
    order = rng.permutation(RT_POOL)
    lies = [i for i in order if truth[i] == 1 and positive[i] >= CONFIDENT_LIE][:MIXED_LIES]
    honest = [i for i in order if i not in set(lies)][:MIXED_HONEST]
    rows = np.array(honest + lies)
    lie = np.array([False] * MIXED_HONEST + [True] * MIXED_LIES)
    shuffled = rng.permutation(len(rows))
    rows, lie = rows[shuffled], lie[shuffled]
    labels = np.where(lie, 0, truth[rows])
    sources = [
        attacker(settings) if is_lie else honest_source(settings, k) for k, is_lie in enumerate(lie)
    ]
    return np.array(answer(sessions, settings, rows, labels.tolist(), sources)), lie


# Measured (both backends, the same figures): promoted; 25 of 25 lies quarantined (as the
# attacker source's), none learned or held out. How many honest answers are kept: the next
# test.
@pytest.mark.slow
def test_a_mixed_flood_is_quarantined_and_the_version_promoted(settings, sessions, imdb_model):
    settings = dataclasses.replace(settings, gate_feedback_slice=0.1)
    ids, lie = mixed_batch(sessions, settings)
    report = retrain_report(settings)
    assert report["status"] == PROMOTED, report
    told = statuses(sessions, ids[lie].tolist())
    kept = statuses(sessions, ids[~lie].tolist())
    assert told[QUARANTINED] >= MIXED_LIES * 9 // 10, told
    assert told[LEARNED] + told[HELD_OUT] <= 1, told
    assert kept[LEARNED] > 0 and report["learned"] == kept[LEARNED] + told[LEARNED], report
    assert report["held_out"] == kept[HELD_OUT] + told[HELD_OUT], report


# Before the fix (measured): 91 of 275 honest answers accepted; 163 quarantined as "one of
# 188 answers in a flood (54% inverted)": the flood rule (screening.FLOOD_SHARE) estimated
# the inverted share of the group the model calls positive with the 25 lies of the one
# attacker source still in it. The rule now leaves a lying source's answers out.
def test_a_mixed_flood_keeps_most_honest_answers(settings, engine, sessions, imdb_model):
    settings = dataclasses.replace(settings, gate_feedback_slice=0.1)
    ids, lie = mixed_batch(sessions, settings)
    retrain.retrain(engine, settings)
    kept = statuses(sessions, ids[~lie].tolist())
    # The model's own confident mistakes on RT cost about 15% of the honest answers here
    # (49-73 of 300 in honest-only batches), so "most" is 70%.
    assert kept[LEARNED] + kept[HELD_OUT] >= MIXED_HONEST * 0.7, kept


# Measured: 100 targeted lies from one source: rejected, all 100 quarantined by the screen,
# no version made.
def test_a_targeted_flood_alone_learns_nothing(settings, engine, sessions, imdb_model):
    truth = pool()[1]
    positive = positive_probabilities(sessions, settings)
    order = np.random.RandomState(1).permutation(RT_POOL)
    lies = [i for i in order if truth[i] == 1 and positive[i] >= CONFIDENT_LIE][:100]
    ids = answer(sessions, settings, lies, [0] * len(lies), [attacker(settings)] * len(lies))
    report = retrain.retrain(engine, settings)
    assert (report.status, report.learned, report.quarantined) == (REJECTED, 0, 100), report
    # Each set aside by the screen (with its reason), so no version was even made: the gate
    # alone would have rejected the batch too, but after fitting it.
    assert report.version is None, report
    with sessions() as session:
        rows = list(session.scalars(select(Feedback).where(Feedback.id.in_(ids))))
        assert model_store.current_version(session) == imdb_model
    assert {row.status for row in rows} == {QUARANTINED}
    assert all(row.quarantine_reason for row in rows)


# Measured: 60 subtle lies (the model says positive at 0.5-0.75, answered "incorrect"), from
# one source: none is confident, but the source disagrees with the model 60 times, far
# beyond what the model expects of it (screening.SOURCE_Z): all 60 quarantined as that
# source's, rejected. Spread over many sources, such lies are caught (mostly) by the batch
# surplus instead: tests/test_gate_anchor.py, and the floods test below.
def test_subtle_lies_from_one_source_are_quarantined_as_that_sources(
    settings, engine, sessions, imdb_model
):
    truth = pool()[1]
    positive = positive_probabilities(sessions, settings)
    order = np.random.RandomState(2).permutation(RT_POOL)
    subtle = [i for i in order if truth[i] == 1 and UNSURE[0] < positive[i] < UNSURE[1]][:60]
    assert len(subtle) == 60
    ids = answer(sessions, settings, subtle, [0] * 60, [attacker(settings)] * 60)
    report = retrain.retrain(engine, settings)
    assert report.learned == 0 and report.status == REJECTED, report
    with sessions() as session:
        rows = list(session.scalars(select(Feedback).where(Feedback.id.in_(ids))))
    assert {row.status for row in rows} == {QUARANTINED}
    assert all(row.quarantine_reason.startswith("source sent") for row in rows), {
        row.quarantine_reason for row in rows
    }


# Measured: 600 answers, 60 of them inverted at random (each from its own source), slice
# 10%: promoted; on the held-back RT rows accuracy +0.25 points (0.6916 -> 0.6941) and the
# true label's mean probability +0.16 points. Over four draws of the rows the accuracy
# moved +0.09 to +0.25 points, the probability +0.10 to +0.21: small, but never negative.
NOISY = 600


@pytest.mark.slow
def test_random_noise_is_learned_with_a_lift(settings, sessions, imdb_model):
    settings = dataclasses.replace(settings, gate_feedback_slice=0.1)
    truth = pool()[1]
    rng = np.random.RandomState(0)
    rows = rng.permutation(RT_POOL)[:NOISY]
    flipped = np.zeros(NOISY, bool)
    flipped[rng.choice(NOISY, NOISY // 10, replace=False)] = True
    labels = np.where(flipped, 1 - truth[rows], truth[rows])
    before = held_back_figures(current(sessions, settings))
    answer(
        sessions,
        settings,
        rows,
        labels.tolist(),
        [honest_source(settings, k) for k in range(NOISY)],
    )
    report = retrain_report(settings)
    assert report["status"] == PROMOTED, report
    assert report["learned"] >= NOISY * 0.6, report
    after = held_back_figures(current(sessions, settings))
    assert after[0] > before[0], (before, after)
    assert after[1] > before[1], (before, after)


# Measured (honest round of 300, slice 10%): promoted, 223 learned, 25 held out, 52
# quarantined (the slice: 25 rows, the served model and the anchor 0.68 on it). Then six
# floods of 60 inverted answers from one source: each rejected with all 60 quarantined; the
# slice and the served version unchanged. Then six floods of 20 subtle lies (0.5-0.75, each
# from a source of its own, so no source stands out): each promoted a version with 1-3 of
# its lies, 10 of the 120 learned in all, none held out; the served model and the anchor
# still both 0.68 on the slice.
FLOODS = 6
FLOOD_SIZE = 60
SUBTLE_SIZE = 20


def test_floods_after_an_honest_round_leave_the_domain_slice_alone(
    settings, engine, sessions, imdb_model
):
    """tests/test_gate_anchor.py walks the model down with the slice off; here an honest
    round first builds the domain slice, and no flood may be learned or get into the slice,
    and the served model must stay within the bound of the anchor on it."""
    settings = dataclasses.replace(settings, gate_feedback_slice=0.1)
    anchor = current(sessions, settings)
    truth = pool()[1]
    positive = positive_probabilities(sessions, settings)
    order = np.random.RandomState(3).permutation(RT_POOL)
    honest = order[:300]
    answer(
        sessions,
        settings,
        honest,
        truth[honest].tolist(),
        [honest_source(settings, k) for k in range(len(honest))],
    )
    first = retrain.retrain(engine, settings)
    assert first.status == PROMOTED and first.held_out > 0, first
    assert slice_figures(sessions, settings, anchor)[0] == first.held_out

    def within_the_anchors_bound(step: str) -> int:
        size, now, at_anchor = slice_figures(sessions, settings, anchor)
        bound = max(settings.gate_max_drop, gate.SLICE_MIN_ROWS / size)
        assert at_anchor - now <= bound + 1e-9, (step, now, at_anchor)
        return size

    # Floods of inverted answers from one source.
    lies = []
    for flood in range(FLOODS):
        chosen = order[300 + FLOOD_SIZE * flood : 300 + FLOOD_SIZE * (flood + 1)]
        lies += answer(
            sessions,
            settings,
            chosen,
            (1 - truth[chosen]).tolist(),
            [attacker(settings)] * FLOOD_SIZE,
        )
        report = retrain.retrain(engine, settings)
        assert (report.status, report.learned, report.held_out) == (REJECTED, 0, 0), report
        assert within_the_anchors_bound(f"flood {flood + 1}") == first.held_out
    assert statuses(sessions, lies) == Counter({QUARANTINED: FLOODS * FLOOD_SIZE})
    with sessions() as session:
        assert model_store.current_version(session) == first.version
    # Subtle lies, each from a source of its own: some pass the screen.
    unseen = order[300 + FLOODS * FLOOD_SIZE :]
    subtle = [i for i in unseen if truth[i] == 1 and UNSURE[0] < positive[i] < UNSURE[1]]
    assert len(subtle) >= FLOODS * SUBTLE_SIZE
    lies = []
    for flood in range(FLOODS):
        chosen = subtle[SUBTLE_SIZE * flood : SUBTLE_SIZE * (flood + 1)]
        sources = [
            honest_source(settings, 1000 + SUBTLE_SIZE * flood + k) for k in range(SUBTLE_SIZE)
        ]
        lies += answer(sessions, settings, chosen, [0] * SUBTLE_SIZE, sources)
        report = retrain.retrain(engine, settings)
        within_the_anchors_bound(f"subtle flood {flood + 1}")
    told = statuses(sessions, lies)
    assert told[LEARNED] <= FLOODS * SUBTLE_SIZE // 8, told
    assert told[HELD_OUT] <= 2, told
