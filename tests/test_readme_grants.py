"""The examples of README.md's section on the device, token exchange and JWT bearer grants run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
SECTION = "## Device, token exchange and JWT bearer grants"


def examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    following = section.find("\n## ", len(SECTION))
    section = section if following == -1 else section[:following]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_section_has_an_example_per_grant() -> None:
    assert len(examples()) == 3


@pytest.mark.parametrize("code", examples(), ids=["device", "token_exchange", "jwt_bearer"])
def test_the_example_runs(code: str) -> None:
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
