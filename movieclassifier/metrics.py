"""Prometheus metrics: what the web workers count and how long predicting takes.

The recording functions are what the views call; they stay cheap on the hot path.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PREDICTIONS = Counter(
    "movieclassifier_predictions_total", "Reviews classified", ["channel", "label"]
)
FEEDBACK = Counter("movieclassifier_feedback_total", "Feedback answers received", ["correct"])
PREDICT_LATENCY = Histogram(
    "movieclassifier_predict_seconds",
    "Time to classify one request (vectorize and score), in seconds",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


def record_predictions(channel: str, labels: list[str]) -> None:
    """Count classified reviews by channel ("web" or "api") and label."""
    for label in labels:
        PREDICTIONS.labels(channel=channel, label=label).inc()


def record_feedback(correct: bool) -> None:
    FEEDBACK.labels(correct=str(correct).lower()).inc()


def observe_predict_latency(seconds: float) -> None:
    PREDICT_LATENCY.observe(seconds)


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """Serve ``GET /metrics``; filled in with the multiprocess collector."""
