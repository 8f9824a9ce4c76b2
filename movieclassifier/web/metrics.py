"""Prometheus metrics: what the web workers count, and ``GET /metrics`` in the text format.

The recording functions are what the views call; they stay cheap on the hot path. Under
gunicorn the counters live in prometheus-client's multiprocess files (the directory named by
``PROMETHEUS_MULTIPROC_DIR``, set up in ``gunicorn.conf.py``), so a scrape that any worker
answers covers all of them. Facts that belong to the database rather than to a process
(the current version, retrain runs, which another process performs) are read from it at
scrape time.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from movieclassifier import schema, stats
from movieclassifier.db import database_unavailable
from movieclassifier.web import database

log = logging.getLogger(__name__)

# Every counter carries labels: a labelled metric writes nothing until it is first used, so
# a worker's counter file exists only once it has counted something.
PREDICTIONS = Counter(
    "movieclassifier_predictions_total", "Reviews classified", ["channel", "label"]
)
FEEDBACK = Counter("movieclassifier_feedback_total", "Feedback answers received", ["correct"])
PREDICT_LATENCY = Histogram(
    "movieclassifier_predict_seconds",
    "Time to classify one request (vectorize and score), in seconds",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
# One series per live worker (label "pid" in multiprocess mode): shows that every worker
# moved on to a new version (docs/DESIGN.md, invariant 4).
WORKER_MODEL_VERSION = Gauge(
    "movieclassifier_worker_model_version",
    "Model version loaded in this worker's memory (0 before its first load)",
    multiprocess_mode="liveall",
)
RETRAIN_SECONDS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


# (channel, label) -> its child of PREDICTIONS. ``Counter.labels(**kwargs)`` checks the
# names and takes a lock on every call, a measurable share of a predict request (see
# bench/results/serve.md); a child, once made, is the same object for good. Filled on first
# use, not up front: a child made in multiprocess mode creates the worker's counter file.
_PREDICTION_COUNTERS: dict[tuple[str, str], Counter] = {}


def record_predictions(channel: str, labels: list[str]) -> None:
    """Count classified reviews by channel ("web" or "api") and label."""
    # One increment per label, not per review: in multiprocess mode each one writes to the
    # worker's metrics file, and a batch holds up to MAX_BATCH reviews.
    for label in set(labels):
        _prediction_counter(channel, label).inc(labels.count(label))


def _prediction_counter(channel: str, label: str) -> Counter:
    try:
        return _PREDICTION_COUNTERS[channel, label]
    except KeyError:
        child = _PREDICTION_COUNTERS[channel, label] = PREDICTIONS.labels(channel, label)
        return child


def record_feedback(correct: bool) -> None:
    """Count one feedback answer."""
    FEEDBACK.labels(correct=str(correct).lower()).inc()


def observe_predict_latency(seconds: float) -> None:
    """Time one classify call (all reviews of one request)."""
    PREDICT_LATENCY.observe(seconds)


def record_model_loaded(version: int) -> None:
    """Note which version this worker now serves."""
    WORKER_MODEL_VERSION.set(version)


class DatabaseCollector:
    """Metrics read from the database when scraped: current version, feedback, retrains."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "movieclassifier_database_up", "1 when the database answered this scrape"
        )
        try:
            families = list(self._families())
        except SQLAlchemyError as exc:
            # Any database error: database_up 0 and still 200, so the process metrics reach
            # Prometheus. ``db.database_unavailable`` only picks the log: an outage is one
            # warning line, anything else (no schema, a bug) is logged with its traceback.
            if database_unavailable(exc):
                log.warning("metrics: database unavailable: %s", exc)
            else:
                log.exception("metrics: database unreadable")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        # Scraped every few seconds: only cheap queries here, no scan of the predictions.
        current = stats.current_version(self.session)
        version = GaugeMetricFamily(
            "movieclassifier_model_version", "Model version every worker should serve (registry)"
        )
        accuracy = GaugeMetricFamily(
            "movieclassifier_model_holdout_accuracy", "Held-out accuracy of the current version"
        )
        if current is not None:
            version.add_metric([], current.version)
            if current.holdout_accuracy is not None:
                accuracy.add_metric([], current.holdout_accuracy)
        yield version
        yield accuracy
        yield from self._recent_accuracy()
        yield self._feedback_rows()
        yield from self._retrain_runs()

    def _recent_accuracy(self) -> Iterator[Metric]:
        recent = stats.recent_accuracy(self.session)
        accuracy = GaugeMetricFamily(
            "movieclassifier_live_accuracy_recent",
            f"Live accuracy of the current version over its newest {stats.COLLAPSE_WINDOW} answers",
        )
        if recent.accuracy is not None:
            accuracy.add_metric([], recent.accuracy)
        collapsed = GaugeMetricFamily(
            "movieclassifier_live_accuracy_collapsed",
            f"1 when under {stats.COLLAPSE_BELOW:.0%} of the current version's newest answers "
            f"(at least {stats.COLLAPSE_MIN_ANSWERS}) were correct while its held-out accuracy "
            f"is at least {stats.COLLAPSE_HOLDOUT_AT_LEAST:.0%}",
        )
        collapsed.add_metric([], 1 if recent.collapsed else 0)
        yield accuracy
        yield collapsed

    def _feedback_rows(self) -> Metric:
        family = GaugeMetricFamily(
            "movieclassifier_feedback_rows", "Stored feedback by state", labels=["state"]
        )
        for state, rows in stats.feedback_states(self.session).items():
            family.add_metric([state], rows)
        return family

    def _retrain_runs(self) -> Iterator[Metric]:
        outcomes = stats.retrain_outcomes(self.session, RETRAIN_SECONDS_BUCKETS)
        runs = CounterMetricFamily(
            "movieclassifier_retrain_runs", "Retrain runs by outcome", labels=["outcome"]
        )
        seconds = HistogramMetricFamily(
            "movieclassifier_retrain_seconds",
            "Duration of retrain runs by outcome, in seconds",
            labels=["outcome"],
        )
        for outcome in outcomes:
            runs.add_metric([outcome.status], outcome.runs)
            buckets = [(_bound(bound), float(n)) for bound, n in outcome.buckets]
            buckets.append(("+Inf", float(outcome.runs)))
            seconds.add_metric([outcome.status], buckets, outcome.seconds)
        yield runs
        yield seconds
        last = stats.last_retrain(self.session)
        if last is not None:
            finished = GaugeMetricFamily(
                "movieclassifier_last_retrain_timestamp_seconds",
                "When the last retrain run finished (Unix time)",
            )
            moment = schema.as_utc(last.finished_at)
            finished.add_metric([], moment.timestamp() if moment else math.nan)
            yield finished


def _bound(value: float) -> str:
    """A bucket bound as Prometheus writes it.

    >>> _bound(5.0), _bound(0.5)
    ('5.0', '0.5')
    """
    return repr(float(value))


class _Scrape:
    """Several collectors read as one, for ``generate_latest``."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def process_metrics() -> Collector:
    """This process's metrics, or every worker's in prometheus-client's multiprocess mode."""
    # prometheus-client itself reads this variable (at import) to pick multiprocess mode.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_view() -> Response:
    """``GET /metrics``: Prometheus text format."""
    scrape = _Scrape([process_metrics(), DatabaseCollector(database.get_session())])
    return Response(generate_latest(scrape), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Serve ``GET /metrics``."""
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
