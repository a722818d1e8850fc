"""Sections 1, 6 and 7: generated pytest suites, run as subprocesses with the plugin (``-p mockidp``).

Per-test times come from pytest itself: a conftest in the generated suite adds up each test's
``report.duration`` (setup + call + teardown, measured by pytest's runner) from
``pytest_runtest_logreport`` and writes them to a JSON file when the session ends. The same
conftest stops a suite that outruns its time budget by skipping the remaining tests (in an autouse
fixture, before any other fixture runs); the wall time of the full suite is then projected from the
tests that ran, and the row says so.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import EXAMPLE, Row, Summary, Target, fmt, ratio, row_from
from _flows import BenchError

FIXTURE_TARGET = Target(0.3, text="<= 0.3 ms")
SUITE_TARGET = Target(5.0, text="<= 5 s")
STARTUP_TARGET = Target(50.0, text="<= 50 ms")

CONFTEST = '''\
"""Written by bench/_suites.py: per-test durations from pytest's reports, and a time budget."""

import json
import os
import time

import pytest

_DEADLINE = float(os.environ.get("BENCH_DEADLINE", "inf"))
_OUT = os.environ.get("BENCH_DURATIONS")
_durations = {}

if os.environ.get("BENCH_PATCHES"):  # bench/profile_login.py --compare: the prototypes of bench/_prototypes.py
    import sys

    sys.path.insert(0, os.environ["BENCH_DIR"])
    import _prototypes

    _prototypes.apply(os.environ["BENCH_PATCHES"].split(","))


@pytest.fixture(autouse=True)
def _bench_budget():
    if time.time() > _DEADLINE:
        pytest.skip("bench: time budget used up")


@pytest.fixture(scope="session")
def bench_session_noop():
    return object()


@pytest.fixture
def bench_config_noop(request):
    return {}


@pytest.fixture
def bench_noop(bench_config_noop, bench_session_noop):
    yield object()


def pytest_runtest_logreport(report):
    entry = _durations.setdefault(report.nodeid, {"seconds": 0.0, "outcome": "passed"})
    entry["seconds"] += report.duration
    if report.outcome != "passed":
        entry["outcome"] = report.outcome


def pytest_sessionfinish(session):
    if _OUT and not hasattr(session.config, "workerinput"):
        with open(_OUT, "w") as out:
            json.dump(_durations, out)
