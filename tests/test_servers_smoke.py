import pytest
import requests

from servers import gunicorn_server, settings_env

pytestmark = pytest.mark.slow


def test_gunicorn_serves_health_with_two_workers(settings, engine, tmp_path):
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn.log") as url:
        answers = [requests.get(f"{url}/healthz", timeout=5).json() for _ in range(5)]
    assert answers == [{"ok": True}] * 5
