"""Security headers on every response: a strict Content-Security-Policy and friends.

Every asset is served by the app itself, so the policy can allow "self" only; a review that
slips past escaping still cannot run a script. Inline ``style`` attributes stay allowed
(the result page sizes its probability bar with one).
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Add the headers to every response that does not set its own policy."""
    items = list(HEADERS.items())

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # One membership test and one extend: a third of the cost of four setdefault calls,
        # and this runs on the predict hot path.
        if "Content-Security-Policy" not in response.headers:
            response.headers.extend(items)
        return response
