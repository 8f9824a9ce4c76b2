"""The retrain recipe (movieclassifier/learning.py), on the tiny model, without a database."""

import numpy as np
import pytest
from scipy import sparse

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from movieclassifier import learning
from movieclassifier.model import Labelled, SentimentModel, average_from_now

# Labels the tiny model has not seen, some of them against what it predicts.
FEEDBACK = [
    ("A slow, tedious film that never finds its story.", 0),
    ("Surprisingly touching, with a cast that clearly cared.", 1),
    ("Overlong and smug; the jokes fall flat.", 0),
    ("A quiet gem: patient, funny and kind.", 1),
    (POSITIVE_REVIEWS[0], 0),
    (NEGATIVE_REVIEWS[0], 1),
]
PROBES = ["tedious and smug", "a patient, kind gem", POSITIVE_REVIEWS[0], NEGATIVE_REVIEWS[0]]
NONE = Labelled([], [])


def labelled(rows):
    return Labelled([text for text, _ in rows], [label for _, label in rows])


def positive(model, texts=PROBES):
    return model.positive_probabilities(model.vectorize(texts))


def test_learn_moves_the_model_towards_the_labels(tiny_model):
    learned = learning.learn(tiny_model, NONE, labelled(FEEDBACK))
    before, after = (
        positive(tiny_model, labelled(FEEDBACK).texts),
        positive(learned, labelled(FEEDBACK).texts),
    )
    labels = np.array(labelled(FEEDBACK).labels)
    # Every label's probability rises.
    assert np.all(np.where(labels == 1, after - before, before - after) > 0)


def test_a_model_is_a_function_of_the_set_of_labels(tiny_model):
    """learning.py: "starting from the base keeps the model a function of the set of labels"."""
    reference = learning.learn(tiny_model, labelled(FEEDBACK[:3]), labelled(FEEDBACK[3:]))
    shuffled = [FEEDBACK[i] for i in np.random.RandomState(0).permutation(len(FEEDBACK))]
    assert shuffled != FEEDBACK
    for replay, new in [
        (NONE, labelled(shuffled)),
        (labelled(shuffled[:4]), labelled(shuffled[4:])),
        (labelled(shuffled), NONE),
    ]:
        model = learning.learn(tiny_model, replay, new)
        np.testing.assert_allclose(
            model.classifier.coef_, reference.classifier.coef_, rtol=1e-5, atol=1e-7
        )
        np.testing.assert_allclose(positive(model), positive(reference), rtol=1e-6, atol=1e-9)
        assert model.samples_seen == reference.samples_seen
    # Not trivially equal: the labels moved the weights, and other labels move them elsewhere.
    assert not np.allclose(reference.classifier.coef_, tiny_model.classifier.coef_)
    other = learning.learn(tiny_model, NONE, labelled(FEEDBACK[:-1]))
    assert not np.allclose(other.classifier.coef_, reference.classifier.coef_)


def test_learn_moves_only_the_features_the_labels_contain_and_keeps_the_intercept(tiny_model):
    learned = learning.learn(tiny_model, NONE, labelled(FEEDBACK))
    columns = np.unique(learned.vectorize(labelled(FEEDBACK).texts).indices)
    moved = np.flatnonzero(learned.classifier.coef_.ravel() != tiny_model.classifier.coef_.ravel())
    assert len(moved) > 0 and set(moved) <= set(columns)
    np.testing.assert_array_equal(learned.classifier.intercept_, tiny_model.classifier.intercept_)


def test_learn_leaves_the_start_model_alone(tiny_model):
    coef = tiny_model.classifier.coef_.copy()
    probabilities = positive(tiny_model)
    learned = learning.learn(tiny_model, NONE, labelled(FEEDBACK))
    np.testing.assert_array_equal(tiny_model.classifier.coef_, coef)
    np.testing.assert_array_equal(positive(tiny_model), probabilities)
    assert learned.classifier is not tiny_model.classifier
    assert learned.samples_seen == tiny_model.samples_seen + len(FEEDBACK)
    assert learned.version == tiny_model.version


def test_learn_without_labels_is_a_copy_of_the_start(tiny_model):
    learned = learning.learn(tiny_model, NONE, NONE)
    assert learned.classifier is not tiny_model.classifier
    np.testing.assert_array_equal(learned.classifier.coef_, tiny_model.classifier.coef_)
    assert learned.samples_seen == tiny_model.samples_seen


def test_learn_makes_an_averaging_classifier_continue_from_the_served_weights(tiny_model):
    averaging = SentimentModel(average_from_now(tiny_model.classifier))
    averaging.learn(POSITIVE_REVIEWS + NEGATIVE_REVIEWS, [1] * 10 + [0] * 10)
    learned = learning.learn(averaging, NONE, labelled(FEEDBACK))
    classifier = learned.classifier
    # partial_fit continues from the running and averaged copies (train --continue).
    for name in ("_standard_coef", "_average_coef"):
        np.testing.assert_array_equal(getattr(classifier, name), classifier.coef_)
    for name in ("_standard_intercept", "_average_intercept"):
        np.testing.assert_array_equal(getattr(classifier, name), classifier.intercept_)


def test_fit_correction_balances_the_loss_against_the_prior():
    features = sparse.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    labels = np.array([1, 1, 0])
    offset = np.array([0.5, -0.2, 0.1])
    delta = learning.fit_correction(features, labels, offset)
    margins = (2.0 * labels - 1.0) * (offset + features @ delta)
    gradient = features.T @ (-(2.0 * labels - 1.0) / (1.0 + np.exp(margins)))
    # At the optimum the loss's gradient is the prior's, reversed.
    np.testing.assert_allclose(gradient + learning.PRIOR_L2 * delta, 0.0, atol=1e-5)
    assert delta[0] > 0 and delta[1] < 0


def test_fit_correction_stays_put_when_nothing_pulls():
    features = sparse.csr_matrix((2, 3))
    delta = learning.fit_correction(features, np.array([1, 0]), np.zeros(2))
    np.testing.assert_array_equal(delta, np.zeros(3))


@pytest.mark.parametrize("key", ["method", "prior_l2", "intercept", "solver", "start", "replay"])
def test_describe_records_the_recipe(key):
    assert key in learning.describe()
    assert learning.describe()["prior_l2"] == learning.PRIOR_L2
