"""msal against the HTTPS sign-in listener (msal blocks, so it runs in a thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
import ssl
from typing import Any

import aiohttp
import msal
import pytest
import requests
from yarl import URL

from graph_emulator import GraphEmulator

from .conftest import GraphClient

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "s3cret-value"
SCOPES = ["Presence.ReadWrite", "User.Read"]


@pytest.fixture
def http_client(emulator: GraphEmulator) -> Iterator[requests.Session]:
    """A requests session trusting the emulator's CA, whatever the environment says."""
    session = requests.Session()
    session.trust_env = False
    session.verify = emulator.ca_path
    yield session
    session.close()


def token_requests(emulator: GraphEmulator, grant_type: str) -> list[Any]:
    return [
        entry
        for entry in emulator.requests
        if entry.path.endswith("/oauth2/v2.0/token")
        and entry.body.get("grant_type") == grant_type
    ]


async def test_device_flow_then_silent_refresh(
    emulator: GraphEmulator, http_client: requests.Session, graph: GraphClient
) -> None:
    emulator.auto_approve_device_codes = emulator.default_user
    # msal refreshes tokens with under five minutes left, by the real clock.
    emulator.token_lifetime = timedelta(seconds=120)
    authority = f"{emulator.login_url}/{emulator.default_tenant_id}"

    def sign_in() -> tuple[msal.PublicClientApplication, dict[str, Any]]:
        app = msal.PublicClientApplication(
            CLIENT_ID,
            authority=authority,
            instance_discovery=False,
            http_client=http_client,
        )
        flow = app.initiate_device_flow(scopes=SCOPES)
        assert flow["verification_uri"] == f"{emulator.login_url}/devicelogin"
        return app, app.acquire_token_by_device_flow(flow)

    app, result = await asyncio.to_thread(sign_in)
    assert "access_token" in result, result
    assert result["id_token_claims"]["oid"] == emulator.default_user.id
    [account] = app.get_accounts()
    assert account["username"] == "adelev@contoso.example"
    assert all(entry.server == "login" for entry in emulator.requests)

    refreshed = await asyncio.to_thread(
        app.acquire_token_silent, SCOPES, account=account
    )
    assert refreshed is not None
    assert refreshed["access_token"] != result["access_token"]
    [refresh] = token_requests(emulator, "refresh_token")
    assert refresh.status == 200
    graph.token = refreshed["access_token"]
    assert (await graph.get("/me/presence")).status == 200

    emulator.revoke_refresh_tokens()
    failed = await asyncio.to_thread(
        app.acquire_token_silent_with_error, SCOPES, account=account
    )
    assert failed is not None
    assert failed["error"] == "invalid_grant"
    assert failed["error_codes"] == [50173]


# The query response mode is what Home Assistant's OAuth2 helper uses too.
@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")
async def test_authorization_code_flow(
    emulator: GraphEmulator, http_client: requests.Session
) -> None:
    authority = f"{emulator.login_url}/organizations"
    redirect_uri = "http://127.0.0.1:9/auth/external/callback"

    def start() -> tuple[msal.PublicClientApplication, dict[str, Any]]:
        app = msal.PublicClientApplication(
            CLIENT_ID,
            authority=authority,
            instance_discovery=False,
            http_client=http_client,
        )
        return app, app.initiate_auth_code_flow(SCOPES, redirect_uri=redirect_uri)

    app, flow = await asyncio.to_thread(start)
    context = ssl.create_default_context(cafile=emulator.ca_path)
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(flow["auth_uri"], ssl=context, allow_redirects=False) as response,
    ):
        assert response.status == 302
        location = URL(response.headers["Location"])
    assert str(location.with_query(None)) == redirect_uri
    result = await asyncio.to_thread(
        app.acquire_token_by_auth_code_flow, flow, dict(location.query)
    )
    assert "access_token" in result, result
    # msal checks that the id_token echoes the nonce it sent.
    assert result["id_token_claims"]["nonce"]
    [redeem] = token_requests(emulator, "authorization_code")
    assert redeem.body["redirect_uri"] == redirect_uri


async def test_client_credentials(
    emulator: GraphEmulator, http_client: requests.Session, graph: GraphClient
) -> None:
    authority = f"{emulator.login_url}/contoso.example"

    def acquire() -> dict[str, Any]:
        app = msal.ConfidentialClientApplication(
            CLIENT_ID,
            client_credential=SECRET,
            authority=authority,
            instance_discovery=False,
            http_client=http_client,
        )
        result: dict[str, Any] = app.acquire_token_for_client(
            scopes=["https://graph.microsoft.com/.default"]
        )
        return result

    result = await asyncio.to_thread(acquire)
    assert "access_token" in result, result
    graph.token = result["access_token"]
    answer = await graph.get(f"/users/{emulator.default_user.id}/presence")
    assert answer.status == 200
    [entry] = token_requests(emulator, "client_credentials")
    assert entry.server == "login"
