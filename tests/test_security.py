"""Security headers: a strict Content-Security-Policy on pages, API answers and errors."""

import pytest

from movieclassifier.security import CONTENT_SECURITY_POLICY


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
