"""Virtualenvs with old pins for the seed apps, cached under the repository, and those apps as subprocesses.

The seed apps need releases (authx 0.9.1, xpresso 0.46.0) whose pins cannot share an environment with
mockidp, so each gets its own virtualenv built by ``python -m venv`` and ``pip install -r`` from
``examples/seed_compat/requirements-<name>.txt``; so does the oldest Starlette mockidp supports
(``tests/compat/requirements-oldest.txt``). An environment lives in
``.cache/seed-envs/<name>-<hash>``, the hash covering the requirements file and the Python version, and
is reused while it exists. Building it is bounded in time and never prompts; a failure because the
package registry cannot be reached becomes ``RegistryUnreachable`` (the tests skip), any other is an
``EnvBuildError`` (the tests fail). An app is ready when it prints uvicorn's startup line.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED_COMPAT = REPO / "examples" / "seed_compat"
CACHE = REPO / ".cache" / "seed-envs"
#: The pins are resolved for this Python (wheels of cryptography 41, pydantic 1.10, SQLAlchemy 1.4...).
PYTHON = (3, 11)

VENV_TIMEOUT = 120  # seconds for ``python -m venv``
PIP_TIMEOUT = 900  # seconds for the whole ``pip install``; each connection gives up after PIP_SOCKET_TIMEOUT
PIP_SOCKET_TIMEOUT = 30
START_TIMEOUT = 60  # seconds for an app to print its startup line
STOP_TIMEOUT = 15

#: What pip (through urllib3) prints when it cannot reach an index at all.
NETWORK_ERRORS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "nodename nor servname provided",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
    "Max retries exceeded",
    "connection broken by",
)

#: uvicorn's startup line; with ``--port 0`` it names the port the kernel chose.
UVICORN_READY = re.compile(r"Uvicorn running on (?P<url>https?://\S+)")


class RegistryUnreachable(Exception):
    """pip could not reach the package registry: the environment cannot be built here and now."""


class EnvBuildError(Exception):
    """Building an environment failed for another reason than the network."""


class AppFailed(Exception):
    """A seed app exited or stayed silent instead of listening."""


def requirements_file(name: str) -> Path:
    """``requirements-<name>.txt``: a seed app's in ``examples/seed_compat``, or one of tests/compat's own."""
    own = Path(__file__).parent / f"requirements-{name}.txt"
    return own if own.exists() else SEED_COMPAT / f"requirements-{name}.txt"


def base_python() -> str:
    """A Python 3.11 to make the virtualenvs with: this one if it is 3.11, else ``python3.11`` on the PATH."""
    if sys.version_info[:2] == PYTHON:
        return sys.executable
    found = shutil.which("python{}.{}".format(*PYTHON))
    if found is None:
        raise EnvBuildError(
            "the seed environments are pinned for Python {}.{}, and none is on the PATH".format(*PYTHON)
        )
    return found


def env_dir(name: str) -> Path:
    """Where the environment of ``requirements-<name>.txt`` lives: a new file content makes a new directory."""
    digest = hashlib.sha256(requirements_file(name).read_bytes())
    digest.update("python{}.{}".format(*PYTHON).encode())
    return CACHE / f"{name}-{digest.hexdigest()[:16]}"


def env_python(directory: Path) -> Path:
    return directory / "bin" / "python"  # the POSIX layout (build_env locks with fcntl, POSIX too)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without what would point a child at this virtualenv, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _run(argv: Sequence[str | Path], timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 (argv built here, no shell)
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=clean_env({"PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode(errors="replace")
        raise EnvBuildError(
            f"{what} did not finish within {timeout:.0f} s; its output ended with:\n{_tail(out)}"
        ) from None


def _tail(output: str, lines: int = 30) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def _usable(directory: Path) -> bool:
    """A finished build whose interpreter still starts (its base Python may have been removed since)."""
    if not (directory / ".complete").exists():
        return False
    python = env_python(directory)
    try:
        done = subprocess.run([str(python), "-c", "pass"], check=False, timeout=60)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def build_env(name: str) -> Path:
    """The interpreter of the seed environment ``name``, built on first use and reused afterwards.

    Concurrent builders (pytest-xdist workers) take turns on a lock file; the second finds the first's.
    """
    directory = env_dir(name)
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# built by tests/compat: not part of the repository\n*\n")
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(directory):
            return env_python(directory)
        shutil.rmtree(directory, ignore_errors=True)
        made = _run([base_python(), "-m", "venv", directory], VENV_TIMEOUT, "python -m venv")
        if made.returncode != 0:
            raise EnvBuildError(f"python -m venv {directory} failed:\n{_tail(made.stdout)}")
        requirements = requirements_file(name)
        pip: list[str | Path] = [env_python(directory), "-m", "pip", "install", "--only-binary", ":all:"]
        pip += ["--retries", "1", "--timeout", str(PIP_SOCKET_TIMEOUT), "-r", requirements]
        installed = _run(pip, PIP_TIMEOUT, f"pip install -r {requirements.name}")
        if installed.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            output = installed.stdout
            if any(marker in output for marker in NETWORK_ERRORS):
                said = [line for line in output.splitlines() if line.startswith("ERROR") or "connection" in line]
                raise RegistryUnreachable(
                    f"the package registry is unreachable, so the {name} environment cannot be built"
                    f" (pip install -r {requirements.name}):\n" + "\n".join(said[-3:])
                )
            raise EnvBuildError(f"pip install -r {requirements.name} failed:\n{_tail(output)}")
        (directory / ".complete").write_text(requirements.read_text())
    return env_python(directory)


@contextmanager
def running(argv: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path) -> Iterator[str]:
    """Run an app that uvicorn serves; yields its base URL once uvicorn says it is listening.

    Its output (stdout and stderr) is drained all along, so a chatty app never blocks on a full pipe,
    and is shown if it does not start. The process is stopped (terminated, then killed) at the end.
    """
    process = subprocess.Popen(  # noqa: S603 (argv built by the tests, no shell)
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(env),
        cwd=cwd,
    )
    output: list[str] = []
    ready: queue.Queue[str | None] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None

    def drain() -> None:
        for line in stdout:
            output.append(line)
            found = UVICORN_READY.search(line)
            if found:
                ready.put(found["url"])
        ready.put(None)

    reader = threading.Thread(target=drain, name=f"seed-app-{process.pid}", daemon=True)
    reader.start()
    try:
        try:
            url = ready.get(timeout=START_TIMEOUT)
        except queue.Empty:
            url = None
        if url is None:
            code = process.poll()
            state = (
                f"exited with status {code}" if code is not None else f"printed no startup line in {START_TIMEOUT} s"
            )
            raise AppFailed(f"{' '.join(map(str, argv))} {state}; its output:\n{_tail(''.join(output), 60)}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=STOP_TIMEOUT)
        stdout.close()
