import pickle

import numpy as np
import pytest

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from movieclassifier import model as model_module
from movieclassifier.model import (
    CLASSES,
    LABELS,
    SentimentModel,
    new_classifier,
)

REVIEWS = ["great film", "awful, boring film", "it was fine, not great", "Loved it :)"]


def test_predicting_changes_nothing(tiny_model):
    coef = tiny_model.classifier.coef_.copy()
    intercept = tiny_model.classifier.intercept_.copy()
    seen, t = tiny_model.samples_seen, tiny_model.classifier.t_
    first = tiny_model.predict(REVIEWS)
    tiny_model.accuracy(REVIEWS, [1, 0, 0, 1])
    assert tiny_model.predict(REVIEWS) == first
    np.testing.assert_array_equal(tiny_model.classifier.coef_, coef)
    np.testing.assert_array_equal(tiny_model.classifier.intercept_, intercept)
    assert (tiny_model.samples_seen, tiny_model.classifier.t_) == (seen, t)


@pytest.mark.parametrize("count", [1, 2, len(REVIEWS)])
def test_fast_path_equals_predict_proba(tiny_model, count):
    features = tiny_model.vectorize(REVIEWS[:count])
    fast = tiny_model.positive_probabilities(features)
    slow = tiny_model.classifier.predict_proba(features)[:, 1]
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_prediction_reports_label_probability_and_version(tiny_model):
    tiny_model.version = 7
    good, bad = tiny_model.predict(["a wonderful, brilliant film", "a terrible, boring mess"])
    assert (good.label, bad.label) == (LABELS[1], LABELS[0])
    assert good.probability == pytest.approx(good.positive_probability)
    assert bad.probability == pytest.approx(1 - bad.positive_probability)
    assert good.model_version == bad.model_version == 7


def test_learning_one_class_first_works_because_classes_are_passed():
    model = SentimentModel(new_classifier(0))
    model.learn(["only good things"], [1])
    assert list(model.classifier.classes_) == list(CLASSES)
    assert model.samples_seen == 1


def test_learning_moves_the_weights_towards_the_labels(tiny_model):
    review = ["an odd quirky zany film"]
    before = tiny_model.predict(review)[0].positive_probability
    for _ in range(20):
        tiny_model.learn(review, [0])
    assert tiny_model.predict(review)[0].positive_probability < before


def _averaged_model():
    model = SentimentModel(new_classifier(0))
    texts = POSITIVE_REVIEWS + NEGATIVE_REVIEWS
    labels = [1] * len(POSITIVE_REVIEWS) + [0] * len(NEGATIVE_REVIEWS)
    model.learn(texts, labels)
    model_module.average_from_now(model.classifier)
    for _ in range(3):
        model.learn(texts, labels)
    return model


def test_averaging_from_now_serves_the_average_of_later_weights():
    model = _averaged_model()
    classifier = model.classifier
    assert classifier.average == 21  # t_ counts from 1: averaging from the 21st sample
    np.testing.assert_array_equal(classifier.coef_, classifier._average_coef)
    assert not np.array_equal(classifier.coef_, classifier._standard_coef)


def test_compact_keeps_predictions_and_drops_the_averaging_state():
    model = _averaged_model()
    before = [p.positive_probability for p in model.predict(REVIEWS)]
    size = len(pickle.dumps(model.classifier))
    model_module.compact(model.classifier)
    assert [p.positive_probability for p in model.predict(REVIEWS)] == before
    assert not hasattr(model.classifier, "_average_coef")
    assert model.classifier.average is False
    assert len(pickle.dumps(model.classifier)) < size / 2
    # It still learns, as plain SGD from the served weights.
    model.learn(["a dreadful film"], [0])
    assert [p.positive_probability for p in model.predict(REVIEWS)] != before


@pytest.mark.parametrize("count", [1, 5, 16, 17, 100])
def test_predict_agrees_with_predict_proba(tiny_model, count):
    from loop_helpers import movie_rows

    reviews = [review for review, _ in movie_rows(count)]
    reviews[0] = ""  # a review with no feature at all scores the bias alone
    expected = tiny_model.classifier.predict_proba(tiny_model.vectorize(reviews))[:, 1]
    got = np.array([p.positive_probability for p in tiny_model.predict(reviews)])
    # predict sums in float64, the matrix product in float32.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert [p.label for p in tiny_model.predict(reviews)] == [
        LABELS[int(p >= 0.5)] for p in expected
    ]


def test_a_review_scores_the_same_alone_or_in_a_batch(tiny_model):
    from loop_helpers import movie_rows

    reviews = [review for review, _ in movie_rows(100)]
    together = tiny_model.predict(reviews)
    alone = [tiny_model.predict([review])[0] for review in reviews]
    assert together == alone
