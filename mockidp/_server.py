"""A real loopback server (uvicorn in a background thread) for clients that open sockets themselves.

The socket is bound and listening before the URL is handed out, so a client may connect at once:
the connection waits in the backlog until uvicorn accepts it. Stopping wakes the server at once
instead of waiting for uvicorn's next 0.1 s tick, and leaves as soon as its connections are closed,
so serving per test stays cheap. uvicorn is not given a logging config: it would otherwise call
``logging.config.dictConfig`` on the test process and stop its records reaching pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.types import ASGIApp

from mockidp._clock import RealTimeEventLoop


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it a
    # keep-alive client waits ~40 ms for a delayed ACK on every request after its first.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Limits:
    """How long leaving ``serve()`` waits for busy connections to finish before it cuts them off."""

    shutdown_grace: float = 2.0


@functools.cache
def _server_class() -> type[Any]:
    import uvicorn  # only a served provider pays for importing the server

    class Server(uvicorn.Server):
        """uvicorn's server, stoppable from another thread without waiting out its polling interval."""

        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            self._loop: asyncio.AbstractEventLoop | None = None
            self._wake = asyncio.Event()

        async def main_loop(self) -> None:
            self._loop = asyncio.get_running_loop()
            ticks = 0
            # on_tick refreshes the Date header when its counter is a multiple of 10 (once a second).
            while not await self.on_tick(ticks):
                ticks = (ticks + 10) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            for connection in list(self.server_state.connections):
                connection.shutdown()  # idle keep-alive connections close now, busy ones after their response
            loop = asyncio.get_running_loop()
            deadline = loop.time() + Limits.shutdown_grace
            while (self.server_state.connections or self.server_state.tasks) and loop.time() < deadline:
                await asyncio.sleep(0.005)
            # Whatever is left stalled (a client that sent headers but never its body): cut it off.
            for task in list(self.server_state.tasks):
                task.cancel()
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.close()
            for server in self.servers:
                await server.wait_closed()

        def stop(self) -> None:
            """Ask the server to exit; safe from any thread, before or after it started."""
            self.should_exit = True
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop already closed: nothing to wake
                    loop.call_soon_threadsafe(self._wake.set)

    return Server


@contextmanager
def serve_socket(app: ASGIApp, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` on the bound, listening ``sock`` until the block ends.

    Whatever ``app`` must be before its first answer (the issuer it announces, above all) must be so
    before this block starts: a client may be waiting in the backlog already.
    """
    import uvicorn

    config = uvicorn.Config(app, lifespan="off", log_config=None, log_level="warning", access_log=False)
    server = _server_class()(config)

    def run() -> None:
        loop = RealTimeEventLoop()
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="mockidp-server", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.stop()
        thread.join()
