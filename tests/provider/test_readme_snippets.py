"""The README's examples of pushed authorization requests (RFC 9126), request objects (OIDC Core §6.1)
and DPoP (RFC 9449) run as written, one after the other, as a reader would paste them."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"
SECTIONS = ("Pushed authorization requests", "Request objects", "DPoP")


def snippet(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    if len(blocks) != 1:
        raise ValueError(f"README section {title!r} should have one python example, has {len(blocks)}")
    return str(blocks[0])


def test_the_examples_run_in_order() -> None:
    namespace: dict[str, object] = {}
    for title in SECTIONS:
        exec(compile(snippet(title), f"README.md#{title}", "exec"), namespace)  # noqa: S102

    assert namespace["tokens"]
