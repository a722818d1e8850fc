"""README.md runs as written: its test modules pass through pytester, its library snippets run, its
configuration blocks load, its commands work, and every docs topic an error points at exists.

The conventions (the README's Contributing section says them too): a ``python`` block that defines
``test_`` functions is a test module; a block whose first line is ``# <file>`` is that file; the
``# pytest.ini`` block configures the session the test modules run in; every other ``python`` block
runs in order in one namespace; every other ``ini`` block is the configuration of a session of its
own; in ``bash`` blocks, ``pytest ...`` lines are collected against the README's suite and
``python -m mockidp docs ...`` lines run; ``text`` blocks are sample output.
"""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from mockidp._cli import main
from mockidp._docs import sections

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
STRICT = "addopts = --strict-markers --strict-config -p no:cacheprovider\nfilterwarnings = error\n"
_OPEN = re.compile(r"^(\s*)```(\w+)\s*$")
_FILE = re.compile(r"^# ([\w./-]+\.(?:py|toml|ini|json))\b")


@dataclass(frozen=True)
class Block:
    lang: str
    line: int
    code: str

    @property
    def file(self) -> str | None:
        match = _FILE.match(self.code)
        return match.group(1) if match else None

    @property
    def is_tests(self) -> bool:
        return self.lang == "python" and re.search(r"^(async )?def test_", self.code, re.MULTILINE) is not None


def blocks(text: str) -> list[Block]:
    """Every fenced block, with its indentation (a block inside a list item) taken off."""
    found: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, lang = len(match.group(1)), match.group(2)
        end = next(n for n in range(index + 1, len(lines)) if lines[n].strip() == "```")
        code = "\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n"
        found.append(Block(lang, index + 1, code))
        index = end + 1
    return found


BLOCKS = blocks(README)
FILES = {b.file: b for b in BLOCKS if b.file is not None and b.file != "pytest.ini" and not b.is_tests}
MAIN_INI = next(b for b in BLOCKS if b.lang == "ini" and b.file == "pytest.ini")
TESTS = [b for b in BLOCKS if b.is_tests]


def _write_suite(pytester: pytest.Pytester, ini: str) -> None:
    pytester.makefile(".ini", pytest=ini.replace("[pytest]\n", "[pytest]\n" + STRICT, 1))
    for path, block in FILES.items():
        target = pytester.path / str(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code)
    pytester.syspathinsert()


def test_the_readme_has_blocks_of_each_kind() -> None:
    kinds = {b.lang for b in BLOCKS}

    assert {"python", "ini", "bash", "text", "toml"} <= kinds
    assert len(TESTS) >= 15
    assert {"notes_app.py", "notes_fastapi.py", "tests/idp.toml"} <= set(FILES)


def test_the_readme_test_modules_pass(pytester: pytest.Pytester) -> None:
    _write_suite(pytester, MAIN_INI.code)
    for block in TESTS:
        name = block.file or f"test_readme_line_{block.line}.py"
        pytester.makepyfile(**{Path(name).stem: block.code})

    result = pytester.runpytest()

    outcomes = result.parseoutcomes()
    functions = sum(len(re.findall(r"^(?:async )?def test_", b.code, re.MULTILINE)) for b in TESTS)
    assert (outcomes.get("failed", 0), outcomes.get("errors", 0)) == (0, 0), result.stdout.str()
    assert outcomes["passed"] >= functions


def test_the_readme_library_snippets_run() -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    library = [b for b in BLOCKS if b.lang == "python" and not b.is_tests and b.file is None]

    for block in library:
        exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)  # noqa: S102

    assert len(library) >= 3


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.lang == "ini" and b.file is None], ids=lambda b: f"line-{b.line}"
)
def test_each_readme_configuration_loads(pytester: pytest.Pytester, block: Block) -> None:
    _write_suite(pytester, block.code + "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_config(mockidp_config, idp_env):\n    assert mockidp_config.issuer\n")

    pytester.runpytest().assert_outcomes(passed=1)


COMMANDS = [line.split("#")[0].strip() for b in BLOCKS if b.lang == "bash" for line in b.code.splitlines()]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("pytest ")])
def test_each_readme_pytest_command_is_accepted(pytester: pytest.Pytester, command: str) -> None:
    _write_suite(pytester, MAIN_INI.code)
    for block in TESTS:
        pytester.makepyfile(**{Path(block.file or f"test_readme_line_{block.line}.py").stem: block.code})

    result = pytester.runpytest(*shlex.split(command)[1:], "--collect-only", "-q")

    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("python -m mockidp docs")])
def test_each_readme_docs_command_prints_a_section(command: str) -> None:
    out, err = io.StringIO(), io.StringIO()

    assert main(shlex.split(command)[3:], out=out, err=err) == 0
    assert out.getvalue().startswith(("### ", "Topics"))
    assert err.getvalue() == ""


def test_the_notes_app_in_the_readme_is_the_one_the_suite_tests() -> None:
    shown = FILES["notes_app.py"].code.split("\n", 1)[1]

    assert shown == (ROOT / "tests" / "plugin" / "apps" / "notes_app.py").read_text()


def _topics_pointed_at() -> set[str]:
    topics: set[str] = set()
    for path in [*(ROOT / "mockidp").rglob("*.py"), *(ROOT / "plugin").rglob("*.py")]:
        source = path.read_text()
        topics.update(re.findall(r"\bsee\(\"([\w-]+)\"\)", source))
        topics.update(re.findall(r"^\s+topic(?:: ClassVar\[str\])? = \"([\w-]+)\"", source, re.MULTILINE))
        topics.update(re.findall(r"mockidp docs ([a-z][\w-]+)", source))
        topics.update(re.findall(r"\btopic=\"([\w-]+)\"", source))
        topics.update(re.findall(r"_fail\([^()]*(?:\([^()]*\)[^()]*)*,\s*\"([\w-]+)\",?\s*\)", source))
    return topics


def test_every_topic_an_error_points_at_is_a_readme_section() -> None:
    topics = _topics_pointed_at()
    anchors = {s.topic for s in sections(README)}

    assert {"assertions", "configuration", "simulated-logins", "the-app-fixture", "idp_env", "bad-tokens"} <= topics
    assert sorted(topics - anchors) == []
