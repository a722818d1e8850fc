"""Prototypes of the proposed speed-ups, applied by monkeypatching (mockidp/ itself is left alone).

Each is a sketch of a change to mockidp or the plugin, close enough to measure its gain:

- ``loop_reuse``: the sync in-process transport runs the provider on one event loop per thread, kept,
  instead of a new loop per request (and one helper thread, kept, when the caller's thread runs a loop).

Three earlier prototypes landed in mockidp and the plugin and are gone from here: sharing the default
TLS context (``mockidp/_tls.py``), a TCP listening socket so asyncio sets TCP_NODELAY (``_server.bind``)
and ``one_hop_client``, each buffered request of the routed TestClient made in one call into its portal
(``plugin/pytest_mockidp/_testclient.py``; the login driver runs a whole flow in one call).

Run ``python bench/_prototypes.py PATCH[,PATCH] -- serve ARGS`` for ``mockidp serve`` with patches.

``apply(["loop_reuse", ...])`` patches for good; ``patched(...)`` undoes on exit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

NAMES = ("loop_reuse",)


@contextmanager
def _setattr(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


# -- loop_reuse --------------------------------------------------------------------------------


@contextmanager
def loop_reuse() -> Iterator[None]:
    import mockidp._transports as transports
    from mockidp._clock import RealTimeEventLoop

    local = threading.local()
    executor: list[ThreadPoolExecutor] = []

    def run_on_thread_loop(factory: Callable[[], Any]) -> Any:
        loop = getattr(local, "loop", None)
        if loop is None or loop.is_closed():
            loop = local.loop = RealTimeEventLoop()
        return loop.run_until_complete(factory())

    def run_sync(factory: Callable[[], Any]) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_on_thread_loop(factory)
        if not executor:
            executor.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="mockidp"))
        return executor[0].submit(run_on_thread_loop, factory).result()

    try:
        with _setattr(transports, "run_sync", run_sync):
            yield
    finally:
        for pool in executor:
            pool.shutdown()


PATCHES: dict[str, Callable[[], Any]] = {
    "loop_reuse": loop_reuse,
}


@contextmanager
def patched(names: list[str] | tuple[str, ...]) -> Iterator[None]:
    with ExitStack() as stack:
        for name in names:
            if name not in PATCHES:
                raise ValueError(f"unknown prototype {name!r}; choose from {', '.join(NAMES)}")
            stack.enter_context(PATCHES[name]())
        yield


_applied = ExitStack()


def apply(names: list[str] | tuple[str, ...]) -> None:
    """Patch for the rest of the process (used by the generated suites' conftest)."""
    _applied.enter_context(patched(names))


def main(argv: list[str]) -> int:
    """``_prototypes.py PATCHES -- serve ...``: ``mockidp serve`` with the named patches applied."""
    names, _, rest = argv[0], argv[1], argv[2:]
    from mockidp._cli import main as cli

    with patched([n for n in names.split(",") if n]):
        return cli(rest)


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
