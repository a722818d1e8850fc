"""A real loopback server (uvicorn in a background thread) for clients that open sockets themselves.

The socket is bound and listening before the URL is handed out, so a client may connect at once:
the connection waits in the backlog until uvicorn accepts it. No polling, no sleeps.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp

from mockidp._clock import RealTimeEventLoop


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
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


@contextmanager
def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on ``host`` and ``port`` (0: a free one) until the block ends; yields the base URL."""
    import uvicorn  # only a served provider pays for importing the server

    sock = bind(host, port)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    def run() -> None:
        loop = RealTimeEventLoop()
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="mockidp-server", daemon=True)
    thread.start()
    try:
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
