"""Sections 1, 6 and 7: generated pytest suites, run as subprocesses with the plugin (``-p mockidp``).

Per-test times come from pytest itself: a conftest in the generated suite adds up each test's
``report.duration`` (setup + call + teardown, measured by pytest's runner) from
``pytest_runtest_logreport`` and writes them to a JSON file when the session ends. The same
conftest stops a suite that outruns its time budget by skipping the remaining tests (in an autouse
fixture, before any other fixture runs); the wall time of the full suite is then projected from the
tests that ran, and the row says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
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
SUITE_TARGET = Target(12.0, text="<= 12 s")
PEER_TARGET = Target(10.0, at_least=True, text=">= 10x")
STARTUP_TARGET = Target(50.0, text="<= 50 ms")

CONFTEST = '''\
"""Written by bench/_suites.py: per-test durations from pytest's reports, the run's phases, and a time budget."""

import json
import os
import time

import pytest

_DEADLINE = float(os.environ.get("BENCH_DEADLINE", "inf"))
_OUT = os.environ.get("BENCH_DURATIONS")
_LAUNCHED = float(os.environ.get("BENCH_LAUNCHED", "nan"))  # time.time() when the subprocess was started
_durations = {}
_phases = {"setup": 0.0, "call": 0.0, "teardown": 0.0}
_fixtures = {}
_marks = {}

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


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    start = time.perf_counter()  # the fixture's own setup: pytest has set up the ones it takes already
    yield
    _fixtures[fixturedef.argname] = _fixtures.get(fixturedef.argname, 0.0) + time.perf_counter() - start


def pytest_sessionstart(session):
    _marks["sessionstart"] = time.time() - _LAUNCHED


def pytest_collection_finish(session):
    _marks["collected"] = time.time() - _LAUNCHED


def pytest_runtest_logreport(report):
    entry = _durations.setdefault(report.nodeid, {"seconds": 0.0, "outcome": "passed"})
    entry["seconds"] += report.duration
    _phases[report.when] += report.duration
    if report.outcome != "passed":
        entry["outcome"] = report.outcome


def pytest_sessionfinish(session):
    _marks["finished"] = time.time() - _LAUNCHED
    if _OUT and not hasattr(session.config, "workerinput"):
        with open(_OUT, "w") as out:
            json.dump({"tests": _durations, "phases": _phases, "fixtures": _fixtures, "marks": _marks}, out)
'''

INI = """\
[pytest]
asyncio_default_fixture_loop_scope = function
"""

BENCH = Path(__file__).resolve().parent

#: The settings ``idp_env`` gives the app factory (``mockidp_env``); the minimal app reads the first three.
MOCKIDP_ENV = """\
mockidp_env =
    SERVER_METADATA_URL={metadata_url}
    CLIENT_ID={client_id}
    CLIENT_SECRET={client_secret}
    SECRET_KEY=not-a-secret-only-for-benchmarks
    DATABASE_URL=sqlite://
"""
#: The app factories ``mockidp_app_factory`` names for each app of the login suites.
FACTORIES = {"example": "oidc_login:create_app", "minimal": "_minimal:from_environ"}


def login_ini(app: str = "example", *, mockidp: bool = True) -> str:
    """The ini of a login suite: the example app and ``bench/`` importable; mockidp's app factory and settings."""
    ini = f"[pytest]\nasyncio_default_fixture_loop_scope = function\npythonpath = {EXAMPLE} {BENCH}\n"
    if mockidp:
        ini += f"mockidp_app_factory = {FACTORIES[app]}\n" + MOCKIDP_ENV
    return ini


#: What a suite not on mockidp adds to its conftest: the fixtures of ``_suite_fixtures.py``, for one app.
OTHER_FIXTURES = """
pytest_plugins = ["_suite_fixtures"]


@pytest.fixture(scope="session")
def bench_app_kind():
    return {app!r}
"""


@dataclass(frozen=True)
class Suite:
    """What a generated suite's tests take and do, and whether pytest loads mockidp's plugin for it."""

    args: str
    body: str
    app: str = ""  # a login suite's app: "example" or "minimal"
    mockidp: bool = True  # -p mockidp; else -p no:mockidp, and the fixtures of _suite_fixtures.py
    reuse: bool = False  # mockidp's suite: the ini option mockidp_reuse_app (one app for the suite)

    def ini(self) -> str:
        if not self.app:
            return INI
        return login_ini(self.app, mockidp=self.mockidp) + ("mockidp_reuse_app = true\n" if self.reuse else "")

    def conftest(self) -> str:
        return CONFTEST if self.mockidp else CONFTEST + OTHER_FIXTURES.format(app=self.app)


