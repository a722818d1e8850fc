"""``MockIdP.serve()``: the provider on a real loopback socket, for clients that open sockets themselves.

While serving, the issuer (OIDC Discovery §3 ``issuer``, and every endpoint built from it) is the
loopback URL plus the configured issuer's path, unless ``keep_issuer`` is set; afterwards it is the
configured one again. The socket is listening before the URL is handed out, the server is gone when
the block ends, and a frozen clock (freezegun) moves the provider's time without hanging the server.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from freezegun import freeze_time
from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import KeyPool, MockIdP, ProviderConfig

LOOPBACK = re.compile(r"^http://127\.0\.0\.1:(\d+)$")
OIDC = "/.well-known/openid-configuration"
CREDENTIALS = ("mockidp-client", "mockidp-secret")
TLS = ssl.create_default_context()  # one CA bundle load for every client of this module


def get(url: str) -> httpx2.Response:
    with httpx2.Client(verify=TLS) as client:
        return client.get(url)


def client_credentials(issuer: str) -> httpx2.Response:
    with httpx2.Client(verify=TLS) as client:
        return client.post(issuer + "/token", data={"grant_type": "client_credentials"}, auth=CREDENTIALS)


def port_of(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"no port in {url}")
    return port


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mockidp-server"]


@pytest.fixture
def make_provider(key_pool: KeyPool) -> Callable[[str], MockIdP]:
    def make(issuer: str) -> MockIdP:
        return MockIdP(ProviderConfig(issuer=issuer), keys=key_pool)

    return make


def test_the_loopback_url_is_the_issuer_while_serving(provider: MockIdP) -> None:
    with provider.serve() as issuer:
        assert LOOPBACK.match(issuer)
        assert provider.issuer == issuer
        assert provider.metadata_url == issuer + OIDC
        metadata = get(provider.metadata_url).json()

    assert metadata["issuer"] == issuer
    assert metadata["token_endpoint"] == issuer + "/token"
    assert metadata["jwks_uri"] == issuer + "/jwks"
    assert provider.issuer == "https://idp.mockidp.test"
    assert provider.metadata_url == "https://idp.mockidp.test" + OIDC


def test_tokens_issued_while_serving_name_the_loopback_issuer(provider: MockIdP) -> None:
    with provider.serve() as issuer:
        response = client_credentials(issuer)
        keys = KeySet.import_key_set(get(issuer + "/jwks").json())

    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], keys).claims
    assert claims["iss"] == issuer
    assert [str(r) for r in provider.requests] == [
        "POST token -> 200 grant_type=client_credentials client_id=mockidp-client",
        "GET jwks -> 200",
    ]


def test_an_issuer_path_is_kept_on_the_loopback_url(make_provider: Callable[[str], MockIdP]) -> None:
    idp = make_provider("https://idp.mockidp.test/realms/a")

    with idp.serve() as issuer:
        base = issuer.removesuffix("/realms/a")
        oidc = get(issuer + OIDC)
        rfc8414 = get(base + "/.well-known/oauth-authorization-server/realms/a")

    assert LOOPBACK.match(base)
    assert issuer == base + "/realms/a"
    assert oidc.json()["issuer"] == rfc8414.json()["issuer"] == issuer
    assert oidc.json()["authorization_endpoint"] == issuer + "/authorize"
    assert idp.issuer == "https://idp.mockidp.test/realms/a"


def test_keep_issuer_serves_under_the_configured_issuer(provider: MockIdP) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with provider.serve(port=port, keep_issuer=True) as url:
        metadata = get(f"{url}{OIDC}").json()

    assert url == f"http://127.0.0.1:{port}"
    assert provider.issuer == "https://idp.mockidp.test"
    assert metadata["issuer"] == "https://idp.mockidp.test"
    assert metadata["token_endpoint"] == "https://idp.mockidp.test/token"


def test_keep_issuer_still_tells_where_the_server_listens(provider: MockIdP) -> None:
    with provider.serve(keep_issuer=True) as url:
        assert LOOPBACK.match(url)


def test_serving_twice_nests_and_restores_each_issuer(provider: MockIdP) -> None:
    with provider.serve() as outer:
        with provider.serve() as inner:
            assert provider.issuer == inner != outer
        assert provider.issuer == outer
        assert get(outer + OIDC).json()["issuer"] == outer
    assert provider.issuer == "https://idp.mockidp.test"


def test_the_server_stops_when_the_block_ends(provider: MockIdP) -> None:
    with provider.serve() as issuer:
        assert get(issuer + "/jwks").status_code == 200
        assert len(server_threads()) == 1

    assert server_threads() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port_of(issuer))).close()


def test_the_server_stops_when_the_block_raises(provider: MockIdP) -> None:
    with pytest.raises(RuntimeError, match="boom"), provider.serve() as issuer:
        raise RuntimeError("boom")

    assert server_threads() == []
    assert provider.issuer == "https://idp.mockidp.test"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port_of(issuer))).close()


def test_a_busy_port_raises_and_changes_nothing(provider: MockIdP, key_pool: KeyPool) -> None:
    other = MockIdP(keys=key_pool)
    with provider.serve() as issuer:
        with pytest.raises(OSError, match=r"[Aa]ddress already in use") as error, other.serve(port=port_of(issuer)):
            pytest.fail("served on a busy port")
        assert get(issuer + OIDC).json()["issuer"] == issuer

    assert error.value.errno == errno.EADDRINUSE
    assert other.issuer == "https://idp.mockidp.test"
    assert server_threads() == []


def test_ipv6_loopback_is_bracketed(provider: MockIdP) -> None:
    with provider.serve("::1") as issuer:
        assert re.match(r"^http://\[::1\]:\d+$", issuer)
        assert get(issuer + OIDC).json()["jwks_uri"] == issuer + "/jwks"


FROZEN = 1893456000  # 2030-01-01T00:00:00Z


@pytest.mark.parametrize("freeze_first", [True, False], ids=["frozen-then-served", "served-then-frozen"])
def test_serving_under_a_frozen_clock_neither_hangs_nor_ignores_it(provider: MockIdP, freeze_first: bool) -> None:
    provider.slow("token", 0.001)  # a real wait on the server's loop: must not wait for frozen time
    freezer = freeze_time("2030-01-01T00:00:00Z")
    if freeze_first:
        freezer.start()
    try:
        with provider.serve() as issuer:
            if not freeze_first:
                freezer.start()
            response = client_credentials(issuer)
    finally:
        freezer.stop()

    assert response.status_code == 200
    assert provider.requests[0].time == FROZEN
    claims = jwt.decode(response.json()["access_token"], KeySet.import_key_set(provider.jwks())).claims  # type: ignore[arg-type]
    assert (claims["iat"], claims["exp"]) == (FROZEN, FROZEN + 3600)


def test_serving_leaves_the_logging_configuration_alone(provider: MockIdP) -> None:
    """uvicorn's own dictConfig would replace handlers and stop its records reaching pytest's capture."""
    uvicorn_logger = logging.getLogger("uvicorn")
    before: list[Any] = list(uvicorn_logger.handlers)
    with provider.serve():
        pass
    assert uvicorn_logger.handlers == before
    assert uvicorn_logger.propagate


def test_the_listening_socket_is_tcp_so_connections_get_tcp_nodelay() -> None:
    # asyncio turns on TCP_NODELAY for accepted connections only when the socket's proto is TCP; with
    # proto 0 a keep-alive client's second request waited ~40 ms for a delayed ACK.
    from mockidp._server import bind

    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_leaving_serve_cuts_off_a_client_that_stalled_mid_request(
    provider: MockIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockidp._server import Limits

    monkeypatch.setattr(Limits, "shutdown_grace", 0.05)
    left = threading.Event()

    def serve_and_leave() -> None:
        with provider.serve() as url:
            parts = urlsplit(url)
            stalled = socket.create_connection((parts.hostname, parts.port))
            # Headers and part of a body that never completes: the request's task waits for the rest.
            stalled.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
            assert get(url + OIDC).status_code == 200
        stalled.close()
        left.set()

    threading.Thread(target=serve_and_leave, daemon=True).start()

    assert left.wait(timeout=30), "leaving serve() waited for the stalled client's body"
