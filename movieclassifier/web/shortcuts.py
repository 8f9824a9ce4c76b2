"""Shortcuts through Flask's request plumbing, each taken because the plain way measured slow
or broke (the figures: see bench/results/serve.md). All of them live here:

- ``check_csrf_outside``: Flask-WTF's CSRF hook runs per blueprint, not on every API call.
- ``PageSessionInterface``: the signed cookie session is opened for the pages only.
- ``request_body``/``request_json``/``loads_fast``: the JSON body is read in one exact read
  and parsed by orjson, with the same rules as ``request.get_json(silent=True)``.
- ``json_response``: answers written by orjson, the same JSON as ``jsonify``.
- ``SecurityHeaders``: the security headers are added at the WSGI level, not in a hook.

The fifth, cached metric children, stays in ``metrics`` with the metrics it caches.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from movieclassifier.web.errors import BadRequest
from movieclassifier.web.forms import refuse_unnamed_fields

# Paths that never use the cookie session (the API is not cookie-authenticated).
SESSIONLESS_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/static/")


def check_csrf_outside(app: Flask, exempt: tuple[str, ...]) -> None:
    """Run Flask-WTF's CSRF check for the blueprints' requests only, not the ``exempt`` ones.

    ``CSRFProtect`` hooks every request and then skips exempt blueprints; on the predict
    hot path that hook alone cost a measurable share (see bench/results/serve.md). The same
    hook now runs first in every other blueprint. App-level routes (``/metrics``, ``/static``) only
    answer GET, which CSRF never checks; a test fails if a POST route escapes the check.
    ``forms.refuse_unnamed_fields`` runs just before it (see its docstring for why).
    """
    hooks = app.before_request_funcs[None]
    (csrf_protect,) = [hook for hook in hooks if hook.__name__ == "csrf_protect"]
    hooks.remove(csrf_protect)
    for name in app.blueprints:
        if name not in exempt:
            app.before_request_funcs.setdefault(name, [])[0:0] = [
                refuse_unnamed_fields,
                csrf_protect,
            ]


class PageSessionInterface(SecureCookieSessionInterface):
    """Cookie sessions (which hold the CSRF secret) for the pages only.

    Opening a signed cookie session on every API call costs time and sets nothing.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)


def json_response(document: dict[str, Any]) -> Response:
    """``jsonify(document)`` for plain JSON values (no dates, no dataclasses), by orjson.

    The same document as Flask writes outside debug mode (keys sorted, compact), much faster
    (see bench/results/serve.md): ``json``'s encoder spends most of a batch's answer writing
    the floats. orjson writes non-ASCII characters as UTF-8 rather than
    ``\\u`` escapes, which is the same JSON.
    """
    return Response(
        orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE),
        content_type="application/json",
    )


def loads_fast(data: bytes) -> Any:
    """``json.loads(data)`` for bodies without integer fields, parsed by orjson when it can.

    Faster on a batch's 120 KB (see bench/results/serve.md). orjson refuses a few texts
    that ``json`` accepts (``NaN``, a lone surrogate escape, a byte-order mark): those take
    ``json.loads``, so exactly the same bodies are accepted. It reads an integer beyond 64
    bits as a float, which is why feedback's body keeps ``json``: a client that still sends
    an integer ``prediction_id`` is told the number it sent.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def request_json(max_length: int, loads: Callable[[bytes], Any] = json.loads) -> Any:
    """``request.get_json(silent=True)``: the parsed body, or None when it is not JSON.

    The common case (``Content-Type: application/json`` exactly) skips parsing the header,
    and the body goes to ``loads`` directly rather than through Flask's JSON provider.
    """
    environ = request.environ
    if environ.get("CONTENT_TYPE") != "application/json" and not request.is_json:
        return None
    try:
        return loads(request_body(environ, max_length))
    except ValueError:  # also UnicodeDecodeError: not UTF-8
        return None
    except RecursionError:
        # Valid JSON nested about a thousand deep (``[[[[...``) exhausts json's recursion:
        # the client's mistake, not the server's.
        raise BadRequest("Request body is JSON nested too deeply") from None


def request_body(environ: dict[str, Any], max_length: int) -> bytes:
    """``request.get_data()``, read straight from the WSGI input when Content-Length says how much.

    werkzeug wraps the input in a ``LimitedStream`` and reads it in a loop until the end;
    under gunicorn each of those reads is several calls deep. With a plain Content-Length
    one exact read does, and is faster (see bench/results/serve.md). The
    same rules: a length over ``max_length`` is 413 before anything is read, a body cut
    short is 400. Anything else (chunked, no length) takes werkzeug's way. The input is
    put back as a buffer, so that a later ``request.get_data()`` still sees the body.
    """
    length = environ.get("CONTENT_LENGTH", "")
    if not (length.isascii() and length.isdigit()) or "HTTP_TRANSFER_ENCODING" in environ:
        return request.get_data()
    size = int(length)
    if size > max_length:
        raise RequestEntityTooLarge()
    data = environ["wsgi.input"].read(size)
    if len(data) != size:
        raise ClientDisconnected()
    environ["wsgi.input"] = io.BytesIO(data)
    return data


class SecurityHeaders:
    """WSGI middleware that adds ``headers`` to every response that sets no policy of its own.

    At the WSGI level rather than in an ``after_request`` hook: extending the plain list of
    header pairs is much cheaper than Flask's hook (its dispatch plus werkzeug's
    ``Headers.extend``, which re-validates every value) on the predict path (see
    bench/results/serve.md). It also covers the answers Flask builds outside
    the hooks (an unhandled error's 500).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], headers: list[tuple[str, str]]) -> None:
        self.app = app
        self.items = headers

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
