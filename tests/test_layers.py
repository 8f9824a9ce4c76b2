"""The layers of docs/DESIGN.md hold (invariant 13): read from the import graph, with ``ast``.

- The core (modules directly in ``movieclassifier/``) imports no web framework, no click,
  and nothing of ``web/`` or ``cli/``; only ``create_app`` in ``__init__`` may reach them.
- ``features/`` imports nothing else of the package.
- ``web/`` and ``cli/`` do not import each other.
- ``web/`` imports none of the modules that learn (invariant 1: web workers never call
  ``partial_fit``; only the retrain job and the training command write models).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "movieclassifier"
WEB_FRAMEWORKS = {"flask", "werkzeug", "flask_wtf", "flask_limiter", "wtforms", "click"}
# The one function of the core that wires the edges together, as flaskr's create_app does,
# and the annotation of its return type.
WIRING = {("__init__.py", "create_app"), ("__init__.py", "TYPE_CHECKING")}


def imports(path: Path) -> list[tuple[str, str | None]]:
    """Every module ``path`` imports, with the function it is imported in (None: top level)."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = function or child.name
            elif isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
                inner = function or "TYPE_CHECKING"
            if isinstance(child, ast.Import):
                found.extend((alias.name, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.extend((f"{child.module}.{alias.name}", inner) for alias in child.names)
            visit(child, inner)

    visit(tree, None)
    return found


def breaches(path: Path, forbidden) -> list[str]:
    """The imports of ``path`` that ``forbidden(module)`` refuses, outside the wiring."""
    return [
        f"{path.name} imports {module}" + (f" (in {function})" if function else "")
        for module, function in imports(path)
        if forbidden(module) and (path.name, function) not in WIRING
    ]


def core_forbids(module: str) -> bool:
    top = module.split(".")[0]
    return top in WEB_FRAMEWORKS or module.startswith(
        ("movieclassifier.web", "movieclassifier.cli")
    )


def features_forbid(module: str) -> bool:
    return module.startswith("movieclassifier") and not module.startswith(
        "movieclassifier.features"
    )


# The modules that call partial_fit or publish what it made.
LEARNERS = ("movieclassifier.learning", "movieclassifier.retrain", "movieclassifier.training")


def web_forbids(module: str) -> bool:
    return module.startswith(LEARNERS)


CORE = sorted(PACKAGE.glob("*.py"))
FEATURES = sorted((PACKAGE / "features").glob("*.py"))


def test_the_layers_are_where_the_design_says():
    assert len(CORE) >= 10 and FEATURES and (PACKAGE / "web").is_dir()
    assert (PACKAGE / "cli").is_dir()


@pytest.mark.parametrize("path", CORE, ids=lambda path: path.name)
def test_the_core_knows_no_http_and_no_command_line(path):
    assert breaches(path, core_forbids) == []


@pytest.mark.parametrize("path", FEATURES, ids=lambda path: path.name)
def test_the_features_import_nothing_else_of_the_package(path):
    assert breaches(path, features_forbid) == []


@pytest.mark.parametrize(
    "edge, other", [("web", "movieclassifier.cli"), ("cli", "movieclassifier.web")]
)
def test_the_edges_do_not_import_each_other(edge, other):
    found = [
        breach
        for path in sorted((PACKAGE / edge).rglob("*.py"))
        for breach in breaches(path, lambda module: module.startswith(other))
    ]
    assert found == []


def test_the_web_never_learns():
    found = [
        breach
        for path in sorted((PACKAGE / "web").rglob("*.py"))
        for breach in breaches(path, web_forbids)
    ]
    assert found == []
    # And the rule sees such an import: the training_run module counts as training.
    assert web_forbids("movieclassifier.training_run") and not web_forbids("movieclassifier.model")


@pytest.mark.parametrize(
    "source, refused",
    [
        ("from flask import g\n", True),
        ("import werkzeug.exceptions\n", True),
        ("def f():\n    from movieclassifier.web import errors\n", True),
        ("from movieclassifier import cli\n", True),
        ("from movieclassifier import model_store\n", False),
        ("from sqlalchemy import select\n", False),
    ],
)
def test_the_check_sees_an_import_wherever_it_is(tmp_path, source, refused):
    # The check itself can fail: a core module that imports Flask, even inside a function.
    module = tmp_path / "leaky.py"
    module.write_text(source)
    assert bool(breaches(module, core_forbids)) is refused