'''

INI = """\
[pytest]
asyncio_default_fixture_loop_scope = function
"""

LOGIN_INI = f"""\
[pytest]
asyncio_default_fixture_loop_scope = function
pythonpath = {EXAMPLE}
mockidp_app_factory = oidc_login:create_app
mockidp_env =
    SERVER_METADATA_URL={{metadata_url}}
    CLIENT_ID={{client_id}}
    CLIENT_SECRET={{client_secret}}
    SECRET_KEY=not-a-secret-only-for-benchmarks
    DATABASE_URL=sqlite://
"""

BODIES = {
    "empty": ("", "    pass"),
    "idp": ("idp", "    pass"),
    "noop": ("bench_noop", "    pass"),
    "login": ("idp, app_client", '    assert idp.login(app_client, "/other").status_code == 200'),
}
PER_MODULE = 100


def write_suite(root: Path, kind: str, count: int) -> Path:
    """``count`` tests of ``kind`` in modules of 100, with the conftest and an ini file."""
    folder = root / f"suite_{kind}_{count}"
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "pytest.ini").write_text(LOGIN_INI if kind == "login" else INI)
    args, body = BODIES[kind]
    for start in range(0, count, PER_MODULE):
        lines = [f"def test_{i}({args}):\n{body}\n\n" for i in range(start, min(start + PER_MODULE, count))]
        (folder / f"test_{kind}_{start // PER_MODULE:03d}.py").write_text("\n".join(lines))
    return folder


@dataclass
class SuiteRun:
    wall: float
    per_test: Summary  # seconds, passed tests only
    passed: int
    skipped: int
    skipped_seconds: float
    mean_passed: float


def pytest_command(folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "mockidp", "-p", "no:cacheprovider", *extra, str(folder)]


#: Where the pytest subprocesses keep their bytecode, so each run imports warm, as on a developer's machine
#: (this sandbox sets PYTHONDONTWRITEBYTECODE=1, which would make every run compile mockidp, the example,
#: and the assertion-rewritten modules again). Kept outside the work tree, and across runs.
PYCACHE = Path(tempfile.gettempdir()) / "mockidp-bench-pycache"


def suite_env(**values: str) -> dict[str, str]:
    """The environment of a pytest subprocess: ours, less pytest/coverage settings, with a bytecode cache."""
    drop = ("PYTEST_", "BENCH_", "COV_", "COVERAGE_", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(values)
    return env


def warm_up(root: Path) -> None:
    """One small run of the login suite, so the bytecode cache holds everything the timed runs import."""
    folder = write_suite(root, "login", 2)
    run_suite(folder)
    run_suite(folder, "-n", "2")


#: Prototypes (bench/_prototypes.py) every generated suite applies: ``run.py --patch``.
PATCHES: tuple[str, ...] = ()


def run_suite(
    folder: Path, *extra: str, budget: float = float("inf"), patches: tuple[str, ...] | None = None
) -> SuiteRun:
    """Run the suite once; wall time from start to exit of the subprocess."""
    patches = PATCHES if patches is None else patches
    out = folder / "durations.json"
    env = suite_env(BENCH_DURATIONS=str(out), BENCH_DEADLINE=repr(time.time() + budget))
    if patches:
        env.update(BENCH_PATCHES=",".join(patches), BENCH_DIR=str(Path(__file__).resolve().parent))
    start = time.perf_counter()
    proc = subprocess.run(pytest_command(folder, *extra), cwd=folder, env=env, capture_output=True, text=True)  # noqa: S603
    wall = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise BenchError(
            f"pytest on {folder.name} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    data = json.loads(out.read_text())
    passed = [v["seconds"] for v in data.values() if v["outcome"] == "passed"]
    skipped = [v["seconds"] for v in data.values() if v["outcome"] == "skipped"]
    failed = [k for k, v in data.items() if v["outcome"] not in ("passed", "skipped")]
    if failed:
        raise BenchError(f"{len(failed)} tests failed in {folder.name}, e.g. {failed[0]}:\n{proc.stdout[-3000:]}")
    return SuiteRun(
        wall,
        Summary(passed),
        len(passed),
        len(skipped),
        sum(skipped),
        statistics.fmean(passed) if passed else float("nan"),
    )


def projected_wall(run: SuiteRun, workers: int = 1) -> float:
    """The suite's wall time as if every test had run: skipped tests' time replaced by the mean passed test's."""
    if not run.skipped:
        return run.wall
    return run.wall + (run.mean_passed * run.skipped - run.skipped_seconds) / workers


def section_fixture(root: Path, count: int, rounds: int) -> list[Row]:
    """Section 1: ``def test(idp): pass`` against ``def test(): pass``, 1,000 of each.

    A third suite takes no-op fixtures of the same shape as ``idp`` (a generator fixture over a
    function-scoped and a session-scoped one): what pytest itself charges for such a chain. The
    three suites run in ``rounds`` interleaved rounds; the overhead is the median over the rounds
    of each round's difference of per-test medians, so drift of a shared machine hits both sides.
    """
    suites = {kind: write_suite(root, kind, count) for kind in ("empty", "noop", "idp")}
    runs: dict[str, list[SuiteRun]] = {kind: [] for kind in suites}
    for _ in range(rounds):
        for kind, folder in suites.items():
            runs[kind].append(run_suite(folder))

    def pooled(kind: str) -> Summary:
        return Summary([s for run in runs[kind] for s in run.per_test.samples])

    def difference(kind: str) -> float:
        diffs = [(a.per_test.median - b.per_test.median) * 1e3 for a, b in zip(runs[kind], runs["empty"], strict=True)]
        return statistics.median(diffs)

    n = count * rounds
    rows = [
        row_from("1", f"per-test time, empty test ({count} x {rounds})", pooled("empty")),
        row_from("1", f"per-test time, no-op fixtures shaped like idp ({count} x {rounds})", pooled("noop")),
        row_from("1", f"per-test time, test taking idp ({count} x {rounds})", pooled("idp")),
        Row(
            "1",
            "fixture overhead: median(idp) - median(empty)",
            "ms",
            difference("idp"),
            n=n,
            ratio=ratio(pooled("idp").median, pooled("empty").median).replace("x", "x empty"),
            target=FIXTURE_TARGET,
        ),
        Row("1", "  of which pytest's own: median(no-op) - median(empty)", "ms", difference("noop"), n=n),
    ]
    walls = {kind: statistics.median(run.wall for run in runs[kind]) for kind in suites}
    rows.append(
        Row(
            "1",
            "fixture overhead: (wall(idp) - wall(empty)) / N",
            "ms",
            (walls["idp"] - walls["empty"]) / count * 1e3,
            n=n,
            note=f"median wall: {fmt(walls['empty'], 's')} s empty, {fmt(walls['idp'], 's')} s idp; includes one-off"
            " imports and the session's RSA key",
        )
    )
    return rows


def section_login_suite(root: Path, count: int, budget_serial: float, budget_parallel: float) -> list[Row]:
    """Section 6: ``count`` tests that each log a user in through the example app, serial and ``-n 2``."""
    folder = write_suite(root, "login", count)
    rows: list[Row] = []
    serial = run_suite(folder, budget=budget_serial)
    # The target is for 1,000 tests; --quick runs a handful, whose wall time is mostly pytest's start-up.
    rows.append(_suite_row(f"{count} login tests, serial", serial, 1, SUITE_TARGET if count == 1000 else None))
    parallel = run_suite(folder, "-n", "2", budget=budget_parallel)
    row = _suite_row(f"{count} login tests, -n 2", parallel, 2, None)
    row.ratio = ratio(row.value, rows[0].value).replace("x", "x serial")
    rows.append(row)
    rows.append(row_from("6", "per-test time in the serial run (setup+call+teardown)", serial.per_test))
    return rows


def _suite_row(name: str, run: SuiteRun, workers: int, target: Target | None) -> Row:
    wall = projected_wall(run, workers)
    note = ""
    if run.skipped:
        note = (
            f"time budget hit: {run.passed} of {run.passed + run.skipped} ran in {fmt(run.wall, 's')} s;"
            f" wall projected with the mean test ({fmt(run.mean_passed * 1e3, 'ms')} ms)"
        )
        name += " (projected)"
    return Row("6", name, "s", wall, n=1, target=target, note=note)


def section_startup(root: Path, repeats: int) -> list[Row]:
    """Section 7: pytest start-up on a one-test suite, plugin on (``-p mockidp``) against ``-p no:mockidp``."""
    folder = root / "startup"
    folder.mkdir()
    (folder / "pytest.ini").write_text(INI)
    (folder / "test_one.py").write_text("def test_one():\n    pass\n")
    env = suite_env()
    on = [sys.executable, "-m", "pytest", "-q", "-p", "mockidp", "-p", "no:cacheprovider", str(folder)]
    off = [sys.executable, "-m", "pytest", "-q", "-p", "no:mockidp", "-p", "no:cacheprovider", str(folder)]
    times: dict[str, list[float]] = {"on": [], "off": []}
    subprocess.run(on, cwd=folder, env=env, capture_output=True, check=True)  # noqa: S603 - warm the disk cache
    for i in range(repeats):  # in pairs, in alternating order, so drift and order hit both alike
        pair = (("on", on), ("off", off)) if i % 2 == 0 else (("off", off), ("on", on))
        for key, command in pair:
            start = time.perf_counter()
            proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)  # noqa: S603
            times[key].append(time.perf_counter() - start)
            if proc.returncode != 0:
                raise BenchError(f"pytest start-up run failed ({key}):\n{proc.stdout}\n{proc.stderr}")
    on_s, off_s = Summary(times["on"]), Summary(times["off"])
    # A run takes ~0.7 s and swings by ~0.2 s on a shared machine: the difference within each pair is
    # steadier than the difference of the two medians.
    paired = Summary([a - b for a, b in zip(times["on"], times["off"], strict=True)])
    rows = [
        row_from("7", "pytest start-up, -p no:mockidp", off_s),
        row_from("7", "pytest start-up, plugin on (-p mockidp)", on_s),
    ]
    row = row_from("7", "start-up overhead: median of (on - off) per pair", paired, target=STARTUP_TARGET)
    row.ratio = ratio(on_s.median, off_s.median).replace("x", "x off")
    rows.append(row)
    imported = plugin_import_ms(folder, env)
    if imported is not None:
        rows.append(Row("7", "  import of the plugin's modules (-X importtime)", "ms", imported, n=1))
    return rows


def plugin_import_ms(folder: Path, env: dict[str, str]) -> float | None:
    """What ``python -X importtime`` reports for the plugin's modules (and mockidp's they pull in).

    Adds the cumulative times of the top-level import entries named ``pytest_mockidp*`` or ``mockidp*``.
    """
    command = [sys.executable, "-X", "importtime", "-m", "pytest", "-q", "-p", "mockidp", "-p", "no:cacheprovider"]
    proc = subprocess.run([*command, str(folder)], cwd=folder, env=env, capture_output=True, text=True)  # noqa: S603
    total, found = 0, False
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        top_level = name.startswith(" ") and not name.startswith("  ")
        if top_level and name.strip().startswith(("pytest_mockidp", "mockidp")):
            total += int(parts[1])
            found = True
    return total / 1e3 if found else None


def temp_root() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="mockidp-bench-")
