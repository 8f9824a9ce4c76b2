"""GET /metrics, parsed with prometheus-client's own parser.

In this process prometheus-client is in single-process mode and its counters are global,
so these tests compare values before and after. The multiprocess mode is tested against
real gunicorn servers with two workers (the slow tests at the end).
"""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from test_stats import T0, add_answers, add_run, add_version, make_current

from movieclassifier import create_app
from movieclassifier.schema import PENDING, PROMOTED, QUARANTINED
from movieclassifier.web import metrics
from servers import gunicorn_server, settings_env


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return parse(response.get_data(as_text=True))


def parse(text):
    """{(sample name, sorted labels): value} for every sample."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_predictions_feedback_and_latency(client):
    before = scrape(client)
    metrics.record_predictions("api", ["positive", "negative", "positive"])
    metrics.record_predictions("web", ["negative"])
    metrics.record_feedback(False)
    metrics.observe_predict_latency(0.003)
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    predictions = "movieclassifier_predictions_total"
    assert delta(predictions, channel="api", label="positive") == 2
    assert delta(predictions, channel="api", label="negative") == 1
    assert delta(predictions, channel="web", label="negative") == 1
    assert delta("movieclassifier_feedback_total", correct="false") == 1
    assert delta("movieclassifier_feedback_total", correct="true") == 0
    assert delta("movieclassifier_predict_seconds_count") == 1
    assert delta("movieclassifier_predict_seconds_bucket", le="0.0025") == 0
    assert delta("movieclassifier_predict_seconds_bucket", le="0.005") == 1


def test_metrics_report_the_current_version_from_the_registry(client, sessions):
    samples = scrape(client)
    assert value(samples, "movieclassifier_database_up") == 1
    assert ("movieclassifier_model_version", ()) not in samples
    with sessions.begin() as session:
        add_version(session, PROMOTED, holdout=0.8, promoted_at=T0)
        v2 = add_version(session, PROMOTED, holdout=0.875, promoted_at=T0)
        make_current(session, v2)
    samples = scrape(client)
    assert value(samples, "movieclassifier_model_version") == v2
    assert value(samples, "movieclassifier_model_holdout_accuracy") == 0.875


def test_metrics_show_the_version_a_worker_loaded(client):
    metrics.record_model_loaded(41)
    assert value(scrape(client), "movieclassifier_worker_model_version") == 41
    metrics.record_model_loaded(42)
    assert value(scrape(client), "movieclassifier_worker_model_version") == 42


def test_metrics_count_feedback_rows_by_state(client, sessions):
    with sessions.begin() as session:
        v1 = add_version(session, PROMOTED, promoted_at=T0)
        add_answers(session, v1, [True, False, True], status=PENDING)
        add_answers(session, v1, [False], status=QUARANTINED)
        add_answers(session, v1, [True, True], status="held_out")
        add_answers(session, v1, [True], status="retracted")
    samples = scrape(client)
    rows = "movieclassifier_feedback_rows"
    assert value(samples, rows, state="pending") == 3
    assert value(samples, rows, state="quarantined") == 1
    assert value(samples, rows, state="learned") == 0
    assert value(samples, rows, state="held_out") == 2
    assert value(samples, rows, state="retracted") == 1


def test_metrics_report_retrain_runs_by_outcome_and_duration(client, sessions):
    samples = scrape(client)
    assert not [key for key in samples if key[0].startswith("movieclassifier_retrain")]
    assert ("movieclassifier_last_retrain_timestamp_seconds", ()) not in samples
    with sessions.begin() as session:
        add_run(session, "promoted", 3.0)
        add_run(session, "promoted", 40.0)
        add_run(session, "rejected", 10.0, started_at=T0 + timedelta(hours=1))
    samples = scrape(client)
    runs = "movieclassifier_retrain_runs_total"
    assert value(samples, runs, outcome="promoted") == 2
    assert value(samples, runs, outcome="rejected") == 1
    seconds = "movieclassifier_retrain_seconds"
    assert value(samples, f"{seconds}_count", outcome="promoted") == 2
    assert value(samples, f"{seconds}_sum", outcome="promoted") == 43
    assert value(samples, f"{seconds}_bucket", outcome="promoted", le="5.0") == 1
    assert value(samples, f"{seconds}_bucket", outcome="promoted", le="30.0") == 1
    assert value(samples, f"{seconds}_bucket", outcome="promoted", le="60.0") == 2
    assert value(samples, f"{seconds}_bucket", outcome="promoted", le="+Inf") == 2
    assert value(samples, f"{seconds}_bucket", outcome="rejected", le="15.0") == 1
    finished = datetime(2026, 11, 1, 13, 0, 10, tzinfo=UTC).timestamp()
    assert value(samples, "movieclassifier_last_retrain_timestamp_seconds") == finished


@pytest.mark.empty_database
def test_metrics_without_a_schema_still_answer(settings):
    """The process metrics stay available when the database cannot be read."""
    app = create_app(settings)
    try:
        response = app.test_client().get("/metrics")
    finally:
        app.extensions["movieclassifier.engine"].dispose()
    assert response.status_code == 200
    samples = parse(response.get_data(as_text=True))
    assert value(samples, "movieclassifier_database_up") == 0
    assert any(name == "movieclassifier_predict_seconds_count" for name, _ in samples)


def total(samples, name):
    return sum(v for (sample, _), v in samples.items() if sample == name)


def predict(url, number):
    review = f"A wonderful film, brilliant acting, number {number}."
    response = requests.post(f"{url}/api/v1/predict", json={"review": review}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["predictions"][0]["label"]


def workers_that_counted(directory):
    """Pids whose counter file exists: a worker writes one when it first counts something."""
    return {path.stem.split("_", 1)[1] for path in Path(directory).glob("counter_*.db")}


@pytest.mark.slow
def test_metrics_add_up_across_two_gunicorn_workers(settings, seed_model, tmp_path):
    directory = tmp_path / "prometheus"
    env = settings_env(settings, PROMETHEUS_MULTIPROC_DIR=str(directory))
    sent = 0
    with gunicorn_server(env, tmp_path / "gunicorn.log", workers=2) as url:
        # Concurrent batches until both workers have served some (the kernel picks which
        # worker accepts a connection, and on a busy machine the second may still be
        # booting); bounded in rounds so that a broken setup fails, not hangs.
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in range(100):
                if len(workers_that_counted(directory)) == 2:
                    break
                list(pool.map(lambda n: predict(url, n), range(sent, sent + 40)))
                sent += 40
                time.sleep(0.1)
        assert len(workers_that_counted(directory)) == 2
        samples = parse(requests.get(f"{url}/metrics", timeout=30).text)
        assert total(samples, "movieclassifier_predictions_total") == sent
        assert value(samples, "movieclassifier_predictions_total", channel="api", label="positive")
        assert value(samples, "movieclassifier_predict_seconds_count") == sent
        assert value(samples, "movieclassifier_predict_seconds_bucket", le="+Inf") == sent
        assert value(samples, "movieclassifier_model_version") == seed_model
        # Every answer of the scrape is the same, whichever worker gives it.
        again = [parse(requests.get(f"{url}/metrics", timeout=30).text) for _ in range(6)]
        assert {total(s, "movieclassifier_predictions_total") for s in again} == {sent}

    # A new server on the same directory starts from zero: old files are not summed in.
    with gunicorn_server(env, tmp_path / "gunicorn2.log", workers=2) as url:
        predict(url, 0)
        samples = parse(requests.get(f"{url}/metrics", timeout=30).text)
        assert total(samples, "movieclassifier_predictions_total") == 1


def metrics_directory_of(log):
    """The metrics directory a gunicorn made for itself, as its log names it."""
    return Path(re.search(r"prometheus multiprocess directory: (\S+)", log.read_text()).group(1))


@pytest.mark.slow
def test_gunicorn_makes_and_removes_its_own_metrics_directory(
    settings, seed_model, tmp_path, monkeypatch
):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(settings_env(settings), log, workers=2) as url:
        predict(url, 1)
        samples = parse(requests.get(f"{url}/metrics", timeout=30).text)
        assert total(samples, "movieclassifier_predictions_total") == 1
        directory = metrics_directory_of(log)
        assert directory.is_dir()
        assert workers_that_counted(directory)
    assert not directory.exists()


@pytest.mark.slow
def test_a_directory_left_by_kill_9_goes_when_the_next_server_starts(
    settings, seed_model, tmp_path, monkeypatch
):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(settings_env(settings), log, workers=2) as url:
        predict(url, 1)
        orphan = metrics_directory_of(log)
        master = int((orphan / "master.pid").read_text())
        os.killpg(master, signal.SIGKILL)  # master and workers: no on_exit runs
    # Leaving the block reaped the master (it was the test's child): its pid is free now.
    assert orphan.is_dir()
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn2.log", workers=1) as url:
        predict(url, 2)
        assert not orphan.exists()


def test_metrics_raise_the_live_accuracy_collapse_gauge(client, sessions):
    collapsed = "movieclassifier_live_accuracy_collapsed"
    samples = scrape(client)
    assert samples[(collapsed, ())] == 0
    assert ("movieclassifier_live_accuracy_recent", ()) not in samples
    with sessions.begin() as session:
        v1 = add_version(session, PROMOTED, holdout=0.92, promoted_at=T0)
        make_current(session, v1)
        add_answers(session, v1, [True] * 150 + [False] * 30)
    samples = scrape(client)
    assert samples[(collapsed, ())] == 0
    assert value(samples, "movieclassifier_live_accuracy_recent") == 150 / 180
    with sessions.begin() as session:
        add_answers(session, v1, [False] * 100)
    samples = scrape(client)
    # The newest 200 answers: the last 70 good ones and all 130 wrong ones.
    assert value(samples, "movieclassifier_live_accuracy_recent") == 70 / 200
    assert samples[(collapsed, ())] == 1
