"""The examples of README.md's protocol sections (the device, token exchange and JWT bearer grants; client
authentication with a JWT; login details; back-channel logout; dynamic client registration) run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
#: Each section, with the names of its examples in order.
SECTIONS = {
    "### Device, token exchange and JWT bearer grants": ["device", "token_exchange", "jwt_bearer"],
    "### Client authentication with a JWT": ["private_key_jwt"],
    "### Login details: acr, amr, max_age and the claims parameter": ["acr_and_claims"],
    "### Back-channel logout": ["backchannel_logout"],
    "### Dynamic client registration": ["registration"],
}


def examples(heading: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}\n") + 1 :]
    following = re.search(r"\n#{2,3} ", section[len(heading) :])
    section = section if following is None else section[: len(heading) + following.start()]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


@pytest.mark.parametrize("heading", SECTIONS)
def test_the_section_has_an_example_per_topic(heading: str) -> None:
    assert len(examples(heading)) == len(SECTIONS[heading])


@pytest.mark.parametrize(
    "code", [code for heading in SECTIONS for code in examples(heading)], ids=[n for v in SECTIONS.values() for n in v]
)
def test_the_example_runs(code: str) -> None:
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
