"""A bounded provider state (``ProviderState.limit``, set by ``mockidp serve``): under sustained load
each table keeps at most its limit, the spent entries going first (used codes, revoked tokens), then
the oldest. A forgotten code or token is refused like an unknown one: ``invalid_grant`` at the token
endpoint (RFC 6749 §5.2), ``invalid_token`` at userinfo (RFC 6750 §3.1); a code replay still revokes
its grant (RFC 6749 §4.1.2) while the code is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
import pytest

from mockidp import ConfigError, KeyPool, MockIdP, ProviderConfig
from mockidp._cli import build_parser, config_values, provider
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params, client_auth, token_request


@dataclass
class Flow:
    """What one whole login left with the relying party: its code, its tokens and the browser's session."""

    code: str
    verifier: str
    access_token: str
    refresh_token: str
    session: str
    browser: Browser


def start(idp: MockIdP) -> tuple[str, str, Browser]:
    """The first half of a login in a fresh browser: an authorization code, not redeemed yet."""
    request = auth_request(idp)
    browser = Browser(idp)
    code = callback_params(browser.authorize(request))["code"]
    return code, request.verifier or "", browser


def redeem(idp: MockIdP, code: str, verifier: str) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    return token_request(idp, data, auth=client_auth(idp))


def whole_flow(idp: MockIdP) -> Flow:
    code, verifier, browser = start(idp)
    answer = redeem(idp, code, verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    session = browser.client.cookies["mockidp_session"]
    return Flow(code, verifier, tokens["access_token"], tokens["refresh_token"], session, browser)


def refresh(idp: MockIdP, refresh_token: str) -> httpx2.Response:
    return token_request(idp, {"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=client_auth(idp))


def userinfo(idp: MockIdP, access_token: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {access_token}"})


def error(response: httpx2.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    return f"{body['error']}: {body['error_description']}"


def sizes(idp: MockIdP) -> tuple[int, int, int, int]:
    state = idp.state
    return len(state.codes), len(state.access_tokens), len(state.refresh_tokens), len(state.sessions)


@pytest.fixture
def bounded(key_pool: KeyPool) -> MockIdP:
    idp = MockIdP(keys=key_pool)
    idp.state.limit = 3
    return idp


def test_after_many_whole_flows_each_table_holds_at_most_its_limit(bounded: MockIdP) -> None:
    flows = [whole_flow(bounded) for _ in range(10)]

    assert sizes(bounded) == (3, 3, 3, 3)
    # The newest are the ones kept.
    assert list(bounded.state.codes) == [flow.code for flow in flows[-3:]]
    assert list(bounded.state.sessions) == [flow.session for flow in flows[-3:]]


def test_a_provider_without_a_limit_keeps_every_flow_until_it_expires(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    for _ in range(5):
        whole_flow(idp)

    assert idp.state.limit is None
    assert sizes(idp) == (5, 5, 5, 5)


def test_the_latest_flows_tokens_keep_working(bounded: MockIdP) -> None:
    flows = [whole_flow(bounded) for _ in range(6)]
    latest = flows[-1]

    assert userinfo(bounded, latest.access_token).json()["sub"] == "alice"
    assert refresh(bounded, latest.refresh_token).status_code == 200


def test_a_forgotten_access_token_is_refused_as_invalid_token(bounded: MockIdP) -> None:
    first = whole_flow(bounded)
    for _ in range(3):
        whole_flow(bounded)

    answer = userinfo(bounded, first.access_token)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer realm="mockidp", error="invalid_token"')
    assert error(answer, 401) == "invalid_token: the access token was not issued by this provider instance"


def test_a_forgotten_refresh_token_or_code_is_refused_as_invalid_grant(bounded: MockIdP) -> None:
    first = whole_flow(bounded)
    for _ in range(3):
        whole_flow(bounded)

    refused = error(refresh(bounded, first.refresh_token))
    assert refused == "invalid_grant: the refresh token is not known to this provider"
    assert (
        error(redeem(bounded, first.code, first.verifier))
        == "invalid_grant: the authorization code is not known to this provider"
    )


def test_a_replayed_code_still_kept_revokes_its_tokens(bounded: MockIdP) -> None:
    for _ in range(4):
        whole_flow(bounded)
    latest = whole_flow(bounded)

    assert error(redeem(bounded, latest.code, latest.verifier)) == (
        "invalid_grant: the authorization code was already used; the tokens it issued are now revoked"
        " (RFC 6749 section 4.1.2)"
    )
    assert error(userinfo(bounded, latest.access_token), 401) == "invalid_token: the access token was revoked"
    assert error(refresh(bounded, latest.refresh_token)) == (
        "invalid_grant: the refresh token was revoked or already used; refresh tokens rotate (RFC 9700 section 4.14.2)"
    )


def test_used_codes_go_before_a_login_still_in_progress(bounded: MockIdP) -> None:
    pending, verifier, _ = start(bounded)
    for _ in range(5):
        whole_flow(bounded)

    assert len(bounded.state.codes) == 3
    assert redeem(bounded, pending, verifier).status_code == 200


def test_rotated_refresh_tokens_go_before_a_live_one(bounded: MockIdP) -> None:
    idle = whole_flow(bounded).refresh_token
    busy = whole_flow(bounded).refresh_token
    for _ in range(5):  # each rotation leaves a revoked refresh token behind, newer than the idle one
        answer = refresh(bounded, busy)
        assert answer.status_code == 200, answer.text
        busy = answer.json()["refresh_token"]

    assert len(bounded.state.refresh_tokens) == 3
    assert refresh(bounded, idle).status_code == 200
    assert refresh(bounded, busy).status_code == 200


def test_a_forgotten_session_means_a_new_login(bounded: MockIdP) -> None:
    first = whole_flow(bounded)
    for _ in range(3):
        whole_flow(bounded)

    answer = first.browser.authorize(auth_request(bounded, True, prompt="none"))

    assert callback_params(answer)["error"] == "login_required"


def test_a_limit_set_on_a_full_state_trims_it_at_once(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    flows = [whole_flow(idp) for _ in range(5)]

    idp.state.limit = 2

    assert sizes(idp) == (2, 2, 2, 2)
    assert userinfo(idp, flows[-1].access_token).status_code == 200
    idp.state.limit = None
    whole_flow(idp)
    assert sizes(idp) == (3, 3, 3, 3)


def test_a_large_limit_makes_room_for_a_sixteenth_of_it_at_once(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    idp.state.limit = 32
    for _ in range(33):
        idp.issue_tokens(refresh_token=False)

    assert len(idp.state.access_tokens) == 30  # 33 made room down to 32 - 32 // 16


@pytest.mark.parametrize("limit", [0, -1, 2.5, True, "10"])
def test_a_limit_must_be_a_positive_whole_number(provider: MockIdP, limit: object) -> None:
    with pytest.raises(ValueError, match=r"^limit must be") as caught:
        provider.state.limit = limit  # type: ignore[assignment]

    assert str(caught.value) == f"limit must be None or a whole number of at least 1, got {limit!r}"
    assert provider.state.limit is None


def test_mockidp_serve_bounds_its_log_and_its_state() -> None:
    idp = provider(config_values(build_parser().parse_args(["serve"])))

    assert (idp.requests.limit, idp.state.limit) == (1000, 1000)
    assert idp.state.codes.limit == idp.state.sessions.limit == 1000


def test_the_limits_are_provider_options() -> None:
    idp = provider(
        config_values(build_parser().parse_args(["serve", "--state-limit", "50", "--request-log-limit", "7"]))
    )

    assert (idp.requests.limit, idp.state.limit, idp.state.refresh_tokens.limit) == (7, 50, 50)
    assert MockIdP(ProviderConfig(state_limit=3)).state.access_tokens.limit == 3


@pytest.mark.parametrize("name", ["state_limit", "request_log_limit"])
@pytest.mark.parametrize("value", [0, True, 2.5])
def test_a_limit_option_must_be_a_positive_whole_number(name: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        ProviderConfig.from_dict({name: value})
    assert str(caught.value) == f"ProviderConfig.{name} must be a whole number of at least 1 (or None), got {value!r}"
