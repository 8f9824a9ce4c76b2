"""Every worker of every server moves to a newly promoted version without a restart."""

import dataclasses
import time

import pytest
import requests

from corpus import POSITIVE_REVIEWS
from loop_helpers import add_feedback
from movieclassifier import lifetime, retrain
from servers import gunicorn_server, settings_env

pytestmark = pytest.mark.slow
CONSECUTIVE = 20  # answers in a row from a 2-worker server: all workers have been asked


def wait_for_version(url, version, timeout=120):
    """Predict until CONSECUTIVE answers in a row come from ``version``; seconds it took."""
    started = time.monotonic()
    in_a_row = 0
    http = requests.Session()
    while in_a_row < CONSECUTIVE:
        assert time.monotonic() - started < timeout, f"{url} never served version {version}"
        answer = http.post(
            f"{url}/api/v1/predict", json={"review": POSITIVE_REVIEWS[0]}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        in_a_row = in_a_row + 1 if answer.json()["model_version"] == version else 0
    return time.monotonic() - started


def test_two_servers_with_their_own_model_dirs_follow_promotion_and_rollback(
    settings, engine, sessions, seed_model, tmp_path
):
    servers = []
    for name in ("a", "b"):
        own = dataclasses.replace(settings, model_dir=tmp_path / f"models-{name}")
        servers.append(settings_env(own, MODEL_RELOAD_SECONDS="1"))
    with (
        gunicorn_server(servers[0], tmp_path / "a.log", workers=2) as url_a,
        gunicorn_server(servers[1], tmp_path / "b.log", workers=2) as url_b,
    ):
        for url in (url_a, url_b):
            wait_for_version(url, seed_model)
        add_feedback(sessions, settings.model_dir, POSITIVE_REVIEWS[:3])
        report = retrain.retrain(engine, settings)
        assert report.status == "promoted"
        for url in (url_a, url_b):
            wait_for_version(url, report.version)
        lifetime.rollback(sessions, settings.model_dir, seed_model)
        for url in (url_a, url_b):
            wait_for_version(url, seed_model)
    # Server b never had the files on its disk: it fetched the bytes from the database.
    assert sorted(p.name for p in (tmp_path / "models-b").glob("*.pkl"))
