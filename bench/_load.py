"""Section 8: a standalone provider under load, driven from a second process over 127.0.0.1.

The servers run as their own processes, as their users start them: ``python -m mockidp serve`` and
``python -m oidc_provider_mock`` (its CLI: Flask on uvicorn's WSGI interface). The load comes from
another process (this file run as a script): ``--concurrency`` keep-alive connections, each sending
its next request as soon as the last answer is read, until ``--seconds`` have passed or ``--max``
operations are done. The client speaks HTTP/1.1 on raw asyncio streams, so it costs the (shared,
2-core) machine far less than the servers do. Only loopback addresses are accepted.

Operations:
- ``token``: one token request. mockidp: ``client_credentials`` (mints and signs a JWT access
  token). The peer has no ``client_credentials`` grant (its grant_types_supported are
  authorization_code and refresh_token), so it answers a ``refresh_token`` grant with a refresh token
  got once up front (it mints an opaque access token: no signature).
- ``login``: a whole login at the provider, as a relying party and browser make it: the authorization
  request (mockidp: GET, non-interactive; the peer: POST of its login form) answered with a redirect
  carrying the code, then the code exchange at the token endpoint (mockidp: PKCE S256 and a nonce).
- ``flows`` (mockidp only, ``drive_flows``): whole login flows, each from a fresh browser (a new
  connection, no cookies) logging in its own user (``login_hint``, users registered with ``--user``):
  the authorization request, the code exchange with PKCE, then userinfo with the access token. Each
  flow checks that what it got is its own (the ``state`` and ``iss`` of the redirect; ``sub``,
  ``nonce`` and ``aud`` of the ID token; ``sub`` of the access token and of userinfo): a mismatch is
  counted as cross-talk. With ``--server-pid`` it samples the server's resident memory (VmRSS in
  /proc/PID/status) before the first flow, every ``--sample-every`` flows and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
REDIRECT_URI = "http://localhost/cb"


class LoadError(RuntimeError):
    pass


class CrossTalk(LoadError):
    """A flow got back something that was not its own (another flow's user, nonce or state)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive HTTP/1.1 connection (Content-Length and chunked bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Response:
        reader, writer = await self._open()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            await self.close()
            raise LoadError("the server closed the connection")
        status = int(status_line.split()[1])
        response_headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        if "content-length" in response_headers:
            data = await reader.readexactly(int(response_headers["content-length"]))
        elif response_headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readline()
            data = b"".join(chunks)
        else:
            data = await reader.read()
            await self.close()
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, response_headers, data)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Scenario:
    kind: str  # mockidp | peer
    operation: str  # token | login
    base: str
    client_id: str
    client_secret: str
    metadata: dict[str, Any] = field(default_factory=dict)
    refresh_token: str = ""

    def path(self, name: str) -> str:
        parts = urlsplit(str(self.metadata[name]))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def prepare(self, conn: Connection) -> None:
        response = await conn.request("GET", "/.well-known/openid-configuration")
        if response.status != 200:
            raise LoadError(f"discovery answered {response.status}")
        self.metadata = response.json()
        if self.kind == "peer" and self.operation == "token":
            tokens = await self.login(conn)
            self.refresh_token = str(tokens["refresh_token"])

    async def login(self, conn: Connection) -> dict[str, Any]:
        state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
        }
        form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}
        if self.kind == "mockidp":
            query.update({"code_challenge": challenge, "code_challenge_method": "S256"})
            form["code_verifier"] = verifier
            answer = await conn.request("GET", self.path("authorization_endpoint") + "?" + urlencode(query))
        else:
            target = self.path("authorization_endpoint") + "?" + urlencode(query)
            answer = await conn.request("POST", target, FORM, urlencode({"sub": "alice@example.com"}).encode())
        location = answer.headers.get("location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if answer.status not in (302, 303) or not code:
            raise LoadError(f"authorization answered {answer.status} {location or answer.body[:200]!r}")
        form["code"] = code
        headers = {**FORM, "Authorization": _basic(self.client_id, self.client_secret)}
        tokens = await conn.request("POST", self.path("token_endpoint"), headers, urlencode(form).encode())
        if tokens.status != 200:
            raise LoadError(f"code exchange answered {tokens.status} {tokens.body[:200]!r}")
        body: dict[str, Any] = tokens.json()
        return body

    async def token(self, conn: Connection) -> None:
        if self.kind == "mockidp":
            form = {"grant_type": "client_credentials"}
        else:
            form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        headers = {**FORM, "Authorization": _basic(self.client_id, self.client_secret)}
        answer = await conn.request("POST", self.path("token_endpoint"), headers, urlencode(form).encode())
        if answer.status != 200:
            raise LoadError(f"token endpoint answered {answer.status} {answer.body[:200]!r}")

    async def once(self, conn: Connection) -> None:
        if self.operation == "login":
            await self.login(conn)
        else:
            await self.token(conn)


async def drive(scenario: Scenario, seconds: float, limit: int, concurrency: int) -> dict[str, Any]:
    parts = urlsplit(scenario.base)
    host, port = parts.hostname or "", parts.port or 80
    if host not in LOOPBACK:
        raise LoadError(f"refusing to load {host!r}: only loopback addresses")
    setup = Connection(host, port)
    await scenario.prepare(setup)
    await setup.close()
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    issued = 0

    async def worker() -> None:
        nonlocal issued
        conn = Connection(host, port)
        try:
            while time.perf_counter() < deadline and issued < limit:
                issued += 1
                begin = time.perf_counter()
                try:
                    await scenario.once(conn)
                except (LoadError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    await conn.close()
                    if len(errors) > 20:
                        return
                    continue
                latencies.append(time.perf_counter() - begin)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "completed": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "elapsed": elapsed,
        "per_second": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(latencies) * 1e3 if latencies else None,
        "p10_ms": latencies[len(latencies) // 10] * 1e3 if latencies else None,
        "p90_ms": latencies[(len(latencies) * 9) // 10] * 1e3 if latencies else None,
    }


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (the load process must stay cheap; the checks are of identity)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise LoadError(f"not a JWT: {token[:40]!r}")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return claims


def vm_rss_kb(pid: int) -> int:
    """The resident set size of process ``pid`` in KiB, from /proc/PID/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LoadError(f"no VmRSS in /proc/{pid}/status")


def slope_per_1000(samples: list[tuple[int, int]]) -> float | None:
    """The least-squares slope of (flows, KiB) samples, in KiB per 1,000 flows."""
    if len(samples) < 2:
        return None
    xs, ys = [float(x) for x, _ in samples], [float(y) for _, y in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return 1000 * sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


@dataclass
class FlowLoad:
    """Whole login flows against mockidp: one fresh browser per flow, each flow as its own user."""

    base: str
    client_id: str
    client_secret: str
    users: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> str:
        parts = urlsplit(str(self.metadata[name]))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def flow(self, number: int, backend: Connection) -> None:
        """Flow ``number``: the browser's authorization request, then the app's code exchange and userinfo.

        Raises ``CrossTalk`` when an answer belongs to another flow, ``LoadError`` when one fails."""
        user = self.users[number % len(self.users)]
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "login_hint": user,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        parts = urlsplit(self.base)
        browser = Connection(parts.hostname or "", parts.port or 80)  # a fresh browser: no cookies, new socket
        try:
            answer = await browser.request("GET", self.path("authorization_endpoint") + "?" + urlencode(query))
        finally:
            await browser.close()
        location = answer.headers.get("location", "")
        back = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if answer.status not in (302, 303) or "code" not in back:
            raise LoadError(f"authorization answered {answer.status} {location or answer.body[:200]!r}")
        if back.get("state") != state or back.get("iss") != self.metadata["issuer"]:
            raise CrossTalk(f"flow {number}: the redirect carried state {back.get('state')!r}, iss {back.get('iss')!r}")
        form = {
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        headers = {**FORM, "Authorization": _basic(self.client_id, self.client_secret)}
        tokens = await backend.request("POST", self.path("token_endpoint"), headers, urlencode(form).encode())
        if tokens.status != 200:
            raise LoadError(f"code exchange answered {tokens.status} {tokens.body[:200]!r}")
        body = tokens.json()
        id_token, access = jwt_claims(str(body["id_token"])), jwt_claims(str(body["access_token"]))
        got = (id_token.get("sub"), id_token.get("nonce"), id_token.get("aud"), access.get("sub"))
        if got != (user, nonce, self.client_id, user):
            raise CrossTalk(f"flow {number} of {user!r} (nonce {nonce!r}) got ID token sub/nonce/aud, access sub {got}")
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        info = await backend.request("GET", self.path("userinfo_endpoint"), bearer)
        if info.status != 200:
            raise LoadError(f"userinfo answered {info.status} {info.body[:200]!r}")
        claims = info.json()
        if (claims.get("sub"), claims.get("preferred_username")) != (user, user):
            raise CrossTalk(f"flow {number} of {user!r} got userinfo of {claims.get('sub')!r}")


async def drive_flows(
    load: FlowLoad,
    *,
    seconds: float,
    limit: int,
    concurrency: int,
    server_pid: int | None = None,
    sample_every: int = 500,
    warmup: int = 0,
) -> dict[str, Any]:
    """At most ``limit`` whole flows in ``seconds``, ``concurrency`` at a time; the server's RSS sampled."""
    parts = urlsplit(load.base)
    host, port = parts.hostname or "", parts.port or 80
    if host not in LOOPBACK:
        raise LoadError(f"refusing to load {host!r}: only loopback addresses")
    setup = Connection(host, port)
    response = await setup.request("GET", "/.well-known/openid-configuration")
    await setup.close()
    if response.status != 200:
        raise LoadError(f"discovery answered {response.status}")
    load.metadata = response.json()
    rss: list[tuple[int, int]] = []  # (flows completed, KiB)

    def sample(done: int) -> None:
        if server_pid is not None:
            rss.append((done, vm_rss_kb(server_pid)))

    sample(0)
    latencies: list[float] = []
    errors: list[str] = []
    crosstalk: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    issued = 0

    async def worker() -> None:
        nonlocal issued
        backend = Connection(host, port)  # the app's own keep-alive connection to the provider
        try:
            while time.perf_counter() < deadline and issued < limit and len(errors) + len(crosstalk) <= 20:
                number, issued = issued, issued + 1
                begin = time.perf_counter()
                try:
                    await load.flow(number, backend)
                except CrossTalk as exc:
                    crosstalk.append(str(exc))
                    continue
                except (LoadError, OSError, asyncio.IncompleteReadError, ValueError, KeyError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    await backend.close()
                    continue
                latencies.append(time.perf_counter() - begin)
                done = len(latencies)
                if done % sample_every == 0 or done == warmup:
                    sample(done)
        finally:
            await backend.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if not rss or rss[-1][0] != len(latencies):
        sample(len(latencies))
    latencies.sort()
    after_warmup = [s for s in rss if s[0] >= warmup] if warmup and len(latencies) >= warmup else []
    return {
        "completed": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "crosstalk": len(crosstalk),
        "first_crosstalk": crosstalk[0] if crosstalk else None,
        "users": len(load.users),
        "elapsed": elapsed,
        "per_second": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(latencies) * 1e3 if latencies else None,
        "p10_ms": latencies[len(latencies) // 10] * 1e3 if latencies else None,
        "p90_ms": latencies[(len(latencies) * 9) // 10] * 1e3 if latencies else None,
        "warmup": warmup,
        "rss_kb": rss,
        "rss_start_kb": rss[0][1] if rss else None,
        "rss_warm_kb": after_warmup[0][1] if after_warmup else None,
        "rss_end_kb": rss[-1][1] if rss else None,
        "slope_kb_per_1000": slope_per_1000(after_warmup),
    }


# -- servers (started by the benchmark process) ------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, timeout: float = 20.0) -> None:
    """Poll ``url`` (a loopback server's discovery document) until it answers 200."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    last = ""

    async def probe() -> int:
        conn = Connection(parts.hostname or "", parts.port or 80)
        try:
            return (await conn.request("GET", parts.path)).status
        finally:
            await conn.close()

    while time.monotonic() < deadline:
        try:
            if asyncio.run(probe()) == 200:
                return
        except (OSError, LoadError) as exc:
            last = str(exc)
        time.sleep(0.05)
    raise LoadError(f"{url} did not come up within {timeout:.0f} s ({last})")


class Server:
    """A provider process on 127.0.0.1, stopped (terminate, then kill) on exit."""

    def __init__(
        self, kind: str, algorithm: str = "RS256", patches: tuple[str, ...] = (), users: tuple[str, ...] = ()
    ) -> None:
        self.kind = kind
        self.users = users
        self.port = free_port()
        if kind == "mockidp":
            if patches:  # bench/_prototypes.py runs `mockidp serve` with the prototypes applied
                start = [sys.executable, str(Path(__file__).with_name("_prototypes.py")), ",".join(patches), "--"]
            else:
                start = [sys.executable, "-m", "mockidp"]
            command = [*start, "serve", "--port", str(self.port), "--no-interactive", "--algorithm", algorithm]
            command += [arg for user in users for arg in ("--user", user)]
            self.client_id, self.client_secret = "mockidp-client", "mockidp-secret"
        else:
            command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(self.port)]
            self.client_id, self.client_secret = "bench-client", "bench-secret"
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )

    def __enter__(self) -> Server:
        try:
            wait_ready(self.base + "/.well-known/openid-configuration")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_load(
    server: Server,
    operation: str,
    *,
    seconds: float,
    limit: int,
    concurrency: int,
    warmup: int = 0,
    sample_every: int = 500,
) -> dict[str, Any]:
    """Run this file as the second process against ``server``; returns its JSON report."""
    command = [sys.executable, __file__, "--kind", server.kind, "--operation", operation, "--base", server.base]
    command += ["--client-id", server.client_id, "--client-secret", server.client_secret]
    command += ["--seconds", str(seconds), "--max", str(limit), "--concurrency", str(concurrency)]
    if operation == "flows":
        command += ["--flows", str(limit), "--warmup", str(warmup), "--sample-every", str(sample_every)]
        command += ["--server-pid", str(server.process.pid)]
        command += [arg for user in server.users for arg in ("--user", user)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)  # noqa: S603
    if proc.returncode != 0:
        raise LoadError(f"the load process failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=("mockidp", "peer"), required=True)
    parser.add_argument("--operation", choices=("token", "login", "flows"), required=True)
    parser.add_argument("--base", required=True, help="the provider's loopback URL")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--max", type=int, default=50_000, help="at most this many operations (token, login)")
    parser.add_argument("--concurrency", type=int, default=8)
    flows = parser.add_argument_group("whole login flows (--operation flows, mockidp only)")
    flows.add_argument("--flows", type=int, default=10_000, help="at most this many flows (default: 10,000)")
    flows.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME",
        help="a user the server knows (repeatable; one per flow in turn)",
    )
    flows.add_argument("--server-pid", type=int, help="the server's process id: its VmRSS is sampled")
    flows.add_argument("--sample-every", type=int, default=500, metavar="N", help="sample the RSS every N flows")
    flows.add_argument("--warmup", type=int, default=0, metavar="N", help="flows before the RSS counts as warm")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    try:
        if args.operation == "flows":
            if args.kind != "mockidp" or not args.user:
                parser.error("--operation flows needs --kind mockidp and at least one --user the server knows")
            load = FlowLoad(base, args.client_id, args.client_secret, args.user)
            report = asyncio.run(
                drive_flows(
                    load,
                    seconds=args.seconds,
                    limit=args.flows,
                    concurrency=args.concurrency,
                    server_pid=args.server_pid,
                    sample_every=args.sample_every,
                    warmup=args.warmup,
                )
            )
        else:
            scenario = Scenario(args.kind, args.operation, base, args.client_id, args.client_secret)
            report = asyncio.run(drive(scenario, min(args.seconds, 60.0), args.max, args.concurrency))
    except LoadError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def section_load(seconds: float, limit: int, concurrency: int, patches: tuple[str, ...] = ()) -> list[Any]:
    """Section 8: rows of requests (or logins) per second, mockidp's server and the peer's."""
    from _common import Row, ratio

    rows: list[Row] = []
    rates: dict[tuple[str, str], float] = {}
    kinds = [("mockidp", "mockidp serve")]
    try:
        import oidc_provider_mock  # noqa: F401
    except ImportError as exc:
        rows.append(Row("8", "oidc-provider-mock under load", "req/s", float("nan"), note=f"not installed: {exc}"))
    else:
        kinds.append(("peer", "oidc-provider-mock CLI"))
    what = {
        ("mockidp", "token"): "token endpoint, client_credentials, RS256 JWT",
        ("mockidp", "login"): "logins: authorize + code exchange, RS256",
        ("peer", "token"): "token endpoint, refresh_token (opaque token)",
        ("peer", "login"): "logins: authorize form + code exchange, RS256",
    }
    for kind, title in kinds:
        with Server(kind, patches=patches if kind == "mockidp" else ()) as server:
            for operation in ("token", "login"):
                report = run_load(server, operation, seconds=seconds, limit=limit, concurrency=concurrency)
                if report["errors"]:
                    raise LoadError(f"{kind} {operation}: {report['errors']} errors, e.g. {report['first_error']}")
                rates[(kind, operation)] = report["per_second"]
                rows.append(
                    Row(
                        "8",
                        f"{title}: {what[(kind, operation)]}",
                        "req/s" if operation == "token" else "login/s",
                        report["per_second"],
                        n=report["completed"],
                        note=f"latency p10/p50/p90 {report['p10_ms']:.1f}/{report['p50_ms']:.1f}/"
                        f"{report['p90_ms']:.1f} ms at {concurrency} connections, {report['elapsed']:.1f} s",
                    )
                )
    for kind_row in rows:
        if kind_row.name.startswith("mockidp serve"):
            operation = "token" if kind_row.unit == "req/s" else "login"
            peer = rates.get(("peer", operation))
            if peer:
                kind_row.ratio = ratio(kind_row.value, peer).replace("x", "x peer")
    return rows


#: The users of the flows load: each flow logs in the next one (``login_hint``), so flows in flight at
#: once are of different users, and an answer meant for another flow shows.
FLOW_USERS = tuple(f"load-{i:02d}" for i in range(16))
#: "Flat": the server's RSS grows by at most this much per 10,000 flows once warm.
FLAT_MB_PER_10K = 1.0


def section_flows(
    flows: int, warmup: int, seconds: float, concurrency: int, judge: bool, patches: tuple[str, ...] = ()
) -> list[Any]:
    """Section 9: whole login flows against ``mockidp serve``, with the server's RSS over the run.

    ``judge``: the run is long enough for the RSS target (the full run); a quick run only shows its numbers."""
    from _common import Row, Target

    sample_every = max(25, flows // 24)
    with Server("mockidp", patches=patches, users=FLOW_USERS) as server:
        report = run_load(
            server,
            "flows",
            seconds=seconds,
            limit=flows,
            concurrency=concurrency,
            warmup=warmup,
            sample_every=sample_every,
        )
    if report["errors"] or report["crosstalk"]:
        raise LoadError(
            f"whole flows: {report['errors']} errors, {report['crosstalk']} with cross-talk of"
            f" {report['completed']} completed; e.g. {report['first_crosstalk'] or report['first_error']}"
        )
    done = report["completed"]
    stopped = f", stopped by the {seconds:.0f} s bound" if done < flows else ""
    rows = [
        Row(
            "9",
            "mockidp serve: whole login flows (fresh browser; authorize, code + PKCE, userinfo)",
            "flow/s",
            report["per_second"],
            n=done,
            note=f"latency p10/p50/p90 {report['p10_ms']:.1f}/{report['p50_ms']:.1f}/{report['p90_ms']:.1f} ms"
            f" at {concurrency} clients, {report['elapsed']:.1f} s{stopped}; 0 errors, 0 cross-talk"
            f" ({report['users']} users; state, iss, sub, nonce, aud and userinfo sub checked in each flow)",
        )
    ]
    start, warm, end = report["rss_start_kb"], report["rss_warm_kb"], report["rss_end_kb"]
    if warm is None:
        rows.append(
            Row("9", "server RSS growth after warm-up", "MB", float("nan"), note=f"fewer than {warmup} flows ran")
        )
        return rows
    measured = done - warmup
    grown = (end - warm) / 1024
    slope = report["slope_kb_per_1000"]
    window = f"VmRSS {start / 1024:.1f} MB at start, {warm / 1024:.1f} MB after {warmup:,} flows of warm-up,"
    window += f" {end / 1024:.1f} MB after {done:,} flows"
    if judge:
        rows.append(
            Row(
                "9",
                "server RSS growth after warm-up, per 10,000 flows",
                "MB",
                grown * 10_000 / measured if measured else float("nan"),
                n=measured,
                target=Target(FLAT_MB_PER_10K, text=f"<= {FLAT_MB_PER_10K:g} MB"),
                note=window,
            )
        )
    else:  # a few hundred flows say nothing of a slope: show what was measured, judge nothing, no slope
        rows.append(
            Row(
                "9",
                f"server RSS growth after warm-up, over {measured} flows (quick run: not judged)",
                "MB",
                grown,
                n=measured,
                note=f"{window}; the state tables of `mockidp serve` fill over its first 1,000 flows",
            )
        )
        return rows
    rows.append(
        Row(
            "9",
            "server RSS slope after warm-up (least squares over the samples)",
            "KB/1k",
            slope if slope is not None else float("nan"),
            n=len([s for s in report["rss_kb"] if s[0] >= warmup]),
            note=f"{(warm - start) / 1024:+.1f} MB during the warm-up; a sample every {sample_every} flows",
        )
    )
    return rows
