"""``python -m mockidp docs``: the README's sections from any install, where every error points."""

from __future__ import annotations

import io
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from mockidp import _docs
from mockidp._cli import main

SAMPLE = """# Title

## Install

```bash
# not a heading: inside a code block
pip install x
```

## Reference

### `idp_env`

Variables.

### Users and clients

Users.

#### A detail

Detail.

## Contributing
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["docs", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_section_runs_to_the_next_heading_of_its_level() -> None:
    assert (
        _docs.lookup("users-and-clients", SAMPLE).text
        == "### Users and clients\n\nUsers.\n\n#### A detail\n\nDetail.\n"
    )
    assert _docs.lookup("install", SAMPLE).text.endswith("pip install x\n```\n")
    assert _docs.lookup("#idp_env", SAMPLE).text == "### `idp_env`\n\nVariables.\n"


def test_the_contents_list_every_topic_by_level() -> None:
    assert _docs.contents(SAMPLE) == (
        "Topics (python -m mockidp docs TOPIC):\n"
        "  install\n  reference\n    idp_env\n    users-and-clients\n      a-detail\n  contributing\n"
    )


@pytest.mark.parametrize(
    ("title", "anchor"),
    [
        ("The app fixture", "the-app-fixture"),
        ("`idp_env`", "idp_env"),
        ("Keys, time, faults and the request log", "keys-time-faults-and-the-request-log"),
        ("Async tests with pytest-asyncio", "async-tests-with-pytest-asyncio"),
    ],
)
def test_anchors_are_githubs(title: str, anchor: str) -> None:
    assert _docs.slug(title) == anchor


def test_the_cli_prints_a_section_of_the_readme() -> None:
    code, out, err = run("assertions")

    assert (code, err) == (0, "")
    assert out.startswith("### Assertions\n")
    assert "### API tokens" not in out
    assert "assert_login_redirect" in out


def test_the_cli_lists_the_topics() -> None:
    code, out, _ = run()

    assert code == 0
    assert out.startswith("Topics (python -m mockidp docs TOPIC):\n  install\n  a-login-test-in-five-minutes\n")
    assert "    assertions\n" in out


def test_an_unknown_topic_names_the_nearest() -> None:
    code, out, err = run("asertions")

    assert (code, out) == (2, "")
    assert err.startswith(
        "mockidp: error: unknown topic 'asertions' (did you mean 'assertions'?); choose one of install,"
    )


def test_an_install_without_the_checkout_reads_the_package_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_docs, "__file__", str(tmp_path / "site-packages" / "mockidp" / "_docs.py"))

    text = _docs.readme()

    assert text.startswith("# mockidp\n")  # the long description, as installed (an editable install's is as of then)
    assert text == metadata.metadata("mockidp").json["description"]
    assert text != ""


def test_python_m_mockidp_docs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockidp", "docs", "error-messages"], capture_output=True, text=True, check=False
    )

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("### Error messages\n")
