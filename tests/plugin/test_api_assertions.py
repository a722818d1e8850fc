"""idp.assert_api and idp.explain as users see them: a bearer API's accept/refuse matrix (RFC 6750 §3.1,
RFC 9068 §4) over the forged kinds, and why one token was refused, in one call each.
"""

from __future__ import annotations

from typing import Any

import freezegun
import httpx2
import pytest

from mockidp import Client, MockIdP

CLAIMS = (
    "claims: iss='https://idp.mockidp.test', sub='alice', aud='{aud}', scope='openid profile email',"
    " client_id='mockidp-client', {times}"
)
OTHERS = (
    "other claims: auth_time, email, email_verified, family_name, given_name, jti, locale, name, preferred_username"
)
NOW = "exp=in 3600 s, nbf=now, iat=now"


def _run(with_apps: pytest.Pytester, body: str, *, factory: str = '"notes_app:create_app"') -> pytest.RunResult:
    with_apps.makepyfile(
        f"""
        import pytest
        from freezegun import freeze_time

        @pytest.mark.app_factory({factory})
        def test_it(idp, app_client):
            with freeze_time():  # the claims' times, relative to now, are then exact
                {body}
        """
    )
    return with_apps.runpytest()


def _fails_with(result: pytest.RunResult, *lines: str) -> None:
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E *{line.replace('[', '[[]')}" for line in lines], consecutive=True)


def test_an_api_that_checks_every_token_passes_for_every_kind(with_apps: pytest.Pytester) -> None:
    result = _run(with_apps, 'idp.assert_api(app_client, "/api/notes")')

    result.assert_outcomes(passed=1)


def test_an_async_api_check(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("notes_app:create_app")
        @pytest.mark.asyncio
        async def test_it(idp, async_app_client):
            await idp.aassert_api(async_app_client, "/api/notes", refuses=["expired", "alg_none"])
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_a_sloppy_api_lists_what_each_kind_expected_and_got(with_apps: pytest.Pytester) -> None:
    body = 'idp.assert_api(app_client, "/me", refuses=["expired", "wrong_audience", "alg_none"])'

    result = _run(with_apps, body, factory='"api_app:create_app", verify=False')

    body_text = 'no WWW-Authenticate header; body: {"sub":"alice","scope":"openid profile email"}'
    _fails_with(
        result,
        "AssertionError: mockidp: the API GET /me answered 3 of 4 bearer tokens wrongly",
        "  valid           accepted (2xx): got 200",
        "  expired         expected refused (401), got 200; the token: expired an hour ago",
        f"    {body_text}",
        "    header: alg=RS256, kid=*, typ=at+jwt",
        "    " + CLAIMS.format(aud="mockidp-client", times="exp=3600 s ago, nbf=7200 s ago, iat=7200 s ago"),
        f"    {OTHERS}",
        "  wrong_audience  expected refused (401), got 200; the token: meant for another audience",
        f"    {body_text}",
        "    header: alg=RS256, kid=*, typ=at+jwt",
        "    " + CLAIMS.format(aud="another-client", times=NOW),
        f"    {OTHERS}",
        "  alg_none        expected refused (401), got 200; the token: unsigned (alg: none)",
        f"    {body_text}",
        "    header: alg=none, typ=at+jwt",
        "    " + CLAIMS.format(aud="mockidp-client", times=NOW),
        f"    {OTHERS}",
        "see: python -m mockidp docs api-tokens",
    )


def test_a_refused_valid_token_shows_the_challenge_and_the_audience_asked(with_apps: pytest.Pytester) -> None:
    body = 'idp.assert_api(app_client, "/api/notes", refuses=["expired"], audience="https://notes.example/api")'

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: the API GET /api/notes answered 1 of 2 bearer tokens wrongly",
        "  valid    expected accepted (2xx), got 401; the token: valid for the user and audience asked",
        '    WWW-Authenticate: Bearer error="invalid_token",'
        """ error_description="invalid_claim: Invalid claim: 'aud'\"""",
        "    header: alg=RS256, kid=*, typ=at+jwt",
        "    " + CLAIMS.format(aud="https://notes.example/api", times=NOW),
        f"    {OTHERS}",
        "    - signature: verifies with the provider's JWKS (RS256, kid *)",
        "    - aud: 'https://notes.example/api' (as asked); if the API expects another audience, mint with"
        " audience='...' or set @pytest.mark.mockidp(access_token_audience='...')",
        "  expired  refused (401): got 401",
        "see: python -m mockidp docs api-tokens",
    )


