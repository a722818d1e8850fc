"""The virtualenv of the peer pytest-iam, built on demand and cached under ``.cache/bench-peers``.

pytest-iam (with canaille, Flask, Faker, dramatiq...) registers a ``pytest11`` plugin that would load in
every pytest run of the project's own venv, the test suite's and the other benchmarks' alike; so it lives
in its own venv, like the compat venvs of ``tests/compat/_seedenv.py``. That venv gets pytest-iam and the
example app's libraries at the versions this venv has (so the app costs the same on both sides); its
directory's name hashes that list and the Python version, so a change of either builds a new one.
Building it takes ~60 s here, once; ``--quick`` does not run pytest-iam at all (its start-up alone is ~5 s).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from _common import ROOT

CACHE = ROOT / ".cache" / "bench-peers"
PEER = "pytest-iam==0.3.0"
#: What the generated login suite imports besides pytest-iam: the example app's libraries, the test client.
SAME_AS_HERE = ("pytest", "starlette", "authlib", "httpx", "httpx2", "joserfc", "sqlalchemy", "itsdangerous", "anyio")
BUILD_TIMEOUT = 600.0


class PeerEnvMissing(Exception):
    """The venv could not be built: the row says why instead of failing the run."""


def requirements() -> str:
    pins = [PEER]
    for name in SAME_AS_HERE:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return "\n".join(pins) + "\n"


def env_dir() -> Path:
    digest = hashlib.sha256(requirements().encode())
    digest.update(f"python{sys.version_info.major}.{sys.version_info.minor}".encode())
    return CACHE / f"pytest-iam-{digest.hexdigest()[:16]}"


def env_python(directory: Path) -> Path:
    return directory / "bin" / "python"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def peer_python() -> Path:
    """The interpreter of the pytest-iam venv, built first if it is missing."""
    directory = env_dir()
    if (directory / ".complete").exists():
        return env_python(directory)
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# built by bench/_peerenv.py: not part of the repository\n*\n")
    with (CACHE / "pytest-iam.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (directory / ".complete").exists():
            return env_python(directory)
        shutil.rmtree(directory, ignore_errors=True)
        print(f"  building the {PEER} venv in {directory} (once) ...", file=sys.stderr, flush=True)
        (CACHE / "requirements.txt").write_text(requirements())
        steps = [
            [sys.executable, "-m", "venv", str(directory)],
            [str(env_python(directory)), "-m", "pip", "install", "-q", "-r", str(CACHE / "requirements.txt")],
        ]
        for argv in steps:
            try:
                done = subprocess.run(  # noqa: S603 - argv built here, no shell
                    argv,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    env=_clean_env(),
                    timeout=BUILD_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                shutil.rmtree(directory, ignore_errors=True)
                raise PeerEnvMissing(f"building the {PEER} venv took over {BUILD_TIMEOUT:.0f} s") from None
            if done.returncode != 0:
                shutil.rmtree(directory, ignore_errors=True)
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
                raise PeerEnvMissing(f"building the {PEER} venv failed ({argv[2]}):\n{tail}")
        (directory / ".complete").write_text(requirements())
    return env_python(directory)
