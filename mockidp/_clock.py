"""The provider's one clock. Every time the provider reads comes from here, so freezegun moves it.

``time.time`` is looked up at each call, never bound at import, so ``freeze_time`` and ``tick``
apply to codes, sessions and tokens alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeAlias

import anyio.to_thread

Clock: TypeAlias = Callable[[], float]


def system_clock() -> float:
    """Seconds since the epoch, as ``time.time()`` says now (patched by freezegun when frozen)."""
    return time.time()


def _real_monotonic() -> float:
    """The monotonic clock, read where freezegun does not reach (it patches ``time.monotonic``)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class OffsetClock:
    """The system clock moved by ``offset`` seconds: a clock a running server can be told to move
    (``mockidp serve --control``'s ``/clock``), where freezegun cannot reach."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


async def real_sleep(seconds: float) -> None:
    """Wait ``seconds`` of real time, also under ``freeze_time``: a frozen event loop would never wake
    from ``asyncio.sleep``, so the wait happens in a worker thread, whose ``time.sleep`` is real."""
    await anyio.to_thread.run_sync(time.sleep, seconds)


class RealTimeEventLoop(asyncio.SelectorEventLoop):
    """An event loop that schedules by real time even under ``freeze_time``.

    The provider's own loops (the loopback server's, the sync transport's) use it, so a frozen
    clock moves the provider's idea of "now" without hanging its sleeps and timeouts.
    """

    def time(self) -> float:
        return _real_monotonic()
