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
last test to use it, while that test's provider still answers, when the next test takes ``app_client``
with other markers (or ``idp_live``); a test that does not take ``app_client`` leaves it be. Should a
later test's app still differ (its ``idp_env``, say), or be an ``app`` fixture of the user's own, the
kept one is left when that test builds or enters its own, and an error it raises then names the test
it was built for. The last one is left at the session's end.
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


def continues(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """Whether the app ``item`` kept may stay for ``nextitem``: it does not take ``app_client`` (so it leaves
    the kept app alone), or takes it on the same markers without ``idp_live`` (whose URL is its own)."""
    if nextitem is None:
        return False
    names = getattr(nextitem, "fixturenames", ())
    if "app_client" not in names:
        return True
    if "idp_live" in names or "async_app_client" in names:
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


def reused_app() -> Iterator[ReusedApp]:
    """The session's ``ReusedApp``, closed at its end (the body of the plugin's session fixture)."""
    reused = ReusedApp()
    yield reused
    reused.close()
