"""Where a login's and a fixture's time goes, and what the proposed speed-ups would gain.

    python bench/profile_login.py                     # per-hop breakdown of the in-process login (sync, async)
    python bench/profile_login.py --patch loop_reuse   # the same, with prototypes applied (bench/_prototypes.py)
    python bench/profile_login.py --compare           # A/B of each prototype, interleaved rounds, medians
    python bench/profile_login.py --pyinstrument DIR  # pyinstrument profiles of the login and the fixture

The breakdown wraps the functions each hop runs through (bench/_meter.py) and adds up their
inclusive wall time per login; a sampling profiler cannot see the TestClient's portal thread, this can.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Budget, Summary, fmt
from _flows import app_for, checked_login
from _meter import Meter
from _prototypes import NAMES, patched

#: (label, target, indent): what the breakdown wraps, in the order it prints.
APP_SIDE = [
    ("app (SessionMiddleware and everything inside)", "starlette.middleware.sessions:SessionMiddleware.__call__", 2),
    ("authlib authorize_redirect (state, nonce, PKCE, URL)", "oidc_login.auth:start_login", 3),
    (
        "authlib fetch_access_token (the token request)",
        "authlib.integrations.base_client.async_app:AsyncOAuth2Mixin.fetch_access_token",
        3,
    ),
    (
        "authlib load_server_metadata (cached after the first)",
        "authlib.integrations.base_client.async_app:AsyncOAuth2Mixin.load_server_metadata",
        3,
    ),
    (
        "authlib fetch_jwk_set (cached after the first)",
        "authlib.integrations.base_client.async_openid:AsyncOpenIDMixin.fetch_jwk_set",
        3,
    ),
    ("httpx2.AsyncClient() (authlib makes one per call)", "httpx2._client:AsyncClient.__init__", 3),
    ("create_ssl_context (CA bundle load)", "httpx2._transports.default:create_ssl_context", 4),
    (
        "authlib parse_id_token (JWKS import, verify, claims)",
        "authlib.integrations.base_client.async_openid:AsyncOpenIDMixin.parse_id_token",
        3,
    ),
    ("joserfc jwt.decode (signature check)", "joserfc.jwt:decode", 4),
    ("app DB.put (SQLAlchemy merge + commit)", "oidc_login.db:DB.put", 3),
]
INTERCEPTED = "app -> provider (authlib's requests, intercepted)"
HOP = "browser -> provider (idp.login's transport)"
PORTAL = "TestClient portal call"
LEAN = "lean browser requests, app and provider (inclusive)"
HAND_BACK = "lean browser: cookies into the client's jar"
RESULT = "lean browser: the final Response"
PROVIDER_SIDE = [
    ("TokenMinter.issue (access + ID + refresh token)", "mockidp._tokens:TokenMinter.issue", 3),
    ("KeyRing.sign (JWS signatures)", "mockidp._keys:KeyRing.sign", 4),
]


@contextmanager
def instrumented(idp: Any, client: Any, meter: Meter, *, sync: bool) -> Iterator[None]:
    """Wrap the browser's client, the provider's ASGI app and the functions above."""
    from mockidp._transports import resolve

    package = resolve(None)
    provider_app = idp.app

    async def timed_provider(scope: Any, receive: Any, send: Any) -> None:
        with meter.timing(f"provider {scope.get('path', '?')}"):
            await provider_app(scope, receive, send)

    idp._app = timed_provider  # the transports are built from idp.app on first use
    idp._transports.clear()
    try:
        if sync:  # the driver runs the whole flow in one call into the TestClient's portal, with an async client
            meter.wrap("mockidp._login:_drive_in_portal", PORTAL)
        else:
            meter.wrap_attribute(client, "request", "browser -> app requests")
        # The login's hop to /authorize and authlib's requests (routed by intercept()) share one transport.
        meter.wrap_attribute(idp.async_transport(package), "handle_async_request", HOP)
        meter.wrap(f"{package.__name__}._transports.default:AsyncHTTPTransport.handle_async_request", INTERCEPTED)
        for label, target, _ in APP_SIDE + PROVIDER_SIDE:
            meter.wrap(target, label)
        meter.wrap("mockidp._browser:Browser.request", LEAN)
        meter.wrap("mockidp._browser:hand_back_cookies", HAND_BACK)
        meter.wrap("mockidp._browser:result_of", RESULT)
        yield
    finally:
        meter.undo()
        idp._app = provider_app
        idp._transports.clear()


def breakdown(alg: str, *, sync: bool, n: int) -> tuple[float, Meter]:
    """Log in ``n`` times (after a warm-up) with everything wrapped; returns the mean ms and the meter."""
    from pytest_mockidp._clients import routed_async_client, routed_test_client

    from mockidp import KeyPool, MockIdP, ProviderConfig

    idp = MockIdP(ProviderConfig.from_dict({"algorithm": alg}), keys=KeyPool())
    meter = Meter()
    with idp.intercept():
        app = app_for(idp)
        if sync:
            with routed_test_client(app) as client:
                for _ in range(3):
                    client.cookies.clear()
                    checked_login(idp.login(client, "/other"))
                with instrumented(idp, client, meter, sync=True):
                    meter.reset()
                    start = time.perf_counter()
                    for _ in range(n):
                        client.cookies.clear()
                        checked_login(idp.login(client, "/other"))
                    elapsed = time.perf_counter() - start
            return elapsed / n * 1e3, meter

        async def run() -> float:
            async with routed_async_client(app) as client:
                for _ in range(3):
                    client.cookies.clear()
                    checked_login(await idp.alogin(client, "/other"))
                with instrumented(idp, client, meter, sync=False):
                    meter.reset()
                    start = time.perf_counter()
                    for _ in range(n):
                        client.cookies.clear()
                        checked_login(await idp.alogin(client, "/other"))
                    return time.perf_counter() - start

        return asyncio.run(run()) / n * 1e3, meter


def print_breakdown(title: str, total_ms: float, meter: Meter, n: int, *, sync: bool) -> None:
    def ms(label: str) -> float:
        return meter.total.get(label, 0.0) / n * 1e3

    def calls(label: str) -> str:
        count = meter.count.get(label, 0) / n
        return f"{count:g}" if count else "0"

    lines: list[tuple[str, float, str]] = [("login, end to end (mean; instrumented)", total_ms, "1")]
    app_label = APP_SIDE[0][0]
    browser = "browser -> app requests"
    if sync:
        lines.append(("idp.login before and after the portal call (flow set-up)", total_ms - ms(PORTAL), ""))
        lines.append(("the flow in one call into the TestClient's portal", ms(PORTAL), calls(PORTAL)))
    elif ms(browser):  # an httpx2 client on the app (not the lean browser)
        lines.append(("browser -> app requests (httpx2 AsyncClient)", ms(browser), calls(browser)))
        lines.append(("  httpx2 client + ASGITransport (= above - app)", ms(browser) - ms(app_label), ""))
    for label, _, indent in APP_SIDE:
        lines.append(("  " * (indent - 1) + label, ms(label), calls(label)))
        if label.startswith("authlib fetch_access_token"):
            lines.append(("      " + INTERCEPTED, ms(INTERCEPTED), calls(INTERCEPTED)))
    provider_paths = sorted(k for k in meter.total if k.startswith("provider "))
    lines.append(("provider endpoints, in-process (all callers)", sum(ms(k) for k in provider_paths), ""))
    for key in provider_paths:
        lines.append(("  " + key.removeprefix("provider "), ms(key), calls(key)))
    for label, _, indent in PROVIDER_SIDE:
        lines.append(("  " * (indent - 2) + label, ms(label), calls(label)))
    hop_ms = ms(HOP) - ms(INTERCEPTED)
    hop_calls = meter.count.get(HOP, 0) - meter.count.get(INTERCEPTED, 0)
    if hop_calls:
        lines.append((HOP, hop_ms, f"{hop_calls / n:g}"))
    if ms(LEAN):  # mockidp/_browser.py: raw ASGI calls into the app and the provider
        lines.append((LEAN, ms(LEAN), calls(LEAN)))
        own = ms(LEAN) - ms(app_label) - ms("provider /authorize")
        lines.append(("  its own work (= above - app - provider /authorize)", own, ""))
        lines.append((HAND_BACK, ms(HAND_BACK), calls(HAND_BACK)))
        lines.append((RESULT, ms(RESULT), calls(RESULT)))
        outside = (ms(PORTAL) if sync else total_ms) - ms(LEAN) - ms(HAND_BACK) - ms(RESULT)
        lines.append(("login driver around it (Flow, set-up; sync: in the portal call)", outside, ""))
        if sync:
            lines.append(("the rest of idp.login, outside the portal call", total_ms - ms(PORTAL), ""))
    elif sync:
        rest = ms(PORTAL) - ms(app_label) - hop_ms
        lines.append(("  the rest: thread hand-off, login driver, its httpx2 client on the app", rest, ""))
    else:
        lines.append(("login driver (mockidp._login: flow, cookies, parsing)", total_ms - ms(browser) - hop_ms, ""))
    print(f"\n{title}")
    width = max(len(label) for label, _, _ in lines)
    for label, value, count in lines:
        print(f"  {label.ljust(width)}  {fmt(value, 'ms'):>7} ms  {count:>4}")


def compare(quick: bool) -> None:
    """Each prototype on and off, in interleaved rounds; the median of the rounds' medians."""
    from _inprocess import login_async, login_per_test, login_sync
    from _load import Server, run_load

    from mockidp import KeyPool

    pool = KeyPool()
    rounds = 2 if quick else 5
    budget = Budget(n=6 if quick else 40, seconds=0.5 if quick else 1.5, warmup=2)
    cold = Budget(n=3 if quick else 10, seconds=0.5 if quick else 1.5, warmup=1)
    # ssl_cache and tcp_nodelay, once prototypes here, are part of mockidp now (mockidp/_tls.py, _server.py).
    variants: list[tuple[str, tuple[str, ...]]] = [
        ("as is", ()),
        ("loop_reuse", ("loop_reuse",)),
    ]
    cases: list[tuple[str, Callable[[], Summary]]] = [
        ("sync RS256", lambda: login_sync("example", "RS256", pool, budget)[0]),
        ("sync ES256", lambda: login_sync("example", "ES256", pool, budget)[0]),
        ("async RS256", lambda: login_async("example", "RS256", pool, budget)[0]),
        ("async ES256", lambda: login_async("example", "ES256", pool, budget)[0]),
        ("per-test RS256", lambda: login_per_test("example", "RS256", pool, cold)),
    ]
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for name, patches in variants:
            with patched(patches):
                for case, run in cases:
                    results.setdefault((name, case), []).append(run().median * 1e3)
    print("\nIn-process login through the example app, median ms (median of", rounds, "interleaved rounds)")
    header = "variant".ljust(40) + "".join(case.rjust(16) for case, _ in cases)
    print(header)
    for name, _ in variants:
        cells = "".join(fmt(statistics.median(results[(name, case)]), "ms").rjust(16) for case, _ in cases)
        print(name.ljust(40) + cells)
    from _suites import projected_wall, run_suite, temp_root, write_suite

    count = 20 if quick else 1000
    print(f"\n{count} login tests (section 6's suite), serial; time-boxed, then projected")
    with temp_root() as tmp:
        folder = write_suite(Path(tmp), "login", count)
        run_suite(folder, budget=5.0)  # warm the bytecode cache
        for name, patches in variants:
            suite = run_suite(folder, budget=5.0 if quick else 20.0, patches=patches)
            print(
                f"  {name:40s} per test {fmt(suite.per_test.median * 1e3, 'ms')} ms (median of {suite.passed}),"
                f" 1000 tests ~{fmt(thousand_tests(projected_wall(suite), suite.per_test.median, count), 's')} s"
            )
    print("\nmockidp serve under load (8 connections, 3 s)")
    with Server("mockidp") as server:
        for operation in ("token", "login"):
            report = run_load(server, operation, seconds=0.5 if quick else 3.0, limit=100_000, concurrency=8)
            rate, p50 = report["per_second"], fmt(report["p50_ms"], "ms")
            print(f"  {operation:6s} {rate:8.0f} /s   p50 {p50} ms   errors {report['errors']}")


