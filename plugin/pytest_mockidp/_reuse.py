"""One app for consecutive tests that build the same one: the ini option ``mockidp_reuse_app``.

Building the app and entering its TestClient (the factory, the lifespan, the app's OAuth client fetching
the provider's metadata and keys anew) is most of what a login test costs beyond the login. With the
option on, the ``app`` fixture keeps the app it built, and ``app_client`` its entered client, for the
next test whose app would be the same: the same factory with the same arguments, the same ``idp_env``
and an equal provider configuration. Any other test builds its own (and the kept one is left: its
lifespan shut down, as at the session's end). Between tests the client's cookies and headers are put
back as they were when it was made; what the app itself keeps (its database, its caches, tasks it
started) stays, which is why it is an option: for apps that keep nothing a test relies on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


class ReusedApp:
    """The app (and entered client) the last test left, and what it was built from."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._app: Any = None
        self._client: Any = None
        self._headers: Any = None
        self._stack = contextlib.ExitStack()

    def app(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """The kept app if it was built from ``key``, else a new one from ``build`` (kept instead)."""
        if self._key is not None and self._key == key:
            return self._app
        self.close()
        self._app = build()
        self._key = key
        return self._app

    @contextlib.contextmanager
    def client(self, app: Any, enter: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[Any]:
        """The client entered on ``app`` (the kept app), entered now by ``enter`` if there is none yet;
        after the test, its cookies and headers are as they were when it was made."""
        if app is not self._app:  # an `app` fixture of the user's own: not kept, so neither is its client
            with enter() as client:
                yield client
            return
        if self._client is None:
            self._client = self._stack.enter_context(enter())
            self._headers = self._client.headers.copy()
        try:
            yield self._client
        finally:
            self._client.cookies.clear()
            self._client.headers = self._headers.copy()

    def close(self) -> None:
        """Leave the kept client (its lifespan shut down) and forget the app."""
        self._key = self._app = self._client = self._headers = None
        stack, self._stack = self._stack, contextlib.ExitStack()
        stack.close()


def reused_app() -> Iterator[ReusedApp]:
    """The session's ``ReusedApp``, closed at its end (the body of the plugin's session fixture)."""
    reused = ReusedApp()
    yield reused
    reused.close()