MOCKIDP_LOGIN = '    assert idp.login(app_client, "/other").status_code == 200'
FLOOR_LOGIN = "    assert floor.login(floor_app, floor_client) == 200"
FLOOR_SHARED_LOGIN = "    assert floor.login(floor_shared_app, floor_shared_client) == 200"
SUITES = {
    "empty": Suite("", "    pass"),
    "idp": Suite("idp", "    pass"),
    "noop": Suite("bench_noop", "    pass"),
    "login": Suite("idp, app_client", MOCKIDP_LOGIN, app="example"),
    "login-minimal": Suite("idp, app_client", MOCKIDP_LOGIN, app="minimal"),
    "floor": Suite("floor, floor_app, floor_client", FLOOR_LOGIN, app="example", mockidp=False),
    "floor-minimal": Suite("floor, floor_app, floor_client", FLOOR_LOGIN, app="minimal", mockidp=False),
    "login-reuse": Suite("idp, app_client", MOCKIDP_LOGIN, app="example", reuse=True),
    "floor-reuse": Suite(
        "floor, floor_shared_app, floor_shared_client", FLOOR_SHARED_LOGIN, app="example", mockidp=False
    ),
    "oidc-provider-mock": Suite(
        "oidc_server, oidc_app_client",
        "    assert oidc_provider_mock_login(oidc_server, oidc_app_client) == 200",
        app="example",
        mockidp=False,
    ),
    "pytest-iam": Suite(
        "iam_server, client, user, test_client",
        "    assert iam_login(iam_server, user, test_client) == 200",
        app="example",
        mockidp=False,
    ),
}
IMPORTS = {
    "oidc-provider-mock": "from _suite_fixtures import oidc_provider_mock_login\n\n\n",
    "pytest-iam": "from _suite_fixtures import iam_login\n\n\n",
}
PER_MODULE = 100


def write_suite(root: Path, kind: str, count: int) -> Path:
    """``count`` tests of ``kind`` in modules of 100, with the conftest and an ini file."""
    suite = SUITES[kind]
    folder = root / f"suite_{kind}_{count}"
    folder.mkdir()
    (folder / "conftest.py").write_text(suite.conftest())
    (folder / "pytest.ini").write_text(suite.ini())
    for start in range(0, count, PER_MODULE):
        lines = [f"def test_{i}({suite.args}):\n{suite.body}\n\n" for i in range(start, min(start + PER_MODULE, count))]
        module = IMPORTS.get(kind, "") + "\n".join(lines)
        (folder / f"test_{kind}_{start // PER_MODULE:03d}.py").write_text(module)
    return folder


@dataclass
class SuiteRun:
    wall: float
    per_test: Summary  # seconds, passed tests only
    passed: int
    skipped: int
    skipped_seconds: float
    mean_passed: float
    phases: dict[str, float]  # seconds: setup, call, teardown (summed over the tests), and the run's marks
    fixtures: dict[str, float]  # seconds of each fixture's own setup, summed (serial runs only)
    cpu: float  # seconds of CPU (user + sys) of pytest and its workers: what other work on the machine hides


