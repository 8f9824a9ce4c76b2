"""Security headers on every response: a strict Content-Security-Policy and friends.

Every asset is served by the app itself, so the policy can allow "self" only; a review that
slips past escaping still cannot run a script. Inline ``style`` attributes stay allowed
(the result page sizes its probability bar with one).
"""

from __future__ import annotations

from flask import Flask

from movieclassifier.web.shortcuts import SecurityHeaders

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


# Sent with HTTPS_ONLY: browsers then refuse plain HTTP to this host for a year.
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def init_app(app: Flask, hsts: bool = False) -> None:
    """Add the headers to every response that does not set its own policy; with ``hsts``,
    ``Strict-Transport-Security`` too."""
    headers = list(HEADERS.items()) + ([HSTS] if hsts else [])
    app.wsgi_app = SecurityHeaders(app.wsgi_app, headers)  # type: ignore[method-assign]
