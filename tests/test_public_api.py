"""The public API: ``mockidp.__all__`` names exactly what the package exports, as httpx's
``test_exported_members`` checks, so ``from mockidp import *``, ``dir()`` and documentation tools agree.
"""

from __future__ import annotations

import types
from typing import Any

import pytest

import mockidp


def public_attributes() -> set[str]:
    """The non-underscore, non-module names in the package's namespace, once every export is loaded."""
    for name in mockidp.__all__:
        getattr(mockidp, name)  # the exports load on first use
    return {
        name
        for name, value in vars(mockidp).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_is_sorted() -> None:
    assert mockidp.__all__ == sorted(mockidp.__all__)


@pytest.mark.parametrize("name", mockidp.__all__)
def test_every_name_in_all_exists(name: str) -> None:
    assert getattr(mockidp, name) is not None


def test_every_public_attribute_is_in_all() -> None:
    assert public_attributes() - set(mockidp.__all__) == set()


def test_dir_lists_every_export() -> None:
    assert set(mockidp.__all__) <= set(dir(mockidp))


def test_star_import_brings_exactly_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from mockidp import *", namespace)  # noqa: S102

    assert set(namespace) - {"__builtins__"} == set(mockidp.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"^module 'mockidp' has no attribute 'Provider'$"):
        mockidp.Provider  # noqa: B018


def test_no_future_feature_leaks_into_the_namespace() -> None:
    assert "annotations" not in vars(mockidp)


def test_the_testing_module_exports_what_tests_annotate() -> None:
    import mockidp.testing as testing

    assert testing.__all__ == sorted(testing.__all__, key=lambda n: (not n.isupper(), n))
    for name in testing.__all__:
        assert getattr(testing, name) is not None
    assert {"ForgedToken", "LoginResult", "LoginError", "TAMPER_KINDS", "FORGE_KINDS"} <= set(testing.__all__)
