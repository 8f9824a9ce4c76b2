"""The JSON API under ``/api/v1``: predict, feedback, model versions, the OpenAPI document.

Thin: validate the body, call ``serving``/``feedback``/``model_store``, answer. Every
error is an ``errors.APIError`` (one shape); a 2xx to feedback means the row is committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from movieclassifier import explaining, features, model_store
from movieclassifier.config import Settings
from movieclassifier.feedback import API
from movieclassifier.reviews import Kind, ReviewProblem, review_problem
from movieclassifier.web import database, openapi, serving, shortcuts
from movieclassifier.web.errors import BadRequest

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREDICT_FIELDS = ("review", "reviews", "track", "explain")
FEEDBACK_FIELDS = ("prediction_id", "correct")
BATCH_FEEDBACK_FIELDS = (*FEEDBACK_FIELDS, "answers")
JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}
# Each kind of bad review in words for programs; ``{field}`` names the review in the body.
API_MESSAGES = {
    Kind.EMPTY: "'{field}' must not be empty",
    Kind.TOO_SHORT: "'{field}' must have at least {limit} characters "
    "(not counting surrounding spaces), got {length}",
    Kind.TOO_LONG: "'{field}' must have at most {limit} characters, got {length}",
    Kind.NUL_CHARACTER: "'{field}' must not contain NUL characters (\\u0000)",
    Kind.UNPAIRED_SURROGATE: "'{field}' must be valid Unicode text; it contains an unpaired "
    "surrogate",
}


def _settings() -> Settings:
    return current_app.extensions["movieclassifier.settings"]


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type, for messages.

    >>> json_type(True), json_type(3), json_type(None)
    ('boolean', 'integer', 'null')
    """
    return JSON_TYPES.get(type(value), type(value).__name__)


def api_message(problem: ReviewProblem, field: str = "review") -> str:
    """``problem`` with the review at ``field`` as the API says it.

    >>> api_message(ReviewProblem(Kind.TOO_SHORT, 5, 10))
    "'review' must have at least 10 characters (not counting surrounding spaces), got 5"
    """
    template = API_MESSAGES[problem.kind]
    return template.format(field=field, length=problem.length, limit=problem.limit)


