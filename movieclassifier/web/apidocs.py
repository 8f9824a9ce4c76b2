"""``GET /api/v1/docs``: the JSON API for people, drawn on the server from the OpenAPI document.

The same document as ``/api/v1/openapi.json`` (``openapi.document``), so the page cannot
drift from it: every path and method, its summary, the request body's fields with their
rules, and each response code. Plain HTML from this app: no CDN and no script needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from movieclassifier.web import openapi

bp = Blueprint("apidocs", __name__)

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


@dataclass
class Field:
    name: str
    type: str
    required: bool
    rules: list[str]
    description: str


@dataclass
class Schema:
    name: str
    type: str
    fields: list[Field]
    notes: list[str] = field(default_factory=list)


@dataclass
class Answer:
    status: str
    description: str
    media_type: str
    schema: str  # the component's name, or a plain type


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    description: str
    body: Schema | None
    answers: list[Answer]

    @property
    def anchor(self) -> str:
        return f"{self.method}-{self.path.strip('/').replace('/', '-').replace('.', '-')}"


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type(schema: dict[str, Any]) -> str:
    """``string``, ``array of string``, ``Prediction``, ``boolean or null``."""
    name = _ref_name(schema)
    if name:
        return name
    kind = str(schema.get("type", "any"))
    if kind == "array":
        kind = f"array of {_type(schema.get('items', {}))}"
    return f"{kind} or null" if schema.get("nullable") else kind


def _rules(schema: dict[str, Any]) -> list[str]:
    rules = []
    if "enum" in schema:
        rules.append("one of " + ", ".join(_literal(v) for v in schema["enum"]))
    for key, words in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
        ("minimum", "at least {}"),
        ("maximum", "at most {}"),
        ("format", "format {}"),
        ("default", "default {}"),
    ):
        if key in schema:
            value = schema[key]
            rules.append(words.format(_literal(value) if key == "default" else value))
    items = schema.get("items")
    if items and "$ref" not in items:
        rules += [f"each: {rule}" for rule in _rules(items)]
    return rules


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def schema_view(name: str, schema: dict[str, Any]) -> Schema:
    """A component schema's fields, in the document's order, with their rules."""
    required = set(schema.get("required", []))
    fields = [
        Field(
            name=key,
            type=_type(prop),
            required=key in required,
            rules=_rules(prop),
            description=str(prop.get("description", "")),
        )
        for key, prop in schema.get("properties", {}).items()
    ]
    notes = []
    alternatives = [alt.get("required", []) for alt in schema.get("oneOf", [])]
    if alternatives:
        notes.append("Exactly one of: " + "; ".join(" and ".join(alt) for alt in alternatives))
    if schema.get("additionalProperties") is False:
        notes.append("No other fields are accepted.")
    return Schema(name, str(schema.get("type", "object")), fields, notes)


def _answers(responses: dict[str, Any]) -> list[Answer]:
    answers = []
    for status, response in responses.items():
        content = response.get("content", {}) or {"": {"schema": {}}}
        for media_type, body in content.items():
            schema = body.get("schema", {})
            answers.append(
                Answer(status, response.get("description", ""), media_type, _type(schema))
            )
    return answers


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every path and method of ``document``, in its order, ready for the page."""
    schemas = document.get("components", {}).get("schemas", {})
    found = []
    for path, methods in document["paths"].items():
        ordered = sorted(methods, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 9)
        for method in ordered:
            spec = methods[method]
            body = None
            content = spec.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = content["application/json"].get("schema", {})
                name = _ref_name(schema) or "body"
                body = schema_view(name, schemas.get(name, schema))
            found.append(
                Operation(
                    path=path,
                    method=method,
                    summary=str(spec.get("summary", "")),
                    description=str(spec.get("description", "")),
                    body=body,
                    answers=_answers(spec.get("responses", {})),
                )
            )
    return found


@bp.get("/api/v1/docs", endpoint="docs")
def docs() -> ResponseReturnValue:
    """The API page: every operation, then every schema the answers refer to."""
    document = openapi.document(current_app.extensions["movieclassifier.settings"])
    schemas = document.get("components", {}).get("schemas", {})
    return render_template(
        "api_docs.html",
        info=document.get("info", {}),
        version=document.get("openapi", ""),
        operations=operations(document),
        schemas=[schema_view(name, schema) for name, schema in schemas.items()],
        schemas_by_name=set(schemas),
    )
