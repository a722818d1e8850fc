"""The HTTP control API (``mockidp serve --control``): every operation is one ``MockIdP`` method, the
OpenAPI document lists exactly the operations served, and only loopback clients are answered."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from mockidp import KeyPool, MockIdP, ProviderConfig
from mockidp._clock import OffsetClock
from mockidp._control import TABLE, with_control
from mockidp._journal import ENDPOINTS
from tests.flows import Browser, callback_params
from tests.provider.test_authorize import id_token_of, send

CONTROL = "https://idp.mockidp.test/_mockidp"
NAMES = ", ".join(ENDPOINTS)


@pytest.fixture
def idp(key_pool: KeyPool) -> MockIdP:
    return MockIdP(ProviderConfig(), keys=key_pool, clock=OffsetClock())


def api(idp: MockIdP, client: tuple[str, int] = ("127.0.0.1", 5000), *, remote: bool = False) -> TestClient:
    """A client of the control API, calling from ``client`` (an address put in the ASGI scope only)."""
    return TestClient(with_control(idp, remote=remote), base_url=CONTROL, client=client)


def error_of(response: httpx2.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body: dict[str, str] = response.json()
    assert sorted(body) == ["error", "error_description"]
    return body["error_description"]


def test_the_openapi_document_describes_every_operation_served(idp: MockIdP) -> None:
    document = api(idp).get("/openapi.json").json()

    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": CONTROL}]
    described = sorted((path, method.upper()) for path, ops in document["paths"].items() for method in ops)
    assert described == sorted((op.path, op.method) for op in TABLE)
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(set(ids)) == len(ids)
    assert {"getOpenapiJson", "postKeysRotate"} <= set(ids)
    assert "text/plain" in document["paths"]["/users"]["post"]["requestBody"]["content"]


def test_the_provider_itself_is_served_beside_the_control_api(idp: MockIdP) -> None:
    response = api(idp).get("https://idp.mockidp.test/.well-known/openid-configuration")

    assert response.json()["issuer"] == idp.issuer


@pytest.mark.parametrize(
    ("content", "body"),
    [
        ("application/json", '{"spec": "bob,email=bob@corp.example,roles=admin"}'),
        ("text/plain", "bob,email=bob@corp.example,roles=admin"),
        (
            "application/json",
            '{"sub": "bob", "preferred_username": "bob", "email": "bob@corp.example", "roles": "admin"}',
        ),
    ],
    ids=["json-spec", "text-spec", "table"],
)
def test_users_are_added_from_a_spec_or_a_table(idp: MockIdP, content: str, body: str) -> None:
    response = api(idp).post("/users", content=body, headers={"content-type": content})

    assert response.status_code == 201
    assert response.json()["sub"] == "bob"
    assert response.json()["claims"]["email"] == "bob@corp.example"
    assert idp.users["bob"].claims["roles"] == "admin"
    assert [u["sub"] for u in api(idp).get("/users").json()["users"]] == ["alice", "bob"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"spec": "alice"}', "a user with sub 'alice' is already registered"),
        ('{"spec": ",x=1"}', "user ',x=1': a user needs a username first; write USERNAME[,claim=value...], e.g."
         " 'bob,email=bob@corp.example,roles=admin'"),
        ('{"email": "x@example.com"}', "a user needs a 'sub' claim; got the keys ['email']"),
        ('{"spec": 5}', 'send {"spec": "<one line of the spec grammar>"} alone, or a table of fields without "spec"'),
        ("[1]", "the body must be a JSON object, got a list"),
        ("{", "the body must be a JSON object (Content-Type: application/json); it is not JSON: Expecting property"
         " name enclosed in double quotes: line 1 column 2 (char 1)"),
    ],
)  # fmt: skip
def test_a_user_that_cannot_be_added_says_why(idp: MockIdP, body: str, message: str) -> None:
    response = api(idp).post("/users", content=body, headers={"content-type": "application/json"})

    assert error_of(response, 400) == message


def test_clients_are_added_from_a_spec_or_a_table(idp: MockIdP) -> None:
    spec = api(idp).post("/clients", json={"spec": "web:s3cret,redirect_uris=https://app.example/cb"})
    table = api(idp).post("/clients", json={"client_id": "spa", "redirect_uris": ["https://spa.example/cb"]})
    text = api(idp).post("/clients", content="cli", headers={"content-type": "text/plain; charset=utf-8"})

    assert spec.status_code == table.status_code == text.status_code == 201
    assert spec.json()["redirect_uris"] == ["https://app.example/cb"]
    assert table.json()["token_endpoint_auth_method"] == "none"
    assert sorted(idp.clients) == ["cli", "mockidp-client", "spa", "web"]
    assert len(api(idp).get("/clients").json()["clients"]) == 4


def test_a_bad_client_says_why(idp: MockIdP) -> None:
    response = api(idp).post("/clients", json={"client_id": "x", "colour": "red"})

    assert error_of(response, 400).startswith("unknown Client option 'colour'")


def test_login_as_a_known_user(idp: MockIdP) -> None:
    idp.add_user("bob")

    response = api(idp).post("/login-as", json={"user": "bob"})

    assert response.json()["queued"]["sub"] == "bob"
    assert id_token_of(idp, send(idp))["sub"] == "bob"
    assert id_token_of(idp, send(idp))["sub"] == "alice"


@pytest.mark.parametrize(
    "body",
    [
        {"user": "zoe", "claims": {"roles": ["admin"]}},
        {"user": {"sub": "zoe", "roles": ["admin"]}},
        {"spec": "zoe,roles=admin,roles=x"},
    ],
    ids=["claims", "table", "spec"],
)
def test_login_as_a_new_user_with_claims(idp: MockIdP, body: dict[str, Any]) -> None:
    assert api(idp).post("/login-as", json=body).status_code == 200

    claims = id_token_of(idp, send(idp))
    assert (claims["sub"], claims["roles"][0]) == ("zoe", "admin")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"user": "nobody"}, 404, "no user named 'nobody'; the nearest is 'alice' (known users: alice);"
             ' add it with POST /_mockidp/users, or send {"user": "nobody", "claims": {...}}'),
        ({"user": "alice", "claims": {"x": 1}}, 400, "user 'alice' already exists; log it in by name, without claims"),
        ({"spec": "alice"}, 409, "user 'alice' already exists; send {\"user\": name}"),
        ({"spec": "zoe", "user": "x"}, 400, 'send {"spec": "<one line of the user grammar>"} alone'),
        ({"user": "zoe", "claims": [1]}, 400, "claims must be a JSON object, got [1]"),
        ({"user": {"sub": "zoe"}, "claims": {}}, 400,
         'send the new user\'s claims in "user" alone, or a username with "claims"'),
        ({"user": 5}, 400, "user must be a username or a table of claims with a sub, got 5"),
        ({}, 400, 'send {"user": "<username>"}, {"user": {"sub": ...}}, {"claims": {...}} or {"spec": "..."}'),
        ({"usr": "x"}, 400, "unknown field 'usr' (did you mean 'user'?); choose one of user, claims, spec"),
    ],
)  # fmt: skip
def test_login_as_that_cannot_be_done_says_why(idp: MockIdP, body: dict[str, Any], status: int, message: str) -> None:
    assert error_of(api(idp).post("/login-as", json=body), status) == message
    assert idp.context.controls.take_queued_login() is None


def test_faults_fail_and_delay_and_are_cleared(idp: MockIdP) -> None:
    failed = api(idp).post("/faults", json={"endpoint": "token", "error": "temporarily_unavailable", "times": 2})
    slowed = api(idp).post("/faults", json={"endpoint": "userinfo", "delay": 0})

    assert failed.status_code == 201
    assert failed.json() == {"endpoint": "token", "error": "temporarily_unavailable", "status": 503, "delay": 0.0,
                             "times": 2}  # fmt: skip
    assert slowed.json()["error"] is None
    assert idp.faults.take("token") is not None
    assert api(idp).delete("/faults").json() == {"cleared": True}
    assert idp.faults.take("token") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, f"endpoint is required: one of {NAMES}"),
        ({"endpoint": "tokens"}, f"unknown endpoint 'tokens' (did you mean 'token'?); choose one of {NAMES}"),
        ({"endpoint": "token", "delay": 1, "error": "x"},
         "a fault either delays (delay) or fails (error, status, description), not both"),
        ({"endpoint": "token", "delay": "soon"}, "delay must be a number of seconds, got 'soon'"),
        ({"endpoint": "token", "times": 0}, "times must be a positive whole number, got 0"),
    ],
)  # fmt: skip
def test_a_fault_that_cannot_be_armed_says_why(idp: MockIdP, body: dict[str, Any], message: str) -> None:
    assert error_of(api(idp).post("/faults", json=body), 400) == message


def test_keys_rotate(idp: MockIdP) -> None:
    before = idp.keys.current.kid

    response = api(idp).post("/keys/rotate", json={"algorithm": "ES256"})

    kid = response.json()["kid"]
    assert kid != before
    assert idp.keys.current.kid == kid
    assert kid in [k["kid"] for k in response.json()["jwks"]["keys"]]
    assert api(idp).post("/keys/rotate").status_code == 200
    assert error_of(api(idp).post("/keys/rotate", json={"algorithm": 1}), 400) == "algorithm must be a string, got 1"


def test_the_clock_moves_and_tokens_follow(idp: MockIdP) -> None:
    start = api(idp).get("/clock").json()
    moved = api(idp).post("/clock", json={"advance": 7200}).json()

    assert start["offset"] == 0
    assert moved["offset"] == 7200
    assert 7200 <= moved["now"] - start["now"] < 7260
    assert id_token_of(idp, send(idp))["iat"] >= int(start["now"]) + 7200
    assert api(idp).post("/clock", json={"offset": -60}).json()["offset"] == -60


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'send {"advance": seconds} to move the clock on, or {"offset": seconds} to set its offset'),
        ({"advance": True}, "advance must be a number of seconds, got True"),
        ({"ofset": 1}, "unknown field 'ofset' (did you mean 'offset'?); choose one of advance, offset"),
    ],
)
def test_a_clock_move_that_cannot_be_done_says_why(idp: MockIdP, body: dict[str, Any], message: str) -> None:
    assert error_of(api(idp).post("/clock", json=body), 400) == message


def test_a_provider_on_the_system_clock_cannot_be_moved(key_pool: KeyPool) -> None:
    response = api(MockIdP(keys=key_pool)).get("/clock")

    assert error_of(response, 409) == (
        "this provider's clock cannot be moved: create it with MockIdP(clock=OffsetClock()), as mockidp serve does"
    )


def test_the_request_log_reads_as_json(idp: MockIdP) -> None:
    send(idp)
    log = api(idp).get("/requests").json()
    send(idp, prompt="none")
    later = api(idp).get("/requests", params={"since": log["total"]}).json()

    assert log["total"] == 1
    assert log["requests"][0]["endpoint"] == "authorize"
    assert log["requests"][0]["user"] == "alice"
    assert [r["params"].get("prompt") for r in later["requests"]] == ["none"]
    assert error_of(api(idp).get("/requests", params={"since": "x"}), 400) == (
        "since must be a whole number of requests (a total read before), got 'x'"
    )


def test_reset_goes_back_to_the_start(idp: MockIdP) -> None:
    browser = Browser(idp)
    idp.add_user("bob")
    api(idp).post("/clients", json={"spec": "web"})
    api(idp).post("/faults", json={"endpoint": "token"})
    api(idp).post("/login-as", json={"user": "bob"})
    api(idp).post("/clock", json={"advance": 60})
    assert "code" in callback_params(browser.authorize(_request(idp)))

    assert api(idp).post("/reset").json() == {"reset": True}

    assert (list(idp.users), list(idp.clients)) == (["alice"], ["mockidp-client"])
    assert idp.faults.take("token") is None
    assert idp.context.controls.take_queued_login() is None
    assert (idp.state.sessions, idp.state.codes, list(idp.requests)) == ({}, {}, [])
    assert api(idp).get("/clock").json()["offset"] == 0


def _request(idp: MockIdP) -> Any:
    from tests.flows import auth_request

    return auth_request(idp)


def test_unknown_paths_and_methods_say_what_there_is(idp: MockIdP) -> None:
    assert error_of(api(idp).get("/user"), 404).startswith("unknown control path '/user' (did you mean '/users'?)")
    assert error_of(api(idp).put("/users"), 405) == "PUT /users is not supported; use GET, POST"


def test_a_body_too_big_is_refused(idp: MockIdP) -> None:
    response = api(idp).post("/users", content="x" * 70000, headers={"content-type": "text/plain"})

    assert error_of(response, 413) == "the body has 70000 bytes; at most 65536 are read"


@pytest.mark.parametrize("client", [("10.1.2.3", 5000), ("::ffff:192.0.2.1", 5000), ("testclient", 5000)])
def test_only_loopback_clients_are_answered(idp: MockIdP, client: tuple[str, int]) -> None:
    response = api(idp, client).post("/login-as", json={"user": "alice"})

    assert error_of(response, 403) == (
        "the control API answers only clients on loopback; start mockidp serve with --control-remote to let others in"
    )
    assert idp.context.controls.take_queued_login() is None


@pytest.mark.parametrize("client", [("::1", 5000), ("::ffff:127.0.0.1", 5000)])
def test_ipv6_loopback_is_loopback(idp: MockIdP, client: tuple[str, int]) -> None:
    assert api(idp, client).get("/users").status_code == 200


def test_remote_clients_are_answered_when_allowed(idp: MockIdP) -> None:
    assert api(idp, ("10.1.2.3", 5000), remote=True).get("/users").status_code == 200


def test_the_api_sits_under_the_issuers_path(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(issuer="https://idp.example/realms/a"), keys=key_pool)
    client = TestClient(with_control(idp), base_url="https://idp.example", client=("127.0.0.1", 5000))

    assert client.get("/realms/a/_mockidp/users").status_code == 200
    assert client.get("/_mockidp/users").status_code == 404


# -- served ---------------------------------------------------------------------------------------


def test_serve_with_control_serves_the_api(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool, clock=OffsetClock())

    with idp.serve(control=True) as url, httpx2.Client(base_url=url + "/_mockidp") as client:
        added = client.post("/users", json={"spec": "zoe"})
        document = client.get("/openapi.json").json()

    assert added.status_code == 201
    assert "zoe" in idp.users
    assert document["servers"] == [{"url": url + "/_mockidp"}]


def test_serve_without_control_has_no_api(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)

    with idp.serve() as url:
        assert httpx2.get(url + "/_mockidp/users").status_code == 404
