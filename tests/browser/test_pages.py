"""The login page and the debugger in a real browser: a person logs in to the seed's app (examples/oidc_login)
with the mouse and with the keyboard alone, as an ad-hoc user with claims, denies, and runs the debugger."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from mockidp import KeyPool
from tests.browser.conftest import provider, seed_app


def test_a_person_logs_in_with_one_click_and_lands_back_on_the_page(page: Page, key_pool: KeyPool) -> None:
    idp = provider(key_pool)
    with idp.serve(), seed_app(idp) as app:
        page.goto(f"{app}/other")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(page.locator("#mockidp-ask")).to_have_text("mockidp-client asks to know:")
        page.get_by_role("button", name=re.compile("Alice Example")).click()

        page.wait_for_url(f"{app}/other")
        assert json.loads(page.locator("body").inner_text()) == {"email": "alice@example.com"}
    assert idp.requests.filter(endpoint="authorize")[-1].user == "alice"
    assert idp.requests.filter(endpoint="token")[-1].status == 200


def test_an_adhoc_user_with_custom_claims(page: Page, key_pool: KeyPool) -> None:
    idp = provider(key_pool, adhoc_users=True)
    with idp.serve(), seed_app(idp) as app:
        page.goto(f"{app}/other")
        page.get_by_label("Username").fill("zoe")
        page.get_by_label("Extra claims (optional)").fill('{"email": "zoe@corp.example", "roles": ["admin"]}')
        page.get_by_role("button", name="Log in and allow").click()

        page.wait_for_url(f"{app}/other")
        assert json.loads(page.locator("body").inner_text()) == {"email": "zoe@corp.example"}
    assert idp.users["zoe"].claims["roles"] == ["admin"]


def test_bad_claims_are_announced_and_nothing_is_sent(page: Page, key_pool: KeyPool) -> None:
    idp = provider(key_pool, adhoc_users=True)
    with idp.serve(), seed_app(idp) as app:
        page.goto(f"{app}/other")
        page.get_by_label("Username").fill("zoe")
        page.get_by_label("Extra claims (optional)").fill('{"aud": "someone-else"}')
        page.get_by_role("button", name="Log in and allow").click()

        expect(page.get_by_role("alert")).to_have_text("Claims may not set aud: mockidp sets them itself.")
        expect(page.get_by_label("Username")).to_be_focused()
    assert "zoe" not in idp.users


def test_deny_sends_the_person_back_refused(page: Page, key_pool: KeyPool) -> None:
    idp = provider(key_pool)
    with idp.serve(), seed_app(idp) as app:
        page.goto(f"{app}/other")
        page.get_by_role("button", name="Deny").click()

        expect(page.locator("body")).to_contain_text("access_denied")
        assert page.url.startswith(f"{app}/auth/callback?error=access_denied")
    assert [r.method for r in idp.requests.filter(endpoint="authorize", error="access_denied")] == ["POST"]


def test_keyboard_only_login(page: Page, key_pool: KeyPool) -> None:
    idp = provider(key_pool)
    idp.add_user("bob")
    with idp.serve(), seed_app(idp) as app:
        page.goto(f"{app}/other")
        order = []
        for _ in range(6):  # Tab walks the users, then the username box
            page.keyboard.press("Tab")
            order.append(page.evaluate("document.activeElement.id || document.activeElement.value"))
            if order[-1] == "mockidp-username":
                break
        assert order == ["alice", "bob", "mockidp-username"]
        page.keyboard.type("bob")
        page.keyboard.press("Enter")  # submits with the form's first button: Log in and allow

        page.wait_for_url(f"{app}/other")
        assert json.loads(page.locator("body").inner_text()) == {"email": "bob@example.com"}


def test_the_debugger_runs_the_whole_flow_and_refreshes(page: Page, key_pool: KeyPool) -> None:
    idp = provider(key_pool, debugger=True)
    with idp.serve() as url:
        page.goto(f"{url}/debugger")
        page.get_by_label("Response mode").select_option("fragment")  # the page's script reads the fragment
        page.get_by_role("button", name="Run the flow").click()
        page.get_by_role("button", name=re.compile("Alice Example")).click()

        expect(page.get_by_role("heading", name="ID token")).to_be_visible()
        expect(page.get_by_role("heading", name="Userinfo")).to_be_visible()
        expect(page.locator("body")).to_contain_text("valid against this provider's JWKS")
        expect(page.locator("body")).to_contain_text('"active": true')
        page.get_by_role("button", name="Refresh the tokens").click()

        expect(page.get_by_role("heading", name="Refreshed")).to_be_visible()
    assert idp.requests.filter(endpoint="token")[-1].grant_type == "refresh_token"
