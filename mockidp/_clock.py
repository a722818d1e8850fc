"""The provider's one clock. Every time the provider reads comes from here, so freezegun moves it.

``time.time`` is looked up at each call, never bound at import, so ``freeze_time`` and ``tick``
apply to codes, sessions and tokens alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeAlias

Clock: TypeAlias = Callable[[], float]


def system_clock() -> float:
    """Seconds since the epoch, as ``time.time()`` says now (patched by freezegun when frozen)."""
    return time.time()


class _Real:
    """The real monotonic clock, kept out of module globals, where freezegun would replace it."""

    monotonic = staticmethod(time.monotonic)


class RealTimeEventLoop(asyncio.SelectorEventLoop):
    """An event loop that schedules by real time even under ``freeze_time``.

    The provider's own loops (the loopback server's, the sync transport's) use it, so a frozen
    clock moves the provider's idea of "now" without hanging its sleeps and timeouts.
    """

    def time(self) -> float:
        return _Real.monotonic()