def children_cpu() -> float:
    """User + system CPU seconds of the child processes that have ended and been waited for, so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: Plugins every generated suite runs without: the cache (no state between runs), and pytest-playwright,
#: which the test extra installs for the project's browser tests: it adds ~0.5 s to each pytest start-up
#: and two autouse fixtures to every test, which a suite of a user's (without it) would not pay.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:playwright")


def pytest_command(folder: Path, *extra: str, mockidp: bool = True, python: str = sys.executable) -> list[str]:
    plugin = "mockidp" if mockidp else "no:mockidp"
    return [python, "-m", "pytest", "-q", "-p", plugin, *QUIET_PLUGINS, *extra, str(folder)]


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
    for kind in ("login", "floor-minimal"):  # between them, every module the login suites import
        folder = write_suite(root, kind, 2)
        run_suite(folder)
        run_suite(folder, "-n", "2")


#: Prototypes (bench/_prototypes.py) every generated suite applies: ``run.py --patch``.
PATCHES: tuple[str, ...] = ()


def run_suite(
    folder: Path,
    *extra: str,
    budget: float = float("inf"),
    patches: tuple[str, ...] | None = None,
    python: str = sys.executable,
) -> SuiteRun:
    """Run the suite once; wall time from start to exit of the subprocess."""
    patches = PATCHES if patches is None else patches
    kind = folder.name.removeprefix("suite_").rpartition("_")[0]
    mockidp = SUITES[kind].mockidp
    out = folder / "durations.json"
    env = suite_env(BENCH_DURATIONS=str(out), BENCH_DEADLINE=repr(time.time() + budget))
    if patches:
        env.update(BENCH_PATCHES=",".join(patches), BENCH_DIR=str(BENCH))
    command = pytest_command(folder, *extra, mockidp=mockidp, python=python)
    env["BENCH_LAUNCHED"] = repr(time.time())
    start, cpu = time.perf_counter(), children_cpu()
    proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)  # noqa: S603
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if proc.returncode not in (0,):
        raise BenchError(
            f"pytest on {folder.name} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    everything = json.loads(out.read_text())
    data = everything["tests"]
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
        {**everything["phases"], **everything["marks"]},
        everything["fixtures"],
        cpu,
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


#: Section 6's apps, each with its mockidp suite and its floor suite.
LOGIN_SUITES = {"minimal": ("login-minimal", "floor-minimal"), "example": ("login", "floor")}


def section_login_suite(
    root: Path,
    count: int,
    budget_serial: float,
    budget_parallel: float,
    *,
    parallel: tuple[str, ...] = ("login", "floor", "login-minimal", "floor-minimal"),
) -> list[Row]:
    """Section 6: ``count`` tests that each log a user in, through each app, serially and (the suites named in
    ``parallel``) with ``-n 2``; right after each, the same suite on the floor (``_suite_fixtures.py``)."""
    rows: list[Row] = []
    serial_runs: dict[str, tuple[SuiteRun, SuiteRun]] = {}
    for app, (mockidp_kind, floor_kind) in LOGIN_SUITES.items():
        mockidp_folder, floor_folder = write_suite(root, mockidp_kind, count), write_suite(root, floor_kind, count)
        mockidp = run_suite(mockidp_folder, budget=budget_serial)
        floor = run_suite(floor_folder, budget=budget_serial)
        serial_runs[app] = (mockidp, floor)
        # The target is for 1,000 tests; --quick runs a handful, whose wall time is mostly pytest's start-up.
        target = SUITE_TARGET if (app, count) == ("example", 1000) else None
        rows += _against_floor(f"{count} login tests, {app} app, serial", mockidp, floor, 1, target)
        if mockidp_kind in parallel:
            mockidp = run_suite(mockidp_folder, "-n", "2", budget=budget_parallel)
            floor_2 = run_suite(floor_folder, "-n", "2", budget=budget_parallel) if floor_kind in parallel else None
            rows += _against_floor(f"{count} login tests, {app} app, -n 2", mockidp, floor_2, 2, None)
    # mockidp_reuse_app: one app and app_client for the suite, against the floor's suite with one app too.
    mockidp = run_suite(write_suite(root, "login-reuse", count), budget=budget_serial)
    floor = run_suite(write_suite(root, "floor-reuse", count), budget=budget_serial)
    target = SUITE_TARGET if count == 1000 else None
    rows += _against_floor(f"{count} login tests, example app, serial, mockidp_reuse_app", mockidp, floor, 1, target)
    for app, (mockidp, floor) in serial_runs.items():
        row = row_from("6", f"per-test time, {app} app, serial (setup+call+teardown)", mockidp.per_test)
        floor_row = row_from("6", "  floor: the same", floor.per_test)
        row.ratio = ratio(row.value, floor_row.value).replace("x", "x floor")
        rows += [row, floor_row]
    mockidp, floor = serial_runs["example"]
    rows.append(
        Row("6", "where the serial example run's time goes (mockidp)", "s", mockidp.wall, n=1, note=breakdown(mockidp))
    )
    rows.append(Row("6", "  the same, floor", "s", floor.wall, n=1, note=breakdown(floor)))
    return rows


def _against_floor(
    name: str, mockidp: SuiteRun, floor: SuiteRun | None, workers: int, target: Target | None
) -> list[Row]:
    """The wall-time row of a mockidp suite, and (if it ran) the floor's and mockidp's own cost per test."""
    row = _suite_row(name, mockidp, workers, target)
    if floor is None:
        return [row]
    floor_row = _suite_row("  floor: the same suite without mockidp (stub provider, raw browser)", floor, workers)
    row.ratio = ratio(row.value, floor_row.value).replace("x", "x floor")
    count = mockidp.passed + mockidp.skipped
    added = (row.value - floor_row.value) / count * 1e3
    return [row, floor_row, Row("6", "  mockidp's own cost per test: (wall - floor wall) / N", "ms", added, n=count)]


def breakdown(run: SuiteRun) -> str:
    """The wall time of a serial run by phase, from the conftest's marks and pytest's reports, in seconds."""
    p = run.phases
    tests = p["setup"] + p["call"] + p["teardown"]
    top = sorted(run.fixtures.items(), key=lambda item: -item[1])[:4]
    other = p["setup"] - sum(seconds for _, seconds in top)
    fixtures = ", ".join(f"{name} {fmt(seconds, 's')}" for name, seconds in top)
    parts = [
        f"start-up {fmt(p['sessionstart'], 's')}",
        f"collection {fmt(p['collected'] - p['sessionstart'], 's')}",
        f"setup {fmt(p['setup'], 's')} ({fixtures}, rest {fmt(other, 's')})",
        f"call (the login) {fmt(p['call'], 's')}",
        f"teardown {fmt(p['teardown'], 's')}",
        f"pytest between tests {fmt(p['finished'] - p['collected'] - tests, 's')}",
        f"exit {fmt(run.wall - p['finished'], 's')}",
    ]
    if run.skipped:
        parts.append(f"({run.skipped} tests skipped by the time budget)")
    return "; ".join(parts)


def _suite_row(name: str, run: SuiteRun, workers: int, target: Target | None = None) -> Row:
    wall = projected_wall(run, workers)
    note = f"CPU (user + sys) of the run {fmt(run.cpu, 's')} s"
    if run.skipped:
        note += (
            f"; time budget hit: {run.passed} of {run.passed + run.skipped} ran in {fmt(run.wall, 's')} s,"
            f" wall projected with the mean test ({fmt(run.mean_passed * 1e3, 'ms')} ms)"
        )
        name += " (projected)"
    return Row("6", name, "s", wall, n=1, target=target, note=note)


def section_peer_suites(root: Path, count: int, rounds: int, *, pytest_iam: bool) -> list[Row]:
    """Section 5, per login test: the same login suite on mockidp and on each peer, set up as its README says.

    ``count`` tests each, in ``rounds`` interleaved rounds (mockidp, oidc-provider-mock, pytest-iam); the rows
    are the per-test medians (setup+call+teardown, pytest's reports) over all rounds. pytest-iam runs in its
    own venv (``_peerenv.py``), built on demand; without ``pytest_iam`` (``--quick``), not at all.
    """
    from _peerenv import PeerEnvMissing, peer_python

    pythons: dict[str, str] = {"login": sys.executable}
    missing: dict[str, str] = {}
    if importlib.util.find_spec("oidc_provider_mock") is None:
        missing["oidc-provider-mock"] = "not installed (pip install -e '.[bench]')"
    else:
        pythons["oidc-provider-mock"] = sys.executable
    if not pytest_iam:
        missing["pytest-iam"] = "not run by --quick (its start-up alone takes ~5 s); the full run builds its venv"
    else:
        try:
            pythons["pytest-iam"] = str(peer_python())
        except PeerEnvMissing as exc:
            missing["pytest-iam"] = str(exc)
    folders = {kind: write_suite(root, kind, count) for kind in pythons}
    samples: dict[str, list[float]] = {kind: [] for kind in pythons}
    for _ in range(rounds):
        for kind, folder in folders.items():
            samples[kind] += run_suite(folder, python=pythons[kind]).per_test.samples
    ours = Summary(samples["login"])
    n = count * rounds
    rows = [row_from("5", f"login test, mockidp (idp, app_client), example app ({count} x {rounds})", ours)]
    labels = {
        "oidc-provider-mock": "login test, oidc-provider-mock (its README's fixture: a server per test)",
        "pytest-iam": "login test, pytest-iam (its README's: a server per session; client, user per test)",
    }
    for kind, label in labels.items():
        if kind in missing:
            rows.append(Row("5", label, "ms", float("nan"), note=missing[kind]))
            continue
        theirs = Summary(samples[kind])
        row = row_from("5", label, theirs)
        row.ratio = ratio(theirs.median, ours.median).replace("x", "x mockidp")
        rows.append(row)
        speedup = theirs.median / ours.median
        rows.append(
            Row("5", f"  per login test, mockidp's speed-up over {kind}", "x", speedup, n=n, target=PEER_TARGET)
        )
    return rows


def section_startup(root: Path, repeats: int) -> list[Row]:
    """Section 7: pytest start-up on a one-test suite, plugin on (``-p mockidp``) against ``-p no:mockidp``."""
    folder = root / "startup"
    folder.mkdir()
    (folder / "pytest.ini").write_text(INI)
    (folder / "test_one.py").write_text("def test_one():\n    pass\n")
    env = suite_env()
    on = [sys.executable, "-m", "pytest", "-q", "-p", "mockidp", *QUIET_PLUGINS, str(folder)]
    off = [sys.executable, "-m", "pytest", "-q", "-p", "no:mockidp", *QUIET_PLUGINS, str(folder)]
    times: dict[str, list[float]] = {"on": [], "off": []}
    cpu_times: dict[str, list[float]] = {"on": [], "off": []}
    subprocess.run(on, cwd=folder, env=env, capture_output=True, check=True)  # noqa: S603 - warm the disk cache
    for i in range(repeats):  # in pairs, in alternating order, so drift and order hit both alike
        pair = (("on", on), ("off", off)) if i % 2 == 0 else (("off", off), ("on", on))
        for key, command in pair:
            start, cpu = time.perf_counter(), children_cpu()
            proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)  # noqa: S603
            times[key].append(time.perf_counter() - start)
            cpu_times[key].append(children_cpu() - cpu)
            if proc.returncode != 0:
                raise BenchError(f"pytest start-up run failed ({key}):\n{proc.stdout}\n{proc.stderr}")
    on_s, off_s = Summary(times["on"]), Summary(times["off"])
    # A run takes ~0.7 s and swings by ~0.2 s on a shared machine: the difference within each pair is
    # steadier than the difference of the two medians.
    # Under other work the wall times swing by ±0.5 s; the CPU time each run used (user + sys) barely moves,
    # so the target is on the CPU row: on an idle core, that is what the run's wall time would be.
    paired = Summary([a - b for a, b in zip(times["on"], times["off"], strict=True)])
    paired_cpu = Summary([a - b for a, b in zip(cpu_times["on"], cpu_times["off"], strict=True)])
    rows = [
        row_from("7", "pytest start-up, -p no:mockidp", off_s),
        row_from("7", "pytest start-up, plugin on (-p mockidp)", on_s),
    ]
    row = row_from("7", "start-up overhead: median of (on - off) per pair, wall", paired)
    row.ratio = ratio(on_s.median, off_s.median).replace("x", "x off")
    rows.append(row)
    cpu_off, cpu_on = (Summary(cpu_times[key]).median * 1e3 for key in ("off", "on"))
    row = row_from("7", "  the same in CPU time (user + sys)", paired_cpu, target=STARTUP_TARGET)
    row.note = f"CPU per run (median): {fmt(cpu_off, 'ms')} ms off, {fmt(cpu_on, 'ms')} ms on"
    rows.append(row)
    imported = plugin_import_ms(folder, env)
    if imported is not None:
        rows.append(Row("7", "  import of the plugin's modules (-X importtime)", "ms", imported, n=1))
    return rows


def plugin_import_ms(folder: Path, env: dict[str, str]) -> float | None:
    """What ``python -X importtime`` reports for the plugin's modules (and mockidp's they pull in).

    Adds the cumulative times of the top-level import entries named ``pytest_mockidp*`` or ``mockidp*``.
    """
    command = [sys.executable, "-X", "importtime", "-m", "pytest", "-q", "-p", "mockidp", *QUIET_PLUGINS]
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
