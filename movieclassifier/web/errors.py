"""API errors and the one JSON error shape: ``{"ok": false, "error": ..., "status": ...}``.

This is the only module that builds error JSON. Pages get the HTML error page instead.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from movieclassifier.db import DATABASE_DOWN, database_unavailable
from movieclassifier.model_cache import NoServableModel

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal server error"
DATABASE_DOWN_MESSAGE = "The database is unavailable right now; try again in a few seconds"
DATABASE_RETRY_SECONDS = 5
CSRF_MESSAGE = (
    "The form was missing its security token or the token expired "
    "(CSRF protection); go back, reload the page and send it again."
)


class APIError(Exception):
    """An error a client can act on; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(APIError):
    status = 400


class NotFound(APIError):
    status = 404


class Conflict(APIError):
    status = 409


def error_response(message: str, status: int) -> tuple[Response, int]:
    """The one JSON error shape."""
    return jsonify({"ok": False, "error": message, "status": status}), status


def wants_json() -> bool:
    """API paths and clients that ask for JSON get JSON errors; people get pages."""
    if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz"):
        return True
    return request.accept_mimetypes.best == "application/json"


def http_error_message(error: HTTPException) -> str:
    """A message for Flask's own errors that says what was wrong and what is accepted."""
    status = error.code or 500
    if status == 404:
        return f"Not found: there is no {request.path}"
    if status == 405:
        methods = getattr(error, "valid_methods", None) or ()
        allowed = ", ".join(sorted(m for m in methods if m != "OPTIONS"))
        return f"Method {request.method} is not allowed on {request.path}; use {allowed}"
    if status == 413:
        limit = request.max_content_length
        return f"Request body too large: at most {limit} bytes are accepted"
    if status == 429:
        return f"Too many requests: the limit is {error.description}; retry later"
    if isinstance(error, CSRFError):
        return CSRF_MESSAGE
    return error.description or error.name


def body_read_errors() -> tuple[type[Exception], ...]:
    """What the WSGI server raises while the app reads a malformed body: gunicorn's chunk
    errors (a bad size, a missing terminator) and a body that ends before its end.

    Empty under any other server (Flask's test client and ``flask run`` raise werkzeug's
    own errors, which are already 400s).
    """
    try:
        from gunicorn.http.errors import NoMoreData, ParseException
    except ImportError:
        return ()
    return (ParseException, NoMoreData)


def _page(message: str, status: int, title: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Answer API errors as JSON, page errors as HTML, and 500s without details."""

    @app.errorhandler(APIError)
    def handle_api_error(error: APIError) -> ResponseReturnValue:
        if wants_json():
            return error_response(error.message, error.status)
        return _page(error.message, error.status, "Something is not right")

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        message = http_error_message(error)
        if wants_json():
            response, _ = error_response(message, status)
        else:
            body, _ = _page(message, status, error.name)
            response = Response(body, status=status, mimetype="text/html")
        # Keep the headers that tell a client what to do next (Allow on 405 and so on).
        for key, value in error.get_headers():
            if key.lower() in ("allow", "retry-after"):
                response.headers[key] = value
        return response, status

    @app.errorhandler(NoServableModel)
    def handle_no_model(error: NoServableModel) -> ResponseReturnValue:
        # The core's "nothing to serve" (none published, or it cannot be loaded): 503.
        return handle_api_error(APIError(str(error), 503))

    def handle_unreadable_body(error: Exception) -> ResponseReturnValue:
        # The client's mistake, found by the server only when the app reads the body.
        return handle_api_error(BadRequest(f"Request body could not be read: {error}"))

    for error_type in body_read_errors():
        app.register_error_handler(error_type, handle_unreadable_body)

    def handle_database_down(error: Exception) -> ResponseReturnValue:
        # Database down (``db.database_unavailable``): 503 with Retry-After in the usual
        # shape, since the outage should pass; any other database error is a bug: a 500.
        if not database_unavailable(error):
            return handle_unexpected(error)
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        unavailable = ServiceUnavailable(DATABASE_DOWN_MESSAGE, retry_after=DATABASE_RETRY_SECONDS)
        return handle_http_exception(unavailable)

    for error_type in DATABASE_DOWN:
        app.register_error_handler(error_type, handle_database_down)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return error_response(INTERNAL_ERROR, 500)
        return _page(INTERNAL_ERROR, 500, "Internal server error")
