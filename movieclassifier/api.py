"""The JSON API under ``/api/v1``: predict, feedback, model versions, the OpenAPI document.

Thin: validate the body, call ``serving``/``feedback``/``model_store``, answer. Every
error is an ``errors.APIError`` (one shape); a 2xx to feedback means the row is committed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from movieclassifier import db, model_store, openapi, serving
from movieclassifier.config import Settings
from movieclassifier.errors import BadRequest
from movieclassifier.forms import MAX_ID, check_review
from movieclassifier.model import LABELS
from movieclassifier.schema import Feedback, iso_utc

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREDICT_FIELDS = ("review", "reviews", "track")
FEEDBACK_FIELDS = ("prediction_id", "correct")
JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def json_response(document: dict[str, Any]) -> Response:
    """``jsonify(document)`` for plain JSON values (no dates, no dataclasses), by orjson.

    The same document as Flask writes outside debug mode (keys sorted, compact), in a tenth
    of the time: ``json``'s encoder took about 110 µs for a batch's 100 predictions, most
    of it writing the floats. orjson writes non-ASCII characters as UTF-8 rather than
    ``\\u`` escapes, which is the same JSON.
    """
    return Response(
        orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE),
        content_type="application/json",
    )


def loads_fast(data: bytes) -> Any:
    """``json.loads(data)`` for bodies without integer fields, parsed by orjson when it can.

    About twice as fast on a batch's 120 KB. orjson refuses a few texts that ``json``
    accepts (``NaN``, a lone surrogate escape, a byte-order mark): those take ``json.loads``,
    so exactly the same bodies are accepted. It reads an integer beyond 64 bits as a float,
    which is why the bodies with integer fields (feedback's ``prediction_id``) use ``json``.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _settings() -> Settings:
    return current_app.extensions["movieclassifier.settings"]  # type: ignore[no-any-return]


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type, for messages.

    >>> json_type(True), json_type(3), json_type(None)
    ('boolean', 'integer', 'null')
    """
    return JSON_TYPES.get(type(value), type(value).__name__)


def shown(value: object, limit: int = 40) -> str:
    """A bad value as JSON text for a message, cut short.

    >>> shown("yes"), shown(None), shown("x" * 50)[-4:]
    ('"yes"', 'null', 'xxx…')
    """
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def json_body(
    allowed: tuple[str, ...],
    settings: Settings,
    loads: Callable[[bytes], Any] = json.loads,
) -> dict[str, Any]:
    """The request's JSON object (parsed by ``loads``), refusing fields other than ``allowed``.

    Raises:
        BadRequest: the body is not a JSON object, or it has an unknown field.
    """
    body = request_json(settings.max_content_length, loads)
    if not isinstance(body, dict):
        raise BadRequest(
            "Request body must be a JSON object (Content-Type: application/json), got "
            + ("invalid or missing JSON" if body is None else json_type(body))
        )
    if body.keys() <= set(allowed):
        return body
    unknown = sorted(set(body) - set(allowed))
    accepted = ", ".join(f"'{name}'" for name in allowed)
    raise BadRequest(f"unknown field '{unknown[0]}'; accepted fields: {accepted}")


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
    one exact read does (about 5 µs less per predict request, bench/results/serve.md). The
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
    return data  # type: ignore[no-any-return]


def _expect(body: dict[str, Any], field: str, kind: type, type_name: str) -> Any:
    value = body[field]
    # bool is an int in Python, but not in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"'{field}' must be {type_name}, got {shown(value)} ({json_type(value)})")
    return value


def reviews_from(body: dict[str, Any], settings: Settings) -> list[str]:
    """The reviews of a predict body: ``review`` (one) or ``reviews`` (a batch).

    Raises:
        BadRequest: neither or both are given, or a review breaks the rules.
    """
    if ("review" in body) == ("reviews" in body):
        raise BadRequest("give exactly one of 'review' (a string) or 'reviews' (an array)")
    single = "review" in body
    if single:
        reviews = [_expect(body, "review", str, "a string")]
    else:
        reviews = _expect(body, "reviews", list, "an array of strings")
        if not 1 <= len(reviews) <= settings.max_batch:
            raise BadRequest(
                f"'reviews' must hold 1 to {settings.max_batch} reviews, got {len(reviews)}"
            )
    for index, review in enumerate(reviews):
        if isinstance(review, str) and check_review(review, settings) is None:
            continue
        # The field's name is spelled out for the message only, not for every review.
        name = "review" if single else f"reviews[{index}]"
        if not isinstance(review, str):
            raise BadRequest(f"'{name}' must be a string, got {json_type(review)}")
        raise BadRequest(str(check_review(review, settings, name)))
    return reviews


@bp.post("/predict")
def predict():  # type: ignore[no-untyped-def]
    """Classify one review or a batch; with ``"track": true`` store them for feedback."""
    settings = _settings()
    body = json_body(PREDICT_FIELDS, settings, loads_fast)
    reviews = reviews_from(body, settings)
    track = _expect(body, "track", bool, "a boolean") if "track" in body else False
    if track:
        predictions, ids = serving.classify_and_store(reviews, "api")
    else:
        predictions = serving.classify(reviews, "api")
        ids = [None] * len(predictions)
    items = [
        {"label": p.label, "probability": p.probability, "prediction_id": pid}
        for p, pid in zip(predictions, ids, strict=True)
    ]
    version = predictions[0].model_version
    return json_response({"ok": True, "model_version": version, "predictions": items})


def feedback_json(row: Feedback) -> dict[str, Any]:
    """A stored feedback row as the API shows it."""
    return {
        "id": row.id,
        "prediction_id": row.prediction_id,
        "correct": row.correct,
        "label": LABELS[row.label],
        "status": row.status,
        "created_at": iso_utc(row.created_at),
    }


@bp.post("/feedback", endpoint="feedback")
def feedback_view():  # type: ignore[no-untyped-def]
    """Record whether a stored prediction was right; 201 once the row is committed."""
    body = json_body(FEEDBACK_FIELDS, _settings())
    for field in FEEDBACK_FIELDS:
        if field not in body:
            raise BadRequest(f"'{field}' is required")
    prediction_id = _expect(body, "prediction_id", int, "an integer")
    correct = _expect(body, "correct", bool, "a boolean (true or false)")
    if not 1 <= prediction_id <= MAX_ID:
        raise BadRequest(f"'prediction_id' must be from 1 to {MAX_ID}, got {prediction_id}")
    row = serving.record_feedback(prediction_id, correct)
    return jsonify({"ok": True, **feedback_json(row)}), 201


@bp.get("/model", endpoint="model")
def model_info():  # type: ignore[no-untyped-def]
    """The version this worker serves (after its reload check) and its metadata.

    ``current_version`` is the registry's choice; the two differ for at most
    ``MODEL_RELOAD_SECONDS`` after a promotion or rollback. 503 before the first model.
    """
    served = serving.current_model()
    session = db.get_session()
    described = model_store.describe(model_store.get_version(session, served.version))
    current = model_store.current_version(session)
    return jsonify({"ok": True, **described, "current_version": current})


@bp.get("/models")
def models():  # type: ignore[no-untyped-def]
    """Every registered version, newest first, and which one is current."""
    session = db.get_session()
    rows = model_store.list_versions(session)
    return jsonify(
        {
            "ok": True,
            "current_version": model_store.current_version(session),
            "models": [model_store.describe(row) for row in rows],
        }
    )


@bp.get("/openapi.json", endpoint="openapi")
def openapi_document():  # type: ignore[no-untyped-def]
    """This API described in OpenAPI 3."""
    return jsonify(openapi.document(_settings()))
