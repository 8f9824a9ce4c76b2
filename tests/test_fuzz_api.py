"""Schema-driven fuzzing of the API from its own OpenAPI document (schemathesis).

No input, valid or not, may give a 5xx, and every answer must match the document. Kept
small (max_examples) and on SQLite only: the backends are covered case by case elsewhere.
schemathesis' pytest plugin (``from_fixture``) reads a private attribute pytest 9 no longer
has, so the operations are driven with plain Hypothesis ``@given``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from movieclassifier.config import Settings
from movieclassifier.web import openapi

OPERATIONS = [
    (method.upper(), path)
    for path, operations in openapi.document(Settings())["paths"].items()
    for method in operations
]
FUZZED = [(m, p) for m, p in OPERATIONS if m == "POST"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app, seed_model, client):
    # Some tracked predictions, so feedback cases can hit real ids (1..3) too.
    for review in ("A wonderful, moving film.", "A dull, boring film.", "Fine, I guess, okay."):
        client.post("/api/v1/predict", json={"review": review, "track": True})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def run_operation(api_schema, method, path, mode, max_examples):
    operation = api_schema[path][method]

    # database=None: Hypothesis would otherwise keep examples under .hypothesis/ in the cwd.
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(checks=CHECKS)

    check()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), FUZZED)
def test_post_operations_never_answer_5xx(api_schema, method, path, mode):
    run_operation(api_schema, method, path, mode, max_examples=40)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if op not in FUZZED])
def test_get_operations_match_the_document(api_schema, method, path):
    run_operation(api_schema, method, path, GenerationMode.POSITIVE, max_examples=3)