def json_excerpt(value: object, limit: int = 40) -> str:
    """A bad value as JSON text for a message, cut short after ``limit`` characters.

    >>> json_excerpt("yes"), json_excerpt(None), json_excerpt("x" * 50)[-4:]
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
    body = shortcuts.request_json(settings.max_content_length, loads)
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


def _typed_field(
    body: dict[str, Any], field: str, kind: type, type_name: str, prefix: str = ""
) -> Any:
    """``body[field]`` when it is of JSON type ``type_name`` (a ``kind``); else BadRequest
    naming it as ``prefix + field``."""
    value = body[field]
    # bool is an int in Python, but not in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(
            f"'{prefix}{field}' must be {type_name}, got {json_excerpt(value)} ({json_type(value)})"
        )
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
        reviews = [_typed_field(body, "review", str, "a string")]
    else:
        reviews = _typed_field(body, "reviews", list, "an array of strings")
        if not 1 <= len(reviews) <= settings.max_batch:
            raise BadRequest(
                f"'reviews' must hold 1 to {settings.max_batch} reviews, got {len(reviews)}"
            )
    for index, review in enumerate(reviews):
        # The field's name is spelled out for a message only, not for every review.
        if not isinstance(review, str):
            name = "review" if single else f"reviews[{index}]"
            raise BadRequest(f"'{name}' must be a string, got {json_type(review)}")
        problem = review_problem(review, settings)
        if problem is not None:
            raise BadRequest(api_message(problem, "review" if single else f"reviews[{index}]"))
    return reviews


@bp.post("/predict")
def predict() -> ResponseReturnValue:
    """Classify one review or a batch; with ``"track": true`` store them for feedback."""
    settings = _settings()
    body = json_body(PREDICT_FIELDS, settings, shortcuts.loads_fast)
    reviews = reviews_from(body, settings)
    track = _typed_field(body, "track", bool, "a boolean") if "track" in body else False
    explain = _typed_field(body, "explain", bool, "a boolean") if "explain" in body else False
    references: Sequence[str | None]
    # One model for the answers and their explanations, even if a reload comes between.
    model = serving.current_model()
    if track:
        source = serving.api_source()
        predictions, references = serving.classify_and_store(reviews, API, source, model)
    else:
        predictions = serving.classify(reviews, API, model)
        references = [None] * len(predictions)
    items: list[dict[str, Any]] = [
        {"label": p.label, "probability": p.probability, "prediction_id": pid}
        for p, pid in zip(predictions, references, strict=True)
    ]
    if explain:
        for item, review in zip(items, reviews, strict=True):
            explained = explaining.explain(model, review)
            item["explanation"] = serving.explanation_json(explained, settings.explain_top)
    version = predictions[0].model_version
    return shortcuts.json_response({"ok": True, "model_version": version, "predictions": items})


@bp.post("/feedback", endpoint="feedback")
def feedback_view() -> ResponseReturnValue:
    """Record whether a stored prediction was right; 201 once the row is committed.

    ``prediction_id`` is the reference predict returned; one that names nothing, or a
    page's prediction, is the same 404.
    """
    settings = _settings()
    body = json_body(BATCH_FEEDBACK_FIELDS, settings)
    if "answers" in body:
        answers = answers_from(body, settings)
        stored = serving.record_feedback_batch(answers, API, serving.api_source())
        items = [serving.feedback_json(prediction, row) for prediction, row in stored]
        return jsonify({"ok": True, "answers": items}), 201
    reference, correct = one_answer(body)
    prediction, row = serving.record_feedback(reference, correct, API, serving.api_source())
    return jsonify({"ok": True, **serving.feedback_json(prediction, row)}), 201


def one_answer(body: dict[str, Any], name: str = "") -> tuple[str, bool]:
    """The reference and the answer of one feedback object; ``name`` prefixes its fields.

    Raises:
        BadRequest: a field is missing, unknown or of the wrong type.
    """
    for field in FEEDBACK_FIELDS:
        if field not in body:
            raise BadRequest(f"'{name}{field}' is required")
    unknown = sorted(set(body) - set(FEEDBACK_FIELDS))
    if unknown:
        raise BadRequest(
            f"unknown field '{name}{unknown[0]}'; accepted: 'prediction_id', 'correct'"
        )
    reference = _typed_field(
        body, "prediction_id", str, "a string (the reference that predict returned)", name
    )
    correct = _typed_field(body, "correct", bool, "a boolean (true or false)", name)
    return reference, correct


def answers_from(body: dict[str, Any], settings: Settings) -> list[tuple[str, bool]]:
    """The answers of a batch feedback body, ``{"answers": [{...}, ...]}``.

    Raises:
        BadRequest: other fields besides ``answers``, not 1 to ``MAX_BATCH`` objects, or a
            bad answer (named by its index).
    """
    if len(body) > 1:
        raise BadRequest("give either 'answers' (an array) or 'prediction_id' and 'correct'")
    answers = _typed_field(body, "answers", list, "an array of objects")
    if not 1 <= len(answers) <= settings.max_batch:
        raise BadRequest(
            f"'answers' must hold 1 to {settings.max_batch} answers, got {len(answers)}"
        )
    found = []
    for index, item in enumerate(answers):
        if not isinstance(item, dict):
            raise BadRequest(f"'answers[{index}]' must be an object, got {json_type(item)}")
        found.append(one_answer(item, f"answers[{index}]."))
    return found


@bp.get("/model", endpoint="model")
def model_info() -> ResponseReturnValue:
    """The version this worker serves (after its reload check) and its metadata.

    ``current_version`` is the registry's choice; the two differ for at most
    ``MODEL_RELOAD_SECONDS`` after a promotion or rollback. ``feature_backend`` says which
    code computes the features ("c", or "python" when the extension is not built). 503
    before the first model.
    """
    served = serving.current_model()
    assert served.version is not None  # the cache serves registered versions only
    session = database.get_session()
    described = model_store.describe(model_store.get_version(session, served.version))
    current = model_store.current_version(session)
    return jsonify(
        {
            "ok": True,
            **described,
            "current_version": current,
            "feature_backend": features.BACKEND.name,
        }
    )


@bp.get("/models")
def models() -> ResponseReturnValue:
    """Every registered version, newest first, and which one is current."""
    session = database.get_session()
    rows = model_store.list_versions(session)
    return jsonify(
        {
            "ok": True,
            "current_version": model_store.current_version(session),
            "models": [model_store.describe(row) for row in rows],
        }
    )


@bp.get("/openapi.json", endpoint="openapi")
def openapi_document() -> ResponseReturnValue:
    """This API described in OpenAPI 3."""
    return jsonify(openapi.document(_settings()))