def thousand_tests(wall: float, per_test: float, count: int) -> float:
    """The wall time of 1,000 such tests: what the run spent besides its tests' typical time (start-up,
    collection, the first test's imports and key) plus 1,000 typical tests (the median)."""
    return wall + per_test * (1000 - count)


def pyinstrument_profiles(out: Path, quick: bool, patches: tuple[str, ...]) -> None:
    """Text and HTML profiles of the async login (one thread: everything is visible) and of the fixture."""
    import pytest
    from pyinstrument import Profiler
    from pytest_mockidp._clients import routed_async_client

    from mockidp import KeyPool, MockIdP, ProviderConfig

    out.mkdir(parents=True, exist_ok=True)
    n = 10 if quick else 100
    suffix = ("-" + "+".join(patches)) if patches else ""
    with patched(patches):
        for alg in ("RS256", "ES256"):
            idp = MockIdP(ProviderConfig(algorithm=alg), keys=KeyPool())

            async def run(idp: Any = idp) -> Profiler:
                with idp.intercept():
                    app = app_for(idp)
                    async with routed_async_client(app) as client:
                        for _ in range(3):
                            client.cookies.clear()
                            await idp.alogin(client, "/other")
                        profiler = Profiler(interval=0.0005, async_mode="enabled")
                        profiler.start()
                        for _ in range(n):
                            client.cookies.clear()
                            checked_login(await idp.alogin(client, "/other"))
                        profiler.stop()
                        return profiler

            profiler = asyncio.run(run())
            _write(profiler, out / f"login-async-{alg}{suffix}")
        from _suites import temp_root, write_suite

        with temp_root() as tmp:
            folder = write_suite(Path(tmp), "idp", 100 if quick else 1000)
            profiler = Profiler(interval=0.0005)
            profiler.start()
            code = pytest.main(["-q", "-p", "mockidp", "-p", "no:cacheprovider", str(folder)])
            profiler.stop()
            if code != 0:
                raise SystemExit(f"the fixture suite failed: {code}")
            _write(profiler, out / f"fixture-idp{suffix}")


