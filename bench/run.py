"""mockidp's benchmarks: one command, one machine, one table.

    python bench/run.py            # everything, ~6-10 minutes (+ ~60 s once: pytest-iam's venv)
    python bench/run.py --quick    # tiny counts, well under a minute (CI runs this)
    python bench/run.py --only 2,5 --json results.json

Sections (see bench/README.md for what each row means and how it is measured):
  1 fixture overhead per test (1,000 tests taking `idp` against 1,000 empty ones, pytest subprocesses)
  2 a full simulated login through the example app, in-process: sync and async, RS256 and ES256
  3 minting tokens directly, and one in-process round trip to the token endpoint
  4 the same login through the loopback server (idp.serve)
  5 the same login against the peer oidc-provider-mock, and the in-process speed-up over it; then a login
    test (setup+call+teardown) on mockidp, oidc-provider-mock and pytest-iam, each set up as its README says
  6 wall time of 1,000 tests that each log a user in, through the minimal and the example app, serial and
    with -n 2, each against the same suite on the floor (a stub provider, no mockidp)
  7 pytest start-up with the plugin against -p no:mockidp
  8 standalone servers under load from a second process: token requests and logins per second
  9 whole login flows against `mockidp serve` (fresh browser each, own user each): flows per second,
    cross-talk, and the server's memory over 12,000 flows (--quick: 300)

In the full run, targets are printed next to the results with pass/MISS; a miss does not fail the
command. ``--quick`` shows no targets: its counts are too small to judge anything. It exits non-zero
only when a benchmark could not run (an error, a failed login, a failed suite).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Budget, Row, fmt, render

SECTIONS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")


@dataclass(frozen=True)
class Plan:
    login: Budget
    cold_login: Budget
    tokens: Budget
    sockets: Budget
    fixture_tests: int
    fixture_rounds: int
    login_tests: int
    login_budget_serial: float
    login_budget_parallel: float
    login_parallel: tuple[str, ...]  # the login suites (_suites.SUITES) that also run with -n 2
    peer_tests: int  # section 5's login tests per suite and round, on mockidp and on each peer
    peer_rounds: int
    pytest_iam: bool  # run pytest-iam's suite (its venv built first if missing, ~60 s once; its start-up ~5 s)
    startup_repeats: int
    load_seconds: float
    load_max: int
    load_concurrency: int
    flows: int  # whole login flows of section 9, warm-up included
    flows_warmup: int
    flows_seconds: float
    flows_concurrency: int
    flows_judged: bool  # long enough to hold the server's memory to its target


FULL = Plan(
    login=Budget(n=300, seconds=4.0, warmup=5),
    cold_login=Budget(n=60, seconds=4.0, warmup=2),
    tokens=Budget(n=2000, seconds=1.5, warmup=20),
    sockets=Budget(n=200, seconds=4.0, warmup=3),
    fixture_tests=1000,
    fixture_rounds=3,
    login_tests=1000,
    login_budget_serial=35.0,
    login_budget_parallel=25.0,
    login_parallel=("login", "floor", "login-minimal", "floor-minimal"),
    peer_tests=8,
    peer_rounds=2,
    pytest_iam=True,
    startup_repeats=20,
    load_seconds=3.0,
    load_max=50_000,
    load_concurrency=8,
    flows=12_000,  # 2,000 to fill the state tables of `mockidp serve` (1,000 each), then 10,000 measured
    flows_warmup=2_000,
    flows_seconds=240.0,
    flows_concurrency=8,
    flows_judged=True,
)
QUICK = Plan(
    login=Budget(n=5, seconds=0.5, warmup=1, min_n=2),
    cold_login=Budget(n=2, seconds=0.5, warmup=1, min_n=2),
    tokens=Budget(n=20, seconds=0.2, warmup=2),
    sockets=Budget(n=3, seconds=0.5, warmup=1, min_n=2),
    fixture_tests=20,
    fixture_rounds=1,
    login_tests=10,
    login_budget_serial=10.0,
    login_budget_parallel=10.0,
    login_parallel=("login",),
    peer_tests=1,
    peer_rounds=1,
    pytest_iam=False,
    startup_repeats=1,
    load_seconds=0.3,
    load_max=2_000,
    load_concurrency=4,
    flows=300,
    flows_warmup=100,
    flows_seconds=5.0,
    flows_concurrency=4,
    flows_judged=False,
)


def versions() -> str:
    names = ("mockidp", "starlette", "authlib", "httpx2", "joserfc", "pytest", "oidc-provider-mock")
    from _peerenv import PEER

    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found) + f", {PEER.replace('==', ' ')} (its own venv, bench/_peerenv.py)"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


class Runner:
    def __init__(self, plan: Plan, only: set[str]) -> None:
        self.plan = plan
        self.only = only
        self.rows: list[Row] = []
        self.errors: list[str] = []
        self.timings: dict[str, float] = {}

    def section(self, numbers: str, title: str, run: Callable[[], list[Row]]) -> None:
        """Run ``run`` if any of ``numbers`` (e.g. "45") was asked for; keep its rows of the sections asked for."""
        if not set(numbers) & self.only:
            return
        print(f"[{time.strftime('%H:%M:%S')}] {title} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            self.rows.extend(row for row in run() if row.section in self.only)
        except Exception as exc:
            self.errors.append(f"{title}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        self.timings[title] = time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks every benchmark still runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated section numbers (default: all)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    parser.add_argument(
        "--patch",
        default="",
        metavar="NAMES",
        help="what-if: apply prototypes of bench/_prototypes.py (comma-separated) to mockidp in every section",
    )
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    plan = QUICK if args.quick else FULL
    patches = tuple(p.strip() for p in args.patch.split(",") if p.strip())

    import warnings

    warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")  # the peer's import of it
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the peer's per-request access log

    import _suites
    from _inprocess import section_login, section_sockets, section_tokens
    from _load import section_flows, section_load
    from _prototypes import NAMES, patched
    from _suites import section_fixture, section_login_suite, section_peer_suites, section_startup, temp_root

    from mockidp import KeyPool

    wrong = [p for p in patches if p not in NAMES]
    if wrong:
        parser.error(f"unknown prototype(s) {', '.join(wrong)}; choose from {', '.join(NAMES)}")
    _suites.PATCHES = patches
    started = time.perf_counter()
    header = [
        f"mockidp benchmarks ({'quick' if args.quick else 'full'}): {' '.join(sys.argv)}",
        *([f"WHAT-IF: with the prototypes {', '.join(patches)} applied (bench/_prototypes.py)"] if patches else []),
        f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs,"
        f" load average at start {load_average()}",
        versions(),
    ]
    print("\n".join(header), flush=True)

    pool = KeyPool()
    for alg in ("RS256", "ES256"):
        pool.take(alg)  # keys once, outside any timing
    runner = Runner(plan, only)
    with patched(patches):
        run_sections(runner, plan, pool, section_login, section_tokens, section_sockets)
    with temp_root() as tmp:
        root = Path(tmp)
        if not args.quick:  # the quick run's timings mean nothing anyway: no need for warm bytecode
            runner.section("1567", "warming the pytest subprocesses' bytecode cache", lambda: _warm(root))
        runner.section(
            "1", "1: fixture overhead", lambda: section_fixture(root, plan.fixture_tests, plan.fixture_rounds)
        )
        runner.section(
            "5",
            "5: a login test on mockidp and on the peers",
            lambda: section_peer_suites(root, plan.peer_tests, plan.peer_rounds, pytest_iam=plan.pytest_iam),
        )
        runner.section(
            "6",
            "6: login suites, and the same on the floor",
            lambda: section_login_suite(
                root,
                plan.login_tests,
                plan.login_budget_serial,
                plan.login_budget_parallel,
                parallel=plan.login_parallel,
            ),
        )
        runner.section("7", "7: pytest start-up", lambda: section_startup(root, plan.startup_repeats))
    runner.section(
        "8",
        "8: servers under load",
        lambda: section_load(plan.load_seconds, plan.load_max, plan.load_concurrency, patches),
    )
    runner.section(
        "9",
        "9: whole login flows and the server's memory",
        lambda: section_flows(
            plan.flows, plan.flows_warmup, plan.flows_seconds, plan.flows_concurrency, plan.flows_judged, patches
        ),
    )

    rows = sorted(runner.rows, key=lambda r: r.section)  # stable: each section keeps its order
    print()
    print(render(rows, judge=not args.quick))
    elapsed = time.perf_counter() - started
    if args.quick:  # counts too small to judge: the quick run only shows that every benchmark still runs
        verdict = f"quick run: {len(rows)} rows, no targets judged (run without --quick for them)"
    else:
        targets = [r for r in rows if r.target is not None]
        missed = [r for r in targets if r.status == "MISS"]
        verdict = f"{len(targets) - len(missed)} of {len(targets)} targets met"
    print(f"\n{verdict}; ran {fmt(elapsed, 's')} s; load average at end {load_average()}")
    if args.json:
        args.json.write_text(json.dumps({"header": header, "rows": [_row_json(r) for r in rows]}, indent=2))
    if runner.errors:
        print("\nERRORS:", file=sys.stderr)
        for error in runner.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    return 0


def run_sections(
    runner: Runner,
    plan: Plan,
    pool: object,
    section_login: Callable[..., list[Row]],
    section_tokens: Callable[..., list[Row]],
    section_sockets: Callable[..., list[Row]],
) -> None:
    """Sections 2-5, in this process (so ``--patch`` prototypes apply to them)."""
    runner.section("2", "2: in-process login", lambda: section_login(pool, plan.login, plan.cold_login))
    inprocess = next(
        (r.value for r in runner.rows if r.name.startswith("login, example app, sync TestClient, RS256")), None
    )
    runner.section("3", "3: tokens", lambda: section_tokens(pool, plan.tokens))
    runner.section("45", "4, 5: loopback server and the peer", lambda: section_sockets(pool, plan.sockets, inprocess))


def _warm(root: Path) -> list[Row]:
    from _suites import warm_up

    warm_up(root)
    return []


def _row_json(row: Row) -> dict[str, object]:
    data = asdict(row)
    data["target"] = row.target.text if row.target is not None else None
    data["status"] = row.status
    return data


if __name__ == "__main__":
    sys.exit(main())
