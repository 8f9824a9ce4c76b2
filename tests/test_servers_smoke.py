import pytest
import requests

from servers import gunicorn_server, raw_request, settings_env

pytestmark = pytest.mark.slow


def test_gunicorn_serves_health_with_two_workers(settings, engine, tmp_path):
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn.log") as url:
        answers = [requests.get(f"{url}/healthz", timeout=5).json() for _ in range(5)]
    assert answers == [{"ok": True}] * 5


@pytest.mark.parametrize(
    ("path", "content_type", "shape"),
    [
        ("/api/v1/predict", "application/json", b'"ok":false'),
        ("/api/v1/feedback", "application/json", b'"ok":false'),
        ("/", "application/x-www-form-urlencoded", b"<html"),
    ],
)
def test_a_malformed_chunked_body_is_400_not_500(
    settings, engine, tmp_path, path, content_type, shape
):
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    ).encode()
    with gunicorn_server(settings_env(settings), tmp_path / "gunicorn.log", workers=1) as url:
        status, body = raw_request(url, request)
    assert status == 400
    assert b"Request body could not be read" in body
    assert shape in body
