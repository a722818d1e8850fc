"""A low-overhead attribution meter: the inclusive wall time spent in named functions, per login.

Each named function is wrapped (sync or async) and its time added up for the outermost call on a
thread, so recursion and nesting of the same function are counted once. Unlike a sampling profile
it sees the TestClient's portal thread too, and its overhead (~1 us per call) stays out of the way.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Meter:
    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self._depth: dict[tuple[str, int], int] = defaultdict(int)
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, target: str, label: str) -> None:
        """Wrap ``module:Attr.path`` (a function, method, or static/class method)."""
        module_name, _, path = target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        self.wrap_attribute(owner, name, label)

    def wrap_attribute(self, owner: Any, name: str, label: str) -> None:
        """Wrap ``owner.name``: a module's function, a class's method, or an instance's bound method."""
        original = inspect.getattr_static(owner, name)
        if not isinstance(owner, type) and not inspect.ismodule(owner) and name not in vars(owner):
            original = getattr(owner, name)  # a bound method: wrap it on the instance
        func = original.__func__ if isinstance(original, staticmethod | classmethod) else original
        meter = self

        def enter() -> tuple[tuple[str, int], float]:
            key = (label, threading.get_ident())
            meter._depth[key] += 1
            return key, time.perf_counter()

        def leave(key: tuple[str, int], start: float) -> None:
            meter._depth[key] -= 1
            if meter._depth[key] == 0:
                meter.total[label] += time.perf_counter() - start
                meter.count[label] += 1

        wrapper: Any
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                key, start = enter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    leave(key, start)

        else:

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                key, start = enter()
                try:
                    return func(*args, **kwargs)
                finally:
                    leave(key, start)

        if isinstance(original, staticmethod):
            wrapper = staticmethod(wrapper)
        elif isinstance(original, classmethod):
            wrapper = classmethod(wrapper)
        setattr(owner, name, wrapper)
        if inspect.ismethod(original):  # an instance attribute shadowing the class's method: remove it
            self._undo.append((owner, name, None))
        else:
            self._undo.append((owner, name, original))

    @contextmanager
    def timing(self, label: str) -> Iterator[None]:
        """Time a block under ``label`` (outermost only, per thread)."""
        key = (label, threading.get_ident())
        self._depth[key] += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._depth[key] -= 1
            if self._depth[key] == 0:
                self.total[label] += time.perf_counter() - start
                self.count[label] += 1

    def reset(self) -> None:
        self.total.clear()
        self.count.clear()

    def undo(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


@contextmanager
def metering(targets: list[tuple[str, str]]) -> Iterator[Meter]:
    meter = Meter()
    try:
        for target, label in targets:
            meter.wrap(target, label)
        yield meter
    finally:
        meter.undo()
