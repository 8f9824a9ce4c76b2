"""The classifier behind one small interface: probabilities for reviews, learning a batch.

``SGDClassifier`` with logistic loss over the stateless features of ``text``. Only
``training`` and ``retrain`` call ``learn``; web workers only ``predict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import SGDClassifier

from movieclassifier import text

CLASSES = (0, 1)
LABELS = {0: "negative", 1: "positive"}
LABEL_IDS = {name: number for number, name in LABELS.items()}

# Chosen by measurement on the book's split; see bench/README.md.
ALPHA = 1e-6
AVERAGE = False


@dataclass(frozen=True)
class Prediction:
    """One answer: the label, the probability of that label, and the version that gave it."""

    label: str
    probability: float
    positive_probability: float
    model_version: int | None


def new_classifier(seed: int = 0) -> SGDClassifier:
    """An untrained classifier with the project's hyper-parameters."""
    return SGDClassifier(loss="log_loss", alpha=ALPHA, average=AVERAGE, random_state=seed)


class SentimentModel:
    """A trained (or new) classifier plus the version number the store gave it."""

    def __init__(
        self,
        classifier: SGDClassifier | None = None,
        version: int | None = None,
        samples_seen: int = 0,
    ) -> None:
        self.classifier = classifier if classifier is not None else new_classifier()
        self.version = version
        self.samples_seen = samples_seen
        self._vectorizer = text.make_vectorizer()
        self._weights: np.ndarray | None = None
        self._bias = 0.0

    @property
    def is_fitted(self) -> bool:
        return hasattr(self.classifier, "coef_")

    def vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Features of each review, one row each."""
        return self._vectorizer.transform(texts)

    def positive_probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        """P(positive) for each row of ``features``.

        A fast path equal to ``predict_proba(...)[:, 1]`` (a test checks it): a sparse dot
        product and a sigmoid, without scikit-learn's per-call input validation, which is
        most of the cost of one prediction.
        """
        if self._weights is None:
            self._weights = np.ascontiguousarray(self.classifier.coef_.ravel())
            self._bias = float(self.classifier.intercept_[0])
        return expit(features @ self._weights + self._bias)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label and probability for each review; never changes the model."""
        positive = self.positive_probabilities(self.vectorize(texts))
        return [self._prediction(float(p)) for p in positive]

    def _prediction(self, positive: float) -> Prediction:
        label_id = 1 if positive >= 0.5 else 0
        probability = positive if label_id == 1 else 1.0 - positive
        return Prediction(LABELS[label_id], probability, positive, self.version)

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
        labels: Sequence[int],
        sample_weight: Sequence[float] | None = None,
    ) -> None:
        """One ``partial_fit`` step on rows already vectorized by ``text.make_vectorizer``."""
        self.classifier.partial_fit(
            features, np.asarray(labels), classes=CLASSES, sample_weight=sample_weight
        )
        self.samples_seen += features.shape[0]
        self._weights = None

    def accuracy(self, texts: Sequence[str], labels: Sequence[int]) -> float:
        """Share of ``texts`` whose predicted label is the given one."""
        if not texts:
            return float("nan")
        positive = self.positive_probabilities(self.vectorize(texts))
        return float(np.mean((positive >= 0.5).astype(int) == np.asarray(labels)))
