"""kill -9 the retrain process at named points; concurrent feedback during a retrain."""

import hashlib
import json
import signal
import threading

import pytest
import requests
from sqlalchemy import select

from conftest import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import add_feedback, assert_learned_exactly_once, run_retrain
from movieclassifier import model_store, retrain
from movieclassifier.schema import Feedback, ModelVersion
from servers import gunicorn_server, settings_env

pytestmark = pytest.mark.slow


def check_current_loads(settings, sessions):
    with sessions() as session:
        row = model_store.get_version(session, model_store.current_version(session))
        model = model_store.load_current(session, settings.model_dir)
    data = (settings.model_dir / row.filename).read_bytes()
    assert hashlib.sha256(data).hexdigest() == row.sha256
    assert model.version == row.version


def test_kill_9_at_every_point_leaves_each_label_learned_exactly_once(
    settings, sessions, seed_model
):
    all_ids = []
    for number, point in enumerate(retrain.CRASH_POINTS):
        reviews = [POSITIVE_REVIEWS[number], NEGATIVE_REVIEWS[number]]
        all_ids += add_feedback(sessions, settings.model_dir, reviews, correct=number % 2 == 0)
        crashed = run_retrain(settings, "--json", extra_env={retrain.CRASH_ENV: point})
        assert crashed.returncode == -signal.SIGKILL, (point, crashed.stderr[-2000:])
        check_current_loads(settings, sessions)
        with sessions() as session:
            # Whatever the point, no label is half-learned: claimed rows have no version yet.
            for row in session.scalars(select(Feedback)):
                assert (row.status == "learned") == (row.learned_version is not None), point
        after = run_retrain(settings, "--json")
        assert after.returncode == 0, after.stderr[-2000:]
        status = json.loads(after.stdout.strip().splitlines()[-1])["status"]
        # Killed after its commit, the run had already published: nothing is left to learn.
        assert status == ("nothing_to_learn" if point == "committed" else "promoted"), point
        check_current_loads(settings, sessions)
        with sessions() as session:
            assert_learned_exactly_once(session, all_ids)
    with sessions() as session:
        registered = {row.filename for row in session.scalars(select(ModelVersion))}
    # A run killed before its commit leaves at most an orphan file, which prune removes.
    on_disk = {p.name for p in settings.model_dir.glob("classifier-*.pkl")}
    assert registered <= on_disk


def test_feedback_posted_during_retrains_is_never_lost_nor_learned_twice(
    settings, engine, sessions, seed_model, tmp_path
):
    env = settings_env(settings)
    acknowledged = []
    errors = []
    stop = threading.Event()

    def client(number):
        http = requests.Session()
        reviews = POSITIVE_REVIEWS + NEGATIVE_REVIEWS
        sent = 0
        while not stop.is_set() or sent < 5:
            review = f"{reviews[(number + sent) % len(reviews)]} (client {number}, {sent})"
            answer = http.post(
                f"{url}/api/v1/predict", json={"review": review, "track": True}, timeout=30
            )
            if answer.status_code != 200:
                errors.append(answer.text)
                return
            prediction_id = answer.json()["predictions"][0]["prediction_id"]
            posted = http.post(
                f"{url}/api/v1/feedback",
                json={"prediction_id": prediction_id, "correct": sent % 3 != 0},
                timeout=30,
            )
            if posted.status_code != 201:
                errors.append(posted.text)
                return
            acknowledged.append(posted.json()["id"])
            sent += 1

    with gunicorn_server(env, tmp_path / "gunicorn.log", workers=2) as url:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        runs = [run_retrain(settings, "--json", "--wait") for _ in range(3)]
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors[:3]
    assert all(run.returncode == 0 for run in runs), [run.stderr[-1000:] for run in runs]
    final = run_retrain(settings, "--json")
    assert final.returncode == 0, final.stderr[-2000:]
    with sessions() as session:
        stored = set(session.scalars(select(Feedback.id)))
        assert stored == set(acknowledged)  # none lost
        assert_learned_exactly_once(session, sorted(acknowledged))  # none twice
    assert len(acknowledged) >= 20