def _write(profiler: Any, stem: Path) -> None:
    stem.with_suffix(".txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    stem.with_suffix(".html").write_text(profiler.output_html())
    print(f"wrote {stem}.txt and .html")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts")
    parser.add_argument("--patch", default="", help=f"comma-separated prototypes to apply: {', '.join(NAMES)}")
    parser.add_argument("--compare", action="store_true", help="A/B every prototype (interleaved rounds)")
    parser.add_argument("--pyinstrument", type=Path, metavar="DIR", help="write pyinstrument profiles into DIR")
    args = parser.parse_args()
    patches = tuple(p for p in args.patch.split(",") if p)
    if args.compare:
        compare(args.quick)
        return 0
    if args.pyinstrument:
        pyinstrument_profiles(args.pyinstrument, args.quick, patches)
        return 0
    n = 10 if args.quick else 100
    with ExitStack() as stack:
        stack.enter_context(patched(patches))
        note = f" with {'+'.join(patches)}" if patches else ""
        for alg in ("RS256", "ES256"):
            for sync in (True, False):
                total, meter = breakdown(alg, sync=sync, n=n)
                mode = "sync TestClient" if sync else "async client"
                print_breakdown(
                    f"== login in-process, {mode}, {alg}{note}: ms per login (n={n})", total, meter, n, sync=sync
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
