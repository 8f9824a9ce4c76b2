"""Security headers: a strict Content-Security-Policy on pages, API answers and errors."""

import pytest

from movieclassifier.web.security import CONTENT_SECURITY_POLICY, HEADERS
from movieclassifier.web.shortcuts import SecurityHeaders


@pytest.mark.parametrize("path", ["/", "/dashboard", "/api/v1/models", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_policy_allows_no_script_from_elsewhere_and_no_inline_script():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"


def test_an_unhandled_error_carries_the_security_headers_too(client, seed_model, engine):
    from sqlalchemy import text

    # A real failure under the running app: the predictions table is gone.
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE feedback"))
        connection.execute(text("DROP TABLE predictions"))
    response = client.post("/api/v1/predict", json={"review": "A fine film, truly.", "track": True})
    assert response.status_code == 500
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_response_with_its_own_policy_keeps_it():
    def app(environ, start_response):
        start_response("200 OK", [("content-security-policy", "default-src 'none'")])
        return [b"ok"]

    seen = []
    middleware = SecurityHeaders(app, list(HEADERS.items()))
    middleware({}, lambda status, headers, exc_info=None: seen.extend(headers))
    assert seen == [("content-security-policy", "default-src 'none'")]


def test_every_form_post_outside_the_api_checks_the_csrf_token(app):
    """The CSRF hook runs per blueprint (not for the API): no POST route may escape it."""
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        blueprint = rule.endpoint.rpartition(".")[0] or None
        if blueprint == "api":
            continue
        hooks = app.before_request_funcs.get(blueprint, [])
        assert any(hook.__name__ == "csrf_protect" for hook in hooks), rule.rule
    assert not any(hook.__name__ == "csrf_protect" for hook in app.before_request_funcs[None])


def test_https_only_marks_the_cookie_secure_and_sends_hsts(make_app, seed_model):
    plain = make_app().test_client().get("/")
    assert "Strict-Transport-Security" not in plain.headers
    assert "Secure" not in plain.headers["Set-Cookie"]
    served = make_app(https_only=True).test_client().get("/", base_url="https://localhost")
    assert served.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookie = served.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
