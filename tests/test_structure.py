"""The package's structure, as the endpoint seam (``mockidp._context``) promises it.

Endpoints and grants see their provider only through a ``Context``: none of them imports
``mockidp._provider`` (the ``MockIdP`` front), the login driver or the test tooling. The endpoint
and grant tables are the one list of names, and every module opens with the spec it implements.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

import mockidp
from mockidp import _endpoints, _grants
from mockidp._config import GRANT_TYPES
from mockidp._journal import ENDPOINTS, Endpoint

PACKAGE = Path(mockidp.__file__).parent
SEAM = sorted([*PACKAGE.glob("_endpoints/*.py"), *PACKAGE.glob("_grants/*.py"), PACKAGE / "_context.py"])
FRONT = {"mockidp._provider", "mockidp._login", "mockidp.testing", "mockidp._cli"}


def runtime_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it runs: ``if TYPE_CHECKING:`` blocks left out."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


@pytest.mark.parametrize("path", SEAM, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_endpoints_and_grants_reach_the_provider_only_through_its_context(path: Path) -> None:
    assert runtime_imports(path) & FRONT == set()


def test_the_endpoint_table_is_the_list_of_endpoint_names() -> None:
    assert _endpoints.NAMES == ENDPOINTS == typing.get_args(Endpoint)


def test_the_grant_table_is_the_list_of_grant_types() -> None:
    assert tuple(g.name for g in _grants.TABLE) == GRANT_TYPES


@pytest.mark.parametrize(
    "path",
    sorted(p for p in PACKAGE.rglob("*.py") if p.name != "_version.py"),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_every_module_opens_with_a_docstring(path: Path) -> None:
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"


@pytest.mark.parametrize("endpoint", _endpoints.TABLE, ids=lambda e: e.name)
def test_every_endpoint_names_its_spec(endpoint: _endpoints.Endpoint) -> None:
    assert "section" in endpoint.spec