def test_explain_says_why_a_token_was_refused(with_apps: pytest.Pytester) -> None:
    body = """token = idp.forge("expired")
                response = app_client.get("/api/notes", headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, idp.explain(response)"""

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: GET http://testserver/api/notes answered 401",
        '    WWW-Authenticate: Bearer error="invalid_token", error_description="expired_token: The token is expired"',
        "    the bearer token sent:",
        "      header: alg=RS256, kid=*, typ=at+jwt",
        "      " + CLAIMS.format(aud="mockidp-client", times="exp=3600 s ago, nbf=7200 s ago, iat=7200 s ago"),
        f"      {OTHERS}",
        "    against the checks an API makes:",
        "      - signature: verifies with the provider's JWKS (RS256, kid *)",
        "      - aud: 'mockidp-client' (the client id, as no audience was asked and"
        " ProviderConfig.access_token_audience is not set); if the API expects another audience, mint with"
        " audience='...' or set @pytest.mark.mockidp(access_token_audience='...')",
        "      - exp: expired 3600 s ago, by the provider's clock (is time frozen or moved?)",
        "  see: python -m mockidp docs api-tokens",
    )


@pytest.mark.parametrize(
    ("headers", "lines"),
    [
        ("{}", ["  the request carried no bearer token (Authorization: Bearer ...)"]),
        (
            '{"Authorization": "Bearer not-a-jwt"}',
            [
                "  the bearer token sent:",
                "    token: not a JWT (three base64url segments of JSON)",
                "  against the checks an API makes:",
                "    - signature: does not verify with the provider's JWKS (*",
                "    - iss: None is not this provider's issuer 'https://idp.mockidp.test'",
            ],
        ),
    ],
    ids=["no-token", "not-a-jwt"],
)
def test_explain_without_a_usable_token(with_apps: pytest.Pytester, headers: str, lines: list[str]) -> None:
    body = f"""response = app_client.get("/api/notes", headers={headers})
                assert response.status_code == 200, idp.explain(response)"""

    result = _run(with_apps, body)

    _fails_with(result, "AssertionError: mockidp: GET http://testserver/api/notes answered 401", "*", *lines)


def test_an_unknown_kind_names_the_nearest(with_apps: pytest.Pytester) -> None:
    result = _run(with_apps, 'idp.assert_api(app_client, "/api/notes", refuses=["expird"])')

    _fails_with(
        result,
        "mockidp.ConfigError: assert_api(refuses=...): unknown kind 'expird' (did you mean 'expired'?); choose one of"
        " expired, not_yet_valid, wrong_issuer, wrong_audience, bad_signature, alg_none, unknown_kid,"
        " hs256_public_key, missing_sub, missing_exp",
        "see: python -m mockidp docs api-tokens",
    )


# -- the diagnosis itself, on responses built by hand ------------------------------------------------


def _response(status: int, token: str | None = None, **headers: str) -> httpx2.Response:
    request = httpx2.Request(
        "GET", "http://api.test/notes", headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    return httpx2.Response(status, headers=headers, request=request)


def test_explain_a_response_built_without_a_request(provider: MockIdP) -> None:
    text = provider.explain(httpx2.Response(401, text='{"error":"invalid_token"}'))

    assert text.splitlines()[1:3] == [
        '  no WWW-Authenticate header; body: {"error":"invalid_token"}',
        "  the request carried no bearer token (Authorization: Bearer ...)",
    ]


def test_explain_names_a_missing_claim_and_a_token_not_yet_valid(provider: MockIdP) -> None:
    with freezegun.freeze_time():
        missing = provider.explain(_response(401, provider.forge("missing_sub")))
        early = provider.explain(_response(401, provider.forge("not_yet_valid")))

    assert "sub=(missing)" in missing.splitlines()[4]
    assert early.splitlines()[-2] == "    - nbf: not valid for another 3600 s"
    assert _response(401).headers.get("www-authenticate") is None


def test_explain_a_token_whose_segments_are_not_json(provider: MockIdP) -> None:
    lines = provider.explain(_response(401, "e30.bm90IGpzb24.c2ln", **{"WWW-Authenticate": "Bearer"})).splitlines()

    assert lines[1:4] == [
        "  WWW-Authenticate: Bearer",
        "  the bearer token sent:",
        "    token: not a JWT (three base64url segments of JSON)",
    ]


def test_explain_with_the_audience_and_client_a_token_was_minted_for(provider: MockIdP) -> None:
    spa = provider.add_client(Client(client_id="spa"))
    token = provider.issue_tokens(client=spa, audience=["https://a.example", "https://b.example"]).access_token

    text = provider.explain(_response(401, token), audience=["https://a.example"], client="spa")

    assert "    - aud: ['https://a.example', 'https://b.example'], not the ['https://a.example'] asked" in text


@pytest.mark.asyncio
async def test_aassert_api_fails_like_assert_api(provider: MockIdP) -> None:
    async def api(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=api), base_url="http://api.test") as client:
        with pytest.raises(AssertionError) as caught:
            await provider.aassert_api(client, "/notes", refuses=["alg_none"], client=provider.client)

    assert str(caught.value).splitlines()[:3] == [
        "mockidp: the API GET /notes answered 1 of 2 bearer tokens wrongly",
        "  valid     accepted (2xx): got 200",
        "  alg_none  expected refused (401), got 200; the token: unsigned (alg: none)",
    ]
