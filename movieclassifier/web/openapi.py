"""The OpenAPI 3 description of the JSON API, built from the settings it enforces.

A test checks that its paths and the app's API routes are the same set, and a
schemathesis fuzz drives the API from this document.
"""

from __future__ import annotations

from typing import Any

from movieclassifier.config import Settings

ERROR = {"$ref": "#/components/schemas/Error"}
REFERENCE_DESCRIPTION = (
    "The prediction's reference: an unguessable random string (at least 128 bits) that "
    'predict returns with "track": true and feedback takes back; treat it as a secret'
)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad input; the message names the field, the value and what is accepted",
        404: "The reference names no stored prediction, or one that this client may not "
        "answer (a page's prediction); the same answer either way",
        409: "The earlier answer was already learned and can no longer change",
        413: "Request body too large",
        429: "Rate limit reached; see Retry-After",
        503: "No model published yet (the message says how to train one), or the database "
        "is unavailable (with Retry-After)",
    }
    return {str(status): _json(ERROR, reasons[status]) for status in statuses}


def _schemas(settings: Settings) -> dict[str, Any]:
    review = {
        "type": "string",
        "minLength": settings.min_review_chars,
        "maxLength": settings.max_review_chars,
        "description": "Review text; its length is counted after stripping surrounding spaces",
    }
    nullable_int = {"type": "integer", "nullable": True}
    model_version: dict[str, Any] = {
        "type": "object",
        "required": ["version", "status", "created_at", "sha256", "holdout_accuracy"],
        "properties": {
            "version": {"type": "integer"},
            "status": {"type": "string", "enum": ["promoted", "rejected", "rolled_back"]},
            "created_at": {"type": "string", "nullable": True},
            "promoted_at": {"type": "string", "nullable": True},
            "sha256": {"type": "string"},
            "samples_seen": {"type": "integer"},
            "holdout_accuracy": {"type": "number", "nullable": True},
            "source": {"type": "string"},
            "pruned": {"type": "boolean"},
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["ok", "error", "status"],
            "properties": {
                "ok": {"type": "boolean", "enum": [False]},
                "error": {"type": "string"},
                "status": {"type": "integer"},
            },
        },
        "PredictRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "review": review,
                "reviews": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": settings.max_batch,
                    "items": review,
                },
                "track": {"type": "boolean", "default": False},
                "explain": {
                    "type": "boolean",
                    "default": False,
                    "description": "Add to each prediction the phrases of the review that pushed "
                    "it most (at most the EXPLAIN_TOP setting)",
                },
            },
            "oneOf": [{"required": ["review"]}, {"required": ["reviews"]}],
        },
        "Prediction": {
            "type": "object",
            "required": ["label", "probability", "prediction_id"],
            "properties": {
                "label": {"type": "string", "enum": ["negative", "positive"]},
                "probability": {"type": "number", "minimum": 0.5, "maximum": 1},
                "prediction_id": {
                    "type": "string",
                    "nullable": True,
                    "description": REFERENCE_DESCRIPTION + '; null unless "track" is true',
                },
                "explanation": {
                    "type": "array",
                    "description": 'Only with "explain": true. The phrases that pushed the '
                    "answer most, strongest first. Each word's exact share of the calibrated "
                    "logit (its n-grams' weights split between their words), summed over "
                    "neighbouring words that push the same way; empty when the review has "
                    "no words the model reads",
                    "items": {"$ref": "#/components/schemas/ExplainedPhrase"},
                },
            },
        },
        "ExplainedPhrase": {
            "type": "object",
            "required": ["text", "weight"],
            "properties": {
                "text": {
                    "type": "string",
                    "description": "The review's own words, as normalized (lower case, "
                    "punctuation dropped)",
                },
                "weight": {
                    "type": "number",
                    "description": "Its share of the calibrated logit: positive pushes toward "
                    "positive",
                },
            },
        },
        "PredictResponse": {
            "type": "object",
            "required": ["ok", "model_version", "predictions"],
            "properties": {
                "ok": {"type": "boolean"},
                "model_version": {"type": "integer"},
                "predictions": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Prediction"},
                },
            },
        },
        "FeedbackRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "prediction_id": {"type": "string", "description": REFERENCE_DESCRIPTION},
                "correct": {"type": "boolean"},
                "answers": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": settings.max_batch,
                    "description": "Several answers at once, instead of prediction_id and "
                    "correct: all are stored in one transaction, or none (an error names "
                    "the answer by its index, answers[i])",
                    "items": {"$ref": "#/components/schemas/Answer"},
                },
            },
            "oneOf": [{"required": ["prediction_id", "correct"]}, {"required": ["answers"]}],
        },
        "Answer": {
            "type": "object",
            "additionalProperties": False,
            "required": ["prediction_id", "correct"],
            "properties": {
                "prediction_id": {"type": "string", "description": REFERENCE_DESCRIPTION},
                "correct": {"type": "boolean"},
            },
        },
        "FeedbackBatch": {
            "type": "object",
            "required": ["ok", "answers"],
            "properties": {
                "ok": {"type": "boolean"},
                "answers": {
                    "type": "array",
                    "description": "The stored answers, in the order sent",
                    "items": {"$ref": "#/components/schemas/Feedback"},
                },
            },
        },
        "Feedback": {
            "type": "object",
            "required": ["ok", "id", "prediction_id", "correct", "label", "status", "created_at"],
            "properties": {
                "ok": {"type": "boolean"},
                "id": {"type": "integer"},
                "prediction_id": {"type": "string", "description": REFERENCE_DESCRIPTION},
                "correct": {"type": "boolean"},
                "label": {"type": "string", "enum": ["negative", "positive"]},
                "status": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "ModelVersion": model_version,
        "ServedModel": {
            **model_version,
            "required": [*model_version["required"], "current_version", "feature_backend"],
            "properties": {
                **model_version["properties"],
                "ok": {"type": "boolean"},
                "current_version": nullable_int,
                "feature_backend": {
                    "type": "string",
                    "enum": ["c", "python"],
                    "description": "Which code computes the features: the C extension, or "
                    "the Python reference (same features, several times slower)",
                },
            },
        },
        "Models": {
            "type": "object",
            "required": ["ok", "current_version", "models"],
            "properties": {
                "ok": {"type": "boolean"},
                "current_version": nullable_int,
                "models": {"type": "array", "items": {"$ref": "#/components/schemas/ModelVersion"}},
            },
        },
        "Health": {
            "type": "object",
            "required": ["ok"],
            "properties": {
                "ok": {"type": "boolean"},
                "database": {
                    "type": "string",
                    "description": '"ok"; "unreachable" while the database is down; "error" '
                    "for any other database error (see the server's log)",
                },
                "model_version": nullable_int,
                "error": {"type": "string"},
                "status": {"type": "integer"},
            },
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/predict": {
            "post": {
                "summary": "Classify one review or a batch; track to store them for feedback",
                "requestBody": _body("PredictRequest"),
                "responses": {
                    "200": _json(_ref("PredictResponse"), "One prediction per review"),
                    **_errors(400, 413, 429, 503),
                },
            }
        },
        "/api/v1/feedback": {
            "post": {
                "summary": "Say whether a stored prediction was correct",
                "requestBody": _body("FeedbackRequest"),
                "responses": {
                    "201": _json(
                        {"oneOf": [_ref("Feedback"), _ref("FeedbackBatch")]},
                        "The stored, committed answer (or answers, for a batch)",
                    ),
                    **_errors(400, 404, 409, 413, 429, 503),
                },
            }
        },
        "/api/v1/model": {
            "get": {
                "summary": "The version this worker serves and its metadata",
                "responses": {
                    "200": _json(_ref("ServedModel"), "The served version"),
                    **_errors(503),
                },
            }
        },
        "/api/v1/models": {
            "get": {
                "summary": "Every model version, newest first",
                "responses": {"200": _json(_ref("Models"), "All versions"), **_errors(503)},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")},
            }
        },
        "/api/v1/docs": {
            "get": {
                "summary": "This document as a page for people",
                "responses": {
                    "200": {
                        "description": "HTML page, drawn on the server",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "The process is alive",
                "responses": {"200": _json(_ref("Health"), "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "A model is loaded in this worker and the database answers",
                "responses": {
                    "200": _json(_ref("Health"), "Ready"),
                    "503": _json(_ref("Health"), "Not ready; 'error' says why"),
                },
            }
        },
    }


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.0 document for the limits in ``settings``."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "movieclassifier",
            "version": "1",
            "description": "Movie review sentiment with a feedback loop. Every error answers "
            '{"ok": false, "error": "<message>", "status": <code>}.',
        },
        "paths": _paths(),
        "components": {"schemas": _schemas(settings)},
    }
