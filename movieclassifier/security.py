"""Security headers on every response: a strict Content-Security-Policy and friends.

Every asset is served by the app itself, so the policy can allow "self" only; a review that
slips past escaping still cannot run a script. Inline ``style`` attributes stay allowed
(the result page sizes its probability bar with one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

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


class SecurityHeaders:
    """WSGI middleware that adds ``HEADERS`` to every response that sets no policy of its own.

    At the WSGI level rather than in an ``after_request`` hook: extending the plain list of
    header pairs costs well under a microsecond, where Flask's hook (its dispatch plus
    werkzeug's ``Headers.extend``, which re-validates every value) cost about 10 µs on the
    predict path (bench/results/serve.md). It also covers the answers Flask builds outside
    the hooks (an unhandled error's 500).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.items = list(HEADERS.items())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        items = self.items

        def start_with_headers(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            for name, _ in headers:
                if name.lower() == "content-security-policy":
                    break
            else:
                headers = [*headers, *items]
            return start_response(status, headers, exc_info)

        return self.app(environ, start_with_headers)


def init_app(app: Flask) -> None:
    """Add the headers to every response that does not set its own policy."""
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
