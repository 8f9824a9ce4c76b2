"""The classifier behind one small interface: probabilities for reviews, learning a batch.

``SGDClassifier`` with logistic loss over the stateless features of ``features``. Only
``training`` and ``retrain`` call ``learn``; web workers only ``predict``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import SGDClassifier

from movieclassifier.features import feature_scores, make_vectorizer

CLASSES = (0, 1)
LABELS = {0: "negative", 1: "positive"}
LABEL_IDS = {name: number for number, name in LABELS.items()}
NEGATIVE, POSITIVE = LABELS[0], LABELS[1]

# Chosen by measurement on the book's split; see bench/results/train.md.
ALPHA = 1e-6
# A training run averages the weights once this share of its steps is done: averaging
# from the first step keeps the poor early weights in the mean (bench/results/train.md).
AVERAGE_START = 0.3
_AVERAGE_STATE = ("_standard_coef", "_standard_intercept", "_average_coef", "_average_intercept")


class Labelled(NamedTuple):
    """Reviews and their labels (0/1), in the same order."""

    texts: list[str]
    labels: list[int]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, int]]) -> Labelled:
        """From (review, label) rows, such as a query's result.

        >>> Labelled.of([("Fine.", 1), ("Dull.", 0)])
        Labelled(texts=['Fine.', 'Dull.'], labels=[1, 0])
        """
        held = cls([], [])
        for review, label in rows:
            held.texts.append(review)
            held.labels.append(label)
        return held


class Featured(NamedTuple):
    """Labelled rows and their features, hashed once for every model and fit that scores
    them (a retrain's gate and its calibration read the same held-out rows)."""

    rows: Labelled
    features: sparse.csr_matrix

    @classmethod
    def of(cls, rows: Labelled) -> Featured:
        return cls(rows, make_vectorizer().transform(rows.texts))

    def plus(self, more: Labelled) -> Featured:
        """These rows followed by ``more``, hashing only ``more``."""
        if not more.texts:
            return self
        joined = Labelled(self.rows.texts + more.texts, self.rows.labels + more.labels)
        added = make_vectorizer().transform(more.texts)
        return Featured(joined, sparse.vstack([self.features, added], format="csr"))


class Prediction(NamedTuple):
    """One answer: the label, the probability of that label, and the version that gave it.

    A named tuple rather than a frozen dataclass: a batch makes one per review, and a tuple
    is cheaper to make.
    """

    label: str
    probability: float
    positive_probability: float
    model_version: int | None


@dataclass(frozen=True)
class Calibration:
    """How the classifier's scores become the probabilities people see: temperature scaling.

    P(positive) = sigmoid(``scale`` * score), where score is the classifier's logit. One
    parameter, so the label (the score's sign) never changes. ``calibration.calibrate``
    fits it on rows the version did not learn; ``rows`` is how many (0: never fitted, the
    identity). ``ece_before`` and ``ece_after`` are on those rows.
    """

    scale: float = 1.0
    rows: int = 0
    ece_before: float | None = None
    ece_after: float | None = None
    fitted_on: str = ""
    # The reliability diagram of the held-out rows, calibrated: (low, high, rows,
    # mean confidence, accuracy) per non-empty bin (``reliability.bins_of``).
    held_out_bins: tuple[tuple[float, float, int, float, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"method": "temperature", "temperature": 1.0 / self.scale, **asdict(self)}


IDENTITY = Calibration()


def is_unsure(probability: float, band: float) -> bool:
    """Whether the probability of the label shown is within ``band`` of a coin toss
    (``UNSURE_BAND``; the result page then says "not sure").

    >>> is_unsure(0.59, 0.1), is_unsure(0.6, 0.1), is_unsure(0.55, 0.0)
    (True, False, False)
    """
    return probability < 0.5 + band


def new_classifier(seed: int = 0) -> SGDClassifier:
    """An untrained classifier with the project's hyper-parameters (not averaging yet).

    ``shuffle=False``: a step's rows are learned in the file's order (IMDb's rows are in a
    random order already); that is faster than shuffling each step, at the same accuracy
    (see bench/results/train.md).
    """
    return SGDClassifier(
        loss="log_loss", alpha=ALPHA, average=False, random_state=seed, shuffle=False
    )


def average_from_now(classifier: SGDClassifier) -> SGDClassifier:
    """Average the weights of the samples ``classifier`` learns from now on (in place).

    scikit-learn's ``average=N`` averages from the N-th sample on; its counter ``t_``
    starts at 1. A fitted, non-averaging classifier gets the state averaging needs,
    starting from its current weights.
    """
    if not hasattr(classifier, "coef_"):
        classifier.set_params(average=True)
        return classifier
    if not classifier.average:
        classifier._standard_coef = classifier.coef_.copy()
        classifier._average_coef = classifier.coef_.copy()
        classifier._standard_intercept = classifier.intercept_.copy()
        classifier._average_intercept = classifier.intercept_.copy()
    classifier.set_params(average=int(classifier.t_))
    return classifier


def set_weights(classifier: SGDClassifier, weights: np.ndarray) -> SGDClassifier:
    """Make ``weights`` the served weights of a fitted classifier (in place; returns it).

    An averaging classifier keeps its own running and averaged copies of the weights; they
    become the new ones too, so a later ``partial_fit`` (``train --continue``) continues
    from what is served.
    """
    classifier.coef_ = weights.astype(classifier.coef_.dtype).reshape(1, -1)
    if classifier.average:
        for name in ("_standard_coef", "_average_coef"):
            setattr(classifier, name, classifier.coef_.copy())
        for name in ("_standard_intercept", "_average_intercept"):
            setattr(classifier, name, classifier.intercept_.copy())
    return classifier


def compact(classifier: SGDClassifier) -> SGDClassifier:
    """Keep only the weights that predict, and stop averaging (in place; returns it).

    An averaging ``SGDClassifier`` carries three weight vectors (served, running and
    averaged); the served one is all that predicting needs, so the stored file is a third
    of the size. Later ``partial_fit`` calls continue as plain SGD from these weights.
    """
    if classifier.average and hasattr(classifier, "coef_"):
        classifier.coef_ = classifier.coef_.copy()
        classifier.intercept_ = classifier.intercept_.copy()
        for name in _AVERAGE_STATE:
            if hasattr(classifier, name):
                delattr(classifier, name)
    classifier.set_params(average=False)
    return classifier


def _sigmoid(score: float) -> float:
    """The logistic function, as ``scipy.special.expit`` computes it, for one number.

    >>> _sigmoid(0.0), round(_sigmoid(800.0), 6), _sigmoid(-800.0)
    (0.5, 1.0, 0.0)
    """
    if score >= 0:
        return 1.0 / (1.0 + math.exp(-score))
    exp = math.exp(score)
    return exp / (1.0 + exp)


class SentimentModel:
    """A trained (or new) classifier plus the version number the store gave it.

    ``calibration`` turns its scores into the probabilities ``predict`` gives; a model
    pickled before calibration existed has none of its own and gets the identity.
    """

    calibration: Calibration = IDENTITY

    def __init__(
        self,
        classifier: SGDClassifier | None = None,
        version: int | None = None,
        samples_seen: int = 0,
    ) -> None:
        self.classifier = classifier if classifier is not None else new_classifier()
        self.version = version
        self.samples_seen = samples_seen
        self._vectorizer = make_vectorizer()
        # The served weights, derived from the classifier once and again after learning.
        self._served: tuple[np.ndarray, np.ndarray, float] | None = None

    def vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Features of each review, one row each."""
        return self._vectorizer.transform(texts)

    def positive_probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        """P(positive) for each row of ``features``, on the learner's own (uncalibrated) scale.

        A fast path equal to ``predict_proba(...)[:, 1]`` (a test checks it): a sparse dot
        product and a sigmoid, without scikit-learn's per-call input validation, which is
        most of the cost of one prediction. ``screening``'s thresholds were measured on this
        scale; ``predict`` shows the calibrated one.
        """
        return expit(self.scores(features))

    def scores(self, features: sparse.csr_matrix) -> np.ndarray:
        """The classifier's logit for each row of ``features`` (before calibration)."""
        weights, bias, _ = self._served_weights()
        return features @ weights + bias

    def served_weights(self) -> tuple[np.ndarray, float]:
        """The weights (one per feature column) and the intercept that ``predict`` uses."""
        weights, _, intercept = self._served_weights()
        return weights, intercept

    def _served_weights(self) -> tuple[np.ndarray, np.ndarray, float]:
        """The weights as one contiguous vector, the bias as a float64 array (as
        scikit-learn adds it: float32 scores become float64) and as a float."""
        if self._served is None:
            weights = np.ascontiguousarray(self.classifier.coef_.ravel())
            bias = np.asarray(self.classifier.intercept_, dtype=np.float64)
            self._served = (weights, bias, float(bias[0]))
        return self._served

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label and calibrated probability for each review; never changes the model.

        Each review is scored on its own by ``features.feature_scores``, without a sparse matrix
        (scipy's matrix construction and numpy's calls are most of the cost of a few rows,
        and in C a whole batch is one call), so a review scores the same alone or in a
        batch. The sums run in float64: they differ from the float32 matrix product of
        ``positive_probabilities`` by about 1e-6 (a test checks the two agree).
        """
        weights, _, intercept = self._served_weights()
        version = self.version
        scale = self.calibration.scale
        predictions = []
        # One plain loop for the whole batch: its body runs MAX_BATCH times per request.
        for score in feature_scores(texts, weights):
            positive = _sigmoid(scale * (score + intercept))
            if positive >= 0.5:
                predictions.append(Prediction(POSITIVE, positive, positive, version))
            else:
                predictions.append(Prediction(NEGATIVE, 1.0 - positive, positive, version))
        return predictions

    def learn(
        self,
        texts: Sequence[str],
        labels: Sequence[int],
        sample_weight: Sequence[float] | None = None,
    ) -> None:
        """One ``partial_fit`` step on a batch of reviews with labels 0/1."""
        self.learn_features(self.vectorize(texts), labels, sample_weight)

    def learn_features(
        self,
        features: sparse.csr_matrix,
        labels: Sequence[int] | np.ndarray,
        sample_weight: Sequence[float] | None = None,
    ) -> None:
        """One ``partial_fit`` step on rows already vectorized by ``features.make_vectorizer``."""
        self.classifier.partial_fit(
            features, np.asarray(labels), classes=CLASSES, sample_weight=sample_weight
        )
        self.samples_seen += features.shape[0]
        self._served = None

    def accuracy(self, texts: Sequence[str], labels: Sequence[int]) -> float:
        """Share of ``texts`` whose predicted label is the given one."""
        if not texts:
            return float("nan")
        return self.accuracy_of_features(self.vectorize(texts), labels)

    def accuracy_of_features(self, features: sparse.csr_matrix, labels: Sequence[int]) -> float:
        """``accuracy`` on rows already vectorized, so two models can share one matrix."""
        positive = self.positive_probabilities(features)
        return float(np.mean((positive >= 0.5).astype(int) == np.asarray(labels)))
