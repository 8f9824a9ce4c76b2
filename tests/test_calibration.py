"""Calibrated probabilities: fitted on rows not learned, recorded with the version, and
applied the same way by the API, the pages and the stored predictions.

On SQLite and PostgreSQL (the ``settings``/``sessions`` fixtures' database).
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from scipy.special import expit
from sqlalchemy import select

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import add_labelled, movie_rows
from movieclassifier import calibration, model_store, reliability, retrain
from movieclassifier.model import IDENTITY, Calibration, Labelled
from movieclassifier.schema import Feedback, ModelVersion, StoredPrediction


def test_fit_scale_finds_the_scale_that_made_the_labels():
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 2, 20000)
    labels = (rng.random(scores.size) < expit(2.5 * scores)).astype(int)
    assert calibration.fit_scale(scores, labels) == pytest.approx(2.5, rel=0.05)
    # A model too sure of itself is made less sure.
    assert calibration.fit_scale(5 * scores, labels) == pytest.approx(0.5, rel=0.05)


def test_the_calibration_changes_no_label(tiny_model):
    reviews = POSITIVE_REVIEWS + NEGATIVE_REVIEWS + ["I saw it on a Tuesday afternoon."]
    before = tiny_model.predict(reviews)
    tiny_model.calibration = Calibration(scale=0.2, rows=1000)
    after = tiny_model.predict(reviews)
    assert [p.label for p in after] == [p.label for p in before]
    assert all(a.probability < b.probability for a, b in zip(after, before, strict=True))


def test_too_few_rows_keep_the_calibration_it_had(tiny_model):
    kept = Calibration(scale=1.7, rows=400)
    few = Labelled(POSITIVE_REVIEWS, [1] * len(POSITIVE_REVIEWS))
    assert calibration.calibrate(tiny_model, [("held-out rows", few)], keep=kept) is kept
    assert tiny_model.calibration is kept


def test_a_trained_base_is_calibrated_on_its_held_out_rows(imdb_training, sessions, settings):
    version = __import__("corpus").publish(imdb_training, sessions, settings.model_dir)
    with sessions() as session:
        row = session.get(ModelVersion, version)
        model = model_store.load(session, version, settings.model_dir)
    held = Labelled(list(imdb_training.held[0]), list(imdb_training.held[1]))
    recorded = row.details["calibration"]
    assert model.calibration.scale == recorded["scale"] != 1.0
    assert recorded["rows"] == len(held.texts) == 500
    assert recorded["method"] == "temperature"
    assert recorded["fitted_on"] == "held-out rows (500)"
    # It is the scale that minimizes the held-out log-loss, and it lowers it.
    scores = model.scores(model.vectorize(held.texts))
    raw, shown = (
        expit(scores),
        np.array([p.positive_probability for p in model.predict(held.texts)]),
    )
    assert reliability.log_loss(shown, held.labels) < reliability.log_loss(raw, held.labels)
    for other in (0.9, 1.1):
        assert reliability.log_loss(shown, held.labels) <= reliability.log_loss(
            expit(other * model.calibration.scale * scores), held.labels
        )
    assert recorded["ece_after"] < recorded["ece_before"]


def test_the_api_the_page_and_the_stored_prediction_show_the_same_probability(
    client, imdb_model, sessions, settings
):
    review = "A fine, well acted film with a slow start."
    with sessions() as session:
        model = model_store.load_current(session, settings.model_dir)
    assert model.calibration.scale != 1.0
    expected = model.predict([review])[0]
    raw = expit(model.scores(model.vectorize([review]))[0])
    assert not math.isclose(expected.positive_probability, raw, abs_tol=1e-4)

    api = client.post("/api/v1/predict", json={"review": review, "track": True}).get_json()
    shown = api["predictions"][0]
    assert shown["probability"] == pytest.approx(expected.probability, abs=1e-9)
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    html = client.post(
        "/", data={"review": review, "csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert f'aria-valuenow="{expected.probability * 100:.1f}"' in html
    with sessions() as session:
        stored = session.scalars(select(StoredPrediction.probability)).all()
    assert stored == pytest.approx([expected.probability] * 2, abs=1e-6)


def test_a_retrain_refits_on_the_held_out_rows_and_the_domain_slice(
    settings, engine, sessions, imdb_model
):
    settings = dataclasses.replace(settings, gate_feedback_slice=0.5)
    add_labelled(sessions, settings.model_dir, movie_rows(300, skip=3000))
    report = retrain.retrain(engine, settings)
    assert report.held_out > 0
    more = add_labelled(sessions, settings.model_dir, movie_rows(40, skip=3300))
    again = retrain.retrain(engine, settings)
    assert again.version is not None and more
    with sessions() as session:
        first = session.get(ModelVersion, report.version).details["calibration"]
        second = session.get(ModelVersion, again.version).details["calibration"]
        model = model_store.load(session, again.version, settings.model_dir)
    # The first run fits on the 500 held-out rows plus its own slice (held out, not learned).
    assert first["fitted_on"] == f"held-out rows (500), domain slice ({report.held_out})"
    # The second, on the earlier slice too.
    assert second["fitted_on"] == (
        f"held-out rows (500), domain slice ({report.held_out + again.held_out})"
    )
    assert model.calibration.scale == second["scale"]
    assert model.calibration != IDENTITY


def test_the_dashboard_draws_the_reliability_of_the_version_in_service(
    client, imdb_model, sessions, settings
):
    add_labelled(sessions, settings.model_dir, movie_rows(60, skip=3000))
    html = client.get("/dashboard").get_data(as_text=True)
    section = html[html.index('id="reliability"') : html.index('id="last-retrain"')]
    assert 'data-set="held-out"' in section and 'data-set="live"' in section
    assert "self-selected" in section
    with sessions() as session:
        recorded = session.get(ModelVersion, imdb_model).details["calibration"]["held_out_bins"]
        shown = session.execute(
            select(StoredPrediction.probability, Feedback.correct).join(
                Feedback, Feedback.prediction_id == StoredPrediction.id
            )
        ).all()
    # The table holds the recorded held-out bins, and the live bins computed here by hand.
    rows = re.findall(
        r"<tr><td>(held-out rows|live answers)</td><td>(\d+)–(\d+)%</td><td>(\d+)</td>", section
    )
    held = [(int(lo), int(n)) for name, lo, _, n in rows if name == "held-out rows"]
    assert held == [(round(b[0] * 100), b[2]) for b in recorded]
    confidence = np.array([p for p, _ in shown])
    live = reliability.bins_of(confidence, np.array([c for _, c in shown]))
    assert [(int(lo), int(n)) for name, lo, _, n in rows if name == "live answers"] == [
        (round(b.low * 100), b.rows) for b in live
    ]
    assert sum(n for _, n in held) == 500
    # One point per bin, on each line.
    assert section.count('class="point"') == len(recorded) + len(live)


def test_the_dashboard_says_when_there_is_no_reliability_yet(client, seed_model):
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="no-reliability"' in html


def test_the_live_reliability_counts_the_newest_answers_only(imdb_model, sessions, settings):
    from movieclassifier import stats

    ids = add_labelled(sessions, settings.model_dir, movie_rows(30, skip=3000))
    with sessions() as session:
        every = stats.live_reliability(session, imdb_model)
        newest = stats.live_reliability(session, imdb_model, newest=10)
        shown = session.execute(
            select(StoredPrediction.probability)
            .join(Feedback, Feedback.prediction_id == StoredPrediction.id)
            .where(Feedback.id.in_(sorted(ids)[-10:]))
        ).scalars()
        expected = reliability.bins_of(np.array(list(shown)), np.ones(10, bool))
    assert sum(b.rows for b in every) == 30
    assert [(b.low, b.rows) for b in newest] == [(b.low, b.rows) for b in expected]
