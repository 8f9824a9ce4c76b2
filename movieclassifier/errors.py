"""API errors and the one JSON error shape: ``{"ok": false, "error": ..., "status": ...}``.

This is the only module that builds error JSON. Pages get HTML error pages instead.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


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


class ModelUnavailable(APIError):
    status = 503


def error_response(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"ok": False, "error": message, "status": status}), status


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    """Answer API errors as JSON, page errors as HTML, and 500s without details."""

    @app.errorhandler(APIError)
    def handle_api_error(error: APIError):  # type: ignore[no-untyped-def]
        return error_response(error.message, error.status)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        if _wants_json():
            response, _ = error_response(error.description or error.name, status)
            if error.response is not None:
                # Keep headers such as Retry-After (429) and Allow (405).
                for key in ("Retry-After", "Allow"):
                    if key in error.response.headers:
                        response.headers[key] = error.response.headers[key]
            for key, value in error.get_headers():
                if key.lower() in ("allow", "retry-after"):
                    response.headers[key] = value
            return response, status
        return render_template("error.html", status=status, error=error), status

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return error_response("Internal server error", 500)
        return render_template("error.html", status=500, error=None), 500
