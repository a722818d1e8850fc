"""``python -m mockidp docs [TOPIC]``: a section of the README, printed from any install.

Every error mockidp raises at a test author ends with ``see: python -m mockidp docs <topic>``, and a
link into a README is no use to someone who installed a wheel. The README is the package's long
description, so it travels in every install's core metadata (the ``Description`` body, Core
Metadata 2.1 / PEP 566); a source checkout reads its README.md instead, which is never stale.
A topic is the section's GitHub anchor: ``assertions`` for ``### Assertions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mockidp._errors import unknown

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Section:
    topic: str
    title: str
    level: int
    text: str


def readme() -> str:
    """The README: the checkout's own file next to the package, else the installed package's long description."""
    checkout = Path(__file__).resolve().parent.parent
    source = checkout / "README.md"
    if source.is_file() and (checkout / "pyproject.toml").is_file():
        return source.read_text(encoding="utf-8")
    try:
        description = metadata.metadata("mockidp").json.get("description", "")
    except metadata.PackageNotFoundError:  # pragma: no cover - mockidp imported without being installed
        return ""
    return str(description)


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]", "", title).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def sections(text: str) -> list[Section]:
    """Every heading outside code blocks, each with its text up to the next heading of its level or above."""
    lines = text.splitlines()
    found: list[tuple[int, int, str]] = []
    fenced = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match is not None:
            found.append((number, len(match.group(1)), match.group(2)))
    result = []
    for index, (start, level, title) in enumerate(found):
        end = next((n for n, lvl, _ in found[index + 1 :] if lvl <= level), len(lines))
        result.append(Section(slug(title), title, level, "\n".join(lines[start:end]).rstrip() + "\n"))
    return result


def lookup(topic: str, text: str | None = None) -> Section:
    """The section whose anchor is ``topic``; ``LookupError`` with the nearest topic if there is none."""
    found = sections(readme() if text is None else text)
    for section in found:
        if section.topic == topic.strip().lstrip("#").lower():
            return section
    raise LookupError(unknown("topic", topic, [s.topic for s in found if s.level > 1]))


def contents(text: str | None = None) -> str:
    """The topics, indented by their heading's level."""
    found = [s for s in sections(readme() if text is None else text) if s.level > 1]
    lines = ["Topics (python -m mockidp docs TOPIC):"]
    lines.extend(f"{'  ' * (s.level - 1)}{s.topic}" for s in found)
    return "\n".join(lines) + "\n"
