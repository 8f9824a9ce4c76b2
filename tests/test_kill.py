"""kill -9 the retrain process at each seam (tests/crashing_retrain.py); concurrent feedback."""

import hashlib
import json
import signal
import subprocess
import sys
import threading

import crashing_retrain
import pytest
import requests
from sqlalchemy import select

from corpus import NEGATIVE_REVIEWS, POSITIVE_REVIEWS
from loop_helpers import (
    add_feedback,
    assert_learned_exactly_once,
    movie_rows,
    run_retrain,
    write_csv,
)
from movieclassifier import lifetime, model_store
from movieclassifier.schema import Feedback, ModelVersion
from servers import REPO_ROOT, gunicorn_server, settings_env, subprocess_env

CRASHING_RETRAIN = REPO_ROOT / "tests" / "crashing_retrain.py"

pytestmark = pytest.mark.slow


def check_current_loads(settings, sessions):
    with sessions() as session:
        row = model_store.get_version(session, model_store.current_version(session))
        model = model_store.load_current(session, settings.model_dir)
    data = (settings.model_dir / row.filename).read_bytes()
    assert hashlib.sha256(data).hexdigest() == row.sha256
    assert model.version == row.version


# What a run killed at each point leaves behind, before the next run recovers: the status
# of its claimed rows (the next run hands "learning" ones back), whether it registered (and
# published) a version, and how many files it left that no version names.
LEFT_BEHIND = {
    "claim": ("learning", False, 0),
    "learn": ("learning", False, 0),
    "rename": ("learning", False, 1),
    "register": ("learning", False, 1),
    "mark": ("learning", False, 1),
    "sidecar": ("learned", True, 0),
}


def run_crashing_retrain(settings, point, *args) -> subprocess.CompletedProcess:
    """``tests/crashing_retrain.py POINT --json`` in a real process with the test's settings."""
    return subprocess.run(
        [sys.executable, str(CRASHING_RETRAIN), point, *args, "--json"],
        env=subprocess_env(settings_env(settings)),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )


def unregistered_files(settings, sessions):
    with sessions() as session:
        registered = {row.filename for row in session.scalars(select(ModelVersion))}
    on_disk = {p.name for p in settings.model_dir.glob(f"{model_store.FILE_PREFIX}*.pkl")}
    assert registered <= on_disk
    return on_disk - registered


def test_every_seam_has_a_case():
    assert set(LEFT_BEHIND) == set(crashing_retrain.POINTS)


@pytest.mark.parametrize("point", crashing_retrain.POINTS)
def test_kill_9_leaves_each_label_learned_exactly_once(point, settings, sessions, seed_model):
    # A first run that succeeds, so the killed one also replays labels a version learned.
    learned = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:2], correct=True)
    first = run_retrain(settings, "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    ids = add_feedback(
        sessions, settings.model_dir, [POSITIVE_REVIEWS[2], NEGATIVE_REVIEWS[2]], [True, True]
    )
    with sessions() as session:
        current = model_store.current_version(session)
        versions = len(model_store.list_versions(session))

    crashed = run_crashing_retrain(settings, point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    status, published, orphans = LEFT_BEHIND[point]
    with sessions() as session:
        assert {session.get(Feedback, i).status for i in ids} == {status}
        # Whatever the point, no label is half-learned: claimed rows have no version yet.
        for row in session.scalars(select(Feedback)):
            assert (row.status == "learned") == (row.learned_version is not None)
        assert len(model_store.list_versions(session)) == versions + published
        newest = model_store.list_versions(session)[0]
        assert (model_store.current_version(session) != current) == published
    assert len(unregistered_files(settings, sessions)) == orphans
    if point == "sidecar":
        assert not (settings.model_dir / newest.filename).with_suffix(".json").exists()
    check_current_loads(settings, sessions)

    after = run_retrain(settings, "--json", "--wait")
    assert after.returncode == 0, after.stderr[-2000:]
    report = json.loads(after.stdout.strip().splitlines()[-1])
    # Killed after its commit, the run had already published: nothing is left to learn.
    assert report["status"] == ("nothing_to_learn" if published else "promoted")
    check_current_loads(settings, sessions)
    with sessions() as session:
        assert_learned_exactly_once(session, learned + ids)
        assert {session.get(Feedback, i).learned_version for i in ids} == {
            model_store.current_version(session)
        }
    # A run killed before its commit leaves at most an orphan file, which prune removes.
    assert len(unregistered_files(settings, sessions)) == orphans


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
                json={"prediction_id": prediction_id, "correct": True},
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
        # None twice. (The answers confirm the model, so the screen keeps every one.)
        assert_learned_exactly_once(session, sorted(acknowledged))
    assert len(acknowledged) >= 20


def test_kill_9_while_dropping_a_retracted_label_drops_it_once(settings, sessions, seed_model):
    ids = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:3], correct=True)
    assert run_retrain(settings, "--json").returncode == 0
    with sessions.begin() as session:
        lifetime.retract(session, ids[:1])
        current = model_store.current_version(session)
        versions = len(model_store.list_versions(session))
    crashed = run_crashing_retrain(settings, "drop")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    with sessions() as session:
        # Nothing of the killed run is committed: the drop is still to do.
        assert model_store.current_version(session) == current
        assert len(model_store.list_versions(session)) == versions
        assert session.get(Feedback, ids[0]).dropped_version is None
    after = run_retrain(settings, "--json")
    assert after.returncode == 0, after.stderr[-2000:]
    report = json.loads(after.stdout.strip().splitlines()[-1])
    assert (report["status"], report["dropped"]) == ("promoted", 1)
    with sessions() as session:
        assert session.get(Feedback, ids[0]).dropped_version == report["version"]
        assert_learned_exactly_once(session, ids[1:])
        assert lifetime.pending_drops(session, report["version"]).retracted == []
    check_current_loads(settings, sessions)


def test_kill_9_while_carrying_publishes_neither_version(settings, sessions, imdb_model, tmp_path):
    ids = add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:4], correct=True)
    assert run_retrain(settings, "--json").returncode == 0
    with sessions() as session:
        current = model_store.current_version(session)
        versions = len(model_store.list_versions(session))
    path = write_csv(tmp_path / "base.csv", movie_rows(700, skip=100))
    options = [str(path), "--holdout", "200", "--batch-size", "50", "--workers", "0"]
    crashed = run_crashing_retrain(settings, "carry", *options)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    with sessions() as session:
        # Neither the plain base nor the base with the labels: one transaction.
        assert model_store.current_version(session) == current
        assert len(model_store.list_versions(session)) == versions
    check_current_loads(settings, sessions)
    done = train_in_process(settings, path)
    assert done.carried == len(ids)
    with sessions() as session:
        assert_learned_exactly_once(session, ids)
        assert model_store.current_version(session) == done.version


def train_in_process(settings, path):
    from movieclassifier import db, training

    engine = db.make_engine(settings.database_url)
    try:
        return training.train_from_csv(
            path,
            db.make_session_factory(engine),
            settings.model_dir,
            batch_size=50,
            holdout=200,
            workers=0,
            # A base from so few rows is worse than the fixture: published all the same.
            promote=True,
        )
    finally:
        engine.dispose()
