"""The lean browser's cookie jar (mockidp/_browser.py, RFC 6265 §5.2-5.4) sends what httpx's would."""

from __future__ import annotations

import httpx2
import pytest

from mockidp._browser import Jar

SET_COOKIES = [
    "a=1; Path=/",
    "b=2",  # default path: the directory of the request path
    "c=3; Path=/auth; HttpOnly; SameSite=lax",
    "d=4; Domain=example.com; Path=/",
    "e=5; Domain=.other.test",  # not the request's domain: refused
    "f=6; Secure; Path=/",
    "g=7; Max-Age=0",
    "h=8; Max-Age=soon; Path=/",
    "i=9; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "j=10; Expires=someday; Path=/",
    "k=11; Path=relative",
    "novalue",
    "=12",
]
REQUESTS = [
    "http://app.example.com/",
    "https://app.example.com/auth/callback",
    "http://app.example.com/authx",
    "http://www.example.com/auth/x",
    "http://elsewhere.test/",
]


@pytest.mark.parametrize("url", REQUESTS)
def test_the_jar_sends_the_cookies_httpx_would(url: str) -> None:
    origin = httpx2.Request("GET", "http://app.example.com/auth/login")
    cookies = httpx2.Cookies()
    cookies.extract_cookies(httpx2.Response(200, headers=[("set-cookie", v) for v in SET_COOKIES], request=origin))
    jar = Jar()
    for header in SET_COOKIES:
        jar.store(header, "app.example.com", "/auth/login")

    request = httpx2.Request("GET", url)
    cookies.set_cookie_header(request)
    got = jar.header(request.url.scheme, request.url.host, request.url.path)

    sent = request.headers.get("cookie")
    # The same cookies; among those of equal path length httpx orders by domain, RFC 6265 §5.4 by age.
    assert sorted(got.decode().split("; ") if got is not None else []) == sorted(sent.split("; ") if sent else [])


def test_a_cookie_set_again_replaces_the_old_one_and_an_expired_one_removes_it() -> None:
    jar = Jar()
    jar.store("s=old; Path=/", "testserver", "/")
    jar.store("s=new; Path=/", "testserver", "/")
    assert jar.header("http", "testserver", "/") == b"s=new"
    jar.store("s=gone; Path=/; Max-Age=0", "testserver", "/")
    assert jar.header("http", "testserver", "/") is None
