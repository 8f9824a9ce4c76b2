"""Per-label screening (movieclassifier/screening.py) on real small models, without a database.

A model trained like the default one (IMDb sentences, one pass averaged from 30%) on 6,000
IMDb reviews, answers drawn from the next reviews; and the tiny handwritten model.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import movie_rows
from movieclassifier import features, screening
from movieclassifier.model import (
    Labelled,
    SentimentModel,
    average_from_now,
    compact,
    new_classifier,
)

NONE = Labelled([], [])
TRAIN_ROWS = 6000


@pytest.fixture(scope="module")
def imdb() -> SentimentModel:
    """Sentences of 6,000 IMDb reviews in 10 steps, averaged from the 4th (about 2 s)."""
    rows = movie_rows(TRAIN_ROWS)
    matrix, review = features.sentence_features([text for text, _ in rows])
    labels = np.array([label for _, label in rows])[review]
    model = SentimentModel(new_classifier(0))
    for step, index in enumerate(np.array_split(np.arange(matrix.shape[0]), 10)):
        if step == 3:
            average_from_now(model.classifier)
        model.learn_features(matrix[index], labels[index])
    compact(model.classifier)
    return model


@pytest.fixture(scope="module")
def answers(imdb) -> tuple[list[str], np.ndarray, np.ndarray]:
    """1,000 reviews the model never saw, their true labels and its P(positive)."""
    rows = movie_rows(1000, skip=TRAIN_ROWS)
    texts = [text for text, _ in rows]
    return (
        texts,
        np.array([label for _, label in rows]),
        imdb.positive_probabilities(imdb.vectorize(texts)),
    )


def suspects(verdicts: list[screening.Verdict]) -> np.ndarray:
    return np.array([verdict.suspect for verdict in verdicts], dtype=bool)


def targeted_batch(answers, low: float, high: float, lies: int = 25, honest: int = 300):
    """``lies`` positive reviews the model scores in [low, high) answered negative, among
    ``honest`` true answers; the honest ones first."""
    texts, truth, positive = answers
    liars = np.flatnonzero((truth == 1) & (positive >= low) & (positive < high))[:lies]
    assert len(liars) == lies
    others = np.setdiff1d(np.arange(len(texts)), liars)[:honest]
    rows = np.concatenate([others, liars])
    labels = np.concatenate([truth[others], np.zeros(lies, int)])
    lie = np.concatenate([np.zeros(honest, bool), np.ones(lies, bool)])
    return Labelled([texts[i] for i in rows], labels.tolist()), lie


def test_targeted_lies_are_suspect_and_honest_answers_kept(imdb, answers):
    batch, lie = targeted_batch(answers, 0.9, 1.01)
    flagged = suspects(screening.screen(imdb, imdb, NONE, batch))
    assert flagged[lie].mean() >= 0.9
    # Quarantining every disagreement would keep about 87% of the honest answers.
    assert (~flagged[~lie]).mean() >= 0.9


def test_honest_corrections_the_model_is_unsure_of_are_kept(imdb, answers):
    texts, truth, positive = answers
    rows = np.arange(600)
    verdicts = screening.screen(imdb, imdb, NONE, Labelled([texts[i] for i in rows], truth[rows]))
    against = np.where(truth[rows] == 1, 1 - positive[rows], positive[rows])
    unsure = (against > 0.5) & (against < 0.7)
    assert unsure.sum() >= 20  # the test means something: the model is wrong on these
    assert not suspects(verdicts)[unsure].any()
    assert all("plausible correction" in verdicts[i].reason for i in np.flatnonzero(unsure))


def test_a_surplus_of_disagreements_is_suspect_most_confident_first(imdb, answers):
    """Lies the model is unsure of, too many to be honest corrections: the most confident
    disagreements of their group are suspect, as many as the surplus."""
    batch, lie = targeted_batch(answers, 0.6, 0.8, lies=40)
    verdicts = screening.screen(imdb, imdb, NONE, batch)
    flagged = suspects(verdicts)
    scores = np.array([verdict.score for verdict in verdicts])
    assert flagged[lie].mean() >= 0.25  # none of them by confidence alone (p < 0.8)
    assert any("too many" in verdict.reason for verdict in verdicts)
    assert (~flagged[~lie]).mean() >= 0.9
    predicted = imdb.positive_probabilities(imdb.vectorize(batch.texts)) >= 0.5
    for group in (predicted, ~predicted):
        if (group & flagged).any():
            assert scores[group & flagged].min() >= scores[group & ~flagged].max()


def test_a_flood_of_inverted_answers_alone_is_all_suspect(imdb, answers):
    texts, truth, _ = answers
    flood = Labelled(texts[:120], (1 - truth[:120]).tolist())
    verdicts = screening.screen(imdb, imdb, NONE, flood)
    assert suspects(verdicts).all()
    assert all("flood" in verdict.reason for verdict in verdicts)


def test_a_lying_source_is_caught_only_with_sources(imdb, answers):
    """Lies the model is unsure of look like honest corrections; their one sender gives
    them away."""
    batch, lie = targeted_batch(answers, 0.6, 0.8, lies=20)
    sources = [f"user{i % 50}" for i in range(len(lie))]
    sources = ["liar" if is_lie else who for is_lie, who in zip(lie, sources, strict=True)]
    without = suspects(screening.screen(imdb, imdb, NONE, batch))
    with_sources = screening.screen(imdb, imdb, NONE, batch, sources)
    assert without[lie].mean() < 0.5
    assert suspects(with_sources)[lie].all()
    assert all(
        with_sources[i].reason.startswith("source sent 20 of 20") for i in np.flatnonzero(lie)
    )
    # Honest senders are not taken for liars.
    assert suspects(with_sources)[~lie].sum() == without[~lie].sum()
    # Unknown senders (None) are never grouped together.
    unknown = screening.screen(imdb, imdb, NONE, batch, [None] * len(lie))
    assert suspects(unknown).tolist() == without.tolist()


def test_verdicts_align_with_rows(tiny_model):
    texts = POSITIVE_REVIEWS[:3] + NEGATIVE_REVIEWS[:3]
    labels = [1, 0, 1, 0, 0, 1]  # rows 1 and 5 answered against what the model is sure of
    verdicts = screening.screen(tiny_model, tiny_model, NONE, Labelled(texts, labels))
    positive = tiny_model.positive_probabilities(tiny_model.vectorize(texts))
    expected = np.where(np.array(labels) == 1, 1 - positive, positive)
    assert [verdict.score for verdict in verdicts] == pytest.approx(expected.tolist())
    assert suspects(verdicts).tolist() == [False, True, False, False, False, True]
    backwards = screening.screen(tiny_model, tiny_model, NONE, Labelled(texts[::-1], labels[::-1]))
    assert backwards == verdicts[::-1]


def test_reasons_are_short_and_say_why(imdb, answers):
    batch, lie = targeted_batch(answers, 0.6, 1.01, lies=60, honest=200)
    sources = ["liar" if is_lie else f"user{i}" for i, is_lie in enumerate(lie)]
    verdicts = screening.screen(imdb, imdb, NONE, batch, sources)
    verdicts += screening.screen(imdb, imdb, NONE, Labelled(batch.texts, batch.labels))
    assert all(0 < len(verdict.reason) <= screening.MAX_REASON for verdict in verdicts)
    assert all(
        verdict.reason.startswith(("disagrees", "source", "one of"))
        for verdict in verdicts
        if verdict.suspect
    )
    assert all(
        verdict.reason.startswith(("agrees", "a plausible"))
        for verdict in verdicts
        if not verdict.suspect
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdicts[0].suspect = False  # type: ignore[misc]


def test_an_empty_batch_gives_no_verdicts(tiny_model):
    assert screening.screen(tiny_model, tiny_model, NONE, NONE) == []
    assert screening.screen(tiny_model, tiny_model, NONE, NONE, []) == []


def test_rows_and_sources_must_match(tiny_model):
    with pytest.raises(ValueError):
        screening.screen(tiny_model, tiny_model, NONE, Labelled(["Great."], [1, 0]))
    with pytest.raises(ValueError):
        screening.screen(tiny_model, tiny_model, NONE, Labelled(["Great."], [1]), ["a", "b"])
