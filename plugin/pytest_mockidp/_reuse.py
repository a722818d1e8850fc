"""One app for consecutive tests that build the same one: the ini option ``mockidp_reuse_app``.

Building the app and entering its TestClient (the factory, the lifespan, the app's OAuth client fetching
the provider's metadata and keys anew) is most of what a login test costs beyond the login. With the
option on, a test that takes ``app_client`` keeps its app and entered client for the next test, when
that one takes ``app_client`` too and would build the same app: the same factory with the same
arguments, the same ``idp_env`` and an equal provider configuration. Between tests the client's
settings (cookies, headers, params, auth, event hooks, redirects) are put back as they were when it was
made; what the app itself keeps (its database, its caches, tasks it started) stays, which is why it is
an option: for apps that keep nothing a test relies on.

A kept app is left (its lifespan shut down, the event loop thread restored) at the teardown of the
last test to use it, while that test's provider still answers, unless the next test will use it: it
takes the plugin's ``app_client`` through the same fixtures and markers (``continues``). Should that
test's app still differ (another ``idp_env``), the kept one is left when that test builds its own, and
an error it raises then names the test it was built for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

#: The test that runs after this one (``pytest_runtest_teardown``'s ``nextitem``), for ``continues``.
NEXT_ITEM = pytest.StashKey["pytest.Item | None"]()

#: The client settings a test may change and the next must not see (httpx ``Client`` properties).
_SETTINGS = ("headers", "params", "auth", "event_hooks", "base_url", "timeout", "follow_redirects", "max_redirects")


def _copied(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with their mutable values copied: what is put back must not change with the client."""
    copied = dict(settings)
    copied["headers"] = settings["headers"].copy()
    copied["event_hooks"] = {kind: list(hooks) for kind, hooks in settings["event_hooks"].items()}
    return copied


def _spec(item: pytest.Item) -> tuple[Any, ...]:
    """What, besides the ini options, decides the app a test builds: its app_factory and mockidp markers."""
    factory = item.get_closest_marker("app_factory")
    configs = [(m.args, m.kwargs) for m in item.iter_markers("mockidp")]
    return (factory.args, factory.kwargs) if factory is not None else None, configs


#: The fixtures whose definitions decide the app a test builds and how it is entered.
_DEFINING = ("app", "app_client", "idp_env", "mockidp_config", "idp")


def _definition(item: pytest.Item, name: str) -> Any:
    """The fixture definition ``name`` resolves to for ``item`` (the closest override), or ``None``."""
    info = getattr(item, "_fixtureinfo", None)  # pytest's; an item without it takes no fixtures
    definitions = info.name2fixturedefs.get(name) if info is not None else None
    return definitions[-1] if definitions else None


def plugins_app_client(item: pytest.Item) -> bool:
    """Whether ``item`` takes the plugin's own ``app_client`` (not one of the user's, which enters the app itself)."""
    definition = _definition(item, "app_client")
    return getattr(getattr(definition, "func", None), "__module__", None) == "pytest_mockidp._fixtures"


def continues(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """Whether ``nextitem`` will use the app ``item`` kept: it takes the plugin's ``app_client`` through the
    same fixtures and markers, is not marked skip, and neither test is on ``idp_live`` (its URL is its own)."""
    if nextitem is None or not plugins_app_client(nextitem):
        return False
    names, next_names = getattr(item, "fixturenames", ()), getattr(nextitem, "fixturenames", ())
    if "idp_live" in names or "idp_live" in next_names or "async_app_client" in next_names:
        return False
    if any(nextitem.iter_markers("skip")) or any(nextitem.iter_markers("skipif")):
        return False
    if any(_definition(item, name) is not _definition(nextitem, name) for name in _DEFINING):
        return False
    try:
        return bool(_spec(item) == _spec(nextitem))
    except Exception:  # marker arguments that cannot be compared: build anew
        return False


class ReusedApp:
    """The app (and entered client) the last test left, and what it was built from."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._app: Any = None
        self._built_for = ""
        self._client: Any = None
        self._settings: dict[str, Any] = {}
        self._stack = contextlib.ExitStack()

    def app(self, key: tuple[Any, ...], build: Callable[[], Any], test: str) -> Any:
        """The kept app if it was built from ``key``, else a new one from ``build`` (kept instead)."""
        if self._key is not None and self._key == key:
            return self._app
        self.close()
        self._app = build()
        self._key, self._built_for = key, test
        return self._app

    @contextlib.contextmanager
    def client(
        self, app: Any, enter: Callable[[], contextlib.AbstractContextManager[Any]], item: pytest.Item
    ) -> Iterator[Any]:
        """The client entered on ``app`` (the kept app), entered now by ``enter`` if there is none yet; after
        the test its settings are put back, and the app is left if the next test will not use it."""
        if app is not self._app:  # an `app` fixture of the user's own: not kept, and it needs the loop alone
            self.close()
            with enter() as client:
                yield client
            return
        if self._client is None:
            try:
                self._client = self._stack.enter_context(enter())
            except BaseException:
                self.close()  # the app did not start: the next test builds its own
                raise
            self._settings = _copied({name: getattr(self._client, name) for name in _SETTINGS})
        try:
            yield self._client
        finally:
            self._client.cookies.clear()
            for name, value in _copied(self._settings).items():
                setattr(self._client, name, value)
            if not continues(item, item.stash.get(NEXT_ITEM, None)):
                self.close()

    def close(self) -> None:
        """Leave the kept client (its lifespan shut down) and forget the app."""
        built_for, stack = self._built_for, self._stack
        self._key = self._app = self._client = None
        self._settings, self._built_for, self._stack = {}, "", contextlib.ExitStack()
        try:
            stack.close()
        except BaseException as exc:
            exc.add_note(f"mockidp: leaving the app kept since {built_for} (mockidp_reuse_app) raised this")
            raise
