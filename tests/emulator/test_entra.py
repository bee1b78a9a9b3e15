"""Entra ID routes over HTTP: discovery, authorize, device code, token."""

from __future__ import annotations

import base64
from datetime import timedelta
import json
import ssl
from typing import Any

import aiohttp
import pytest
from yarl import URL

from graph_emulator import GraphEmulator

from .conftest import Answer, FakeClock, GraphClient

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "s3cret-value"
REDIRECT = "https://my.home-assistant.io/redirect/oauth"
SCOPE = "https://graph.microsoft.com/Presence.ReadWrite User.Read offline_access openid profile"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


async def post_form(
    session: aiohttp.ClientSession, path: str, form: dict[str, str]
) -> Answer:
    async with session.post(path, data=form) as response:
        return Answer(response.status, await response.json(), response.headers)


async def token(
    session: aiohttp.ClientSession, form: dict[str, str], tenant: str = "organizations"
) -> Answer:
    return await post_form(
        session, f"/{tenant}/oauth2/v2.0/token", {"client_id": CLIENT_ID, **form}
    )


async def authorize(
    session: aiohttp.ClientSession, **params: str
) -> tuple[int, dict[str, str]]:
    """Request authorization and return the status and the redirect's query."""
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": "xyz",
        **params,
    }
    async with session.get(
        "/organizations/oauth2/v2.0/authorize", params=query, allow_redirects=False
    ) as response:
        if response.status != 302:
            return response.status, {"page": await response.text()}
        location = URL(response.headers["Location"])
        assert str(location.with_query(None)) == REDIRECT
        return response.status, dict(location.query)


async def sign_in(session: aiohttp.ClientSession, **params: str) -> Answer:
    """Sign in with the authorization code flow and redeem the code."""
    status, query = await authorize(session, **params)
    assert status == 302, query
    return await token(
        session,
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT,
            "client_secret": SECRET,
        },
    )


async def start_device_code(
    session: aiohttp.ClientSession, client_id: str = CLIENT_ID
) -> Answer:
    return await post_form(
        session,
        "/organizations/oauth2/v2.0/devicecode",
        {"client_id": client_id, "scope": SCOPE},
    )


async def poll(
    session: aiohttp.ClientSession, device_code: str, client_id: str = CLIENT_ID
) -> Answer:
    return await token(
        session,
        {
            "grant_type": DEVICE_GRANT,
            "device_code": device_code,
            "client_id": client_id,
        },
    )


def assert_entra_error(answer: Answer, status: int, error: str, code: int) -> None:
    assert answer.status == status, answer.body
    assert answer.body["error"] == error
    assert answer.body["error_codes"] == [code]
    assert answer.body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= answer.body.keys()


# Discovery


@pytest.mark.parametrize(
    ("tenant", "issuer_tenant"),
    [
        (
            "aaaabbbb-0000-cccc-1111-dddd2222eeee",
            "aaaabbbb-0000-cccc-1111-dddd2222eeee",
        ),
        ("contoso.example", "aaaabbbb-0000-cccc-1111-dddd2222eeee"),
        ("organizations", "{tenantid}"),
        ("common", "{tenantid}"),
    ],
)
async def test_discovery_on_the_graph_listener(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    tenant: str,
    issuer_tenant: str,
) -> None:
    async with session.get(
        f"/{tenant}/v2.0/.well-known/openid-configuration"
    ) as response:
        assert response.status == 200
        document = await response.json()
    base = emulator.graph_url
    assert document["issuer"] == f"{base}/{issuer_tenant}/v2.0"
    # A tenant named by a domain answers with its id; aliases stay as they are.
    path = tenant if issuer_tenant == "{tenantid}" else issuer_tenant
    assert document["authorization_endpoint"] == f"{base}/{path}/oauth2/v2.0/authorize"
    assert document["token_endpoint"] == f"{base}/{path}/oauth2/v2.0/token"
    assert (
        document["device_authorization_endpoint"]
        == f"{base}/{path}/oauth2/v2.0/devicecode"
    )
    assert document["end_session_endpoint"] == f"{base}/{path}/oauth2/v2.0/logout"
    async with session.get(URL(document["jwks_uri"]).path) as response:
        # The key of rich notifications' validation tokens; id_tokens are unsigned.
        assert await response.json() == emulator.signing_key.jwks()


async def test_discovery_on_the_login_listener(emulator: GraphEmulator) -> None:
    context = ssl.create_default_context(cafile=emulator.ca_path)
    url = f"{emulator.login_url}/organizations/v2.0/.well-known/openid-configuration"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, ssl=context) as response,
    ):
        document = await response.json()
    assert document["token_endpoint"] == (
        f"{emulator.login_url}/organizations/oauth2/v2.0/token"
    )
    assert emulator.requests[-1].server == "login"


async def test_consumers_tenant_is_refused(session: aiohttp.ClientSession) -> None:
    async with session.get(
        "/consumers/v2.0/.well-known/openid-configuration"
    ) as response:
        answer = Answer(response.status, await response.json(), response.headers)
    assert_entra_error(answer, 400, "unauthorized_client", 9002331)
    assert (
        "personal Microsoft accounts are not supported"
        in answer.body["error_description"]
    )
    answer = await token(
        session, {"grant_type": "client_credentials"}, tenant="consumers"
    )
    assert_entra_error(answer, 400, "unauthorized_client", 9002331)


async def test_unknown_tenant(session: aiohttp.ClientSession) -> None:
    async with session.get(
        "/fabrikam.example/v2.0/.well-known/openid-configuration"
    ) as response:
        answer = Answer(response.status, await response.json(), response.headers)
    assert_entra_error(answer, 400, "invalid_tenant", 90002)


async def test_logout(session: aiohttp.ClientSession) -> None:
    async with session.get(
        "/organizations/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": "https://example.test/bye"},
        allow_redirects=False,
    ) as response:
        assert (response.status, response.headers["Location"]) == (
            302,
            "https://example.test/bye",
        )
    async with session.get("/organizations/oauth2/v2.0/logout") as response:
        assert response.status == 200


# Authorization code


async def test_authorization_code_flow(
    session: aiohttp.ClientSession, emulator: GraphEmulator, clock: FakeClock
) -> None:
    answer = await sign_in(session, nonce="n-0S6")
    assert answer.status == 200
    body = answer.body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 3600
    assert set(body["scope"].split()) == {
        "Presence.ReadWrite",
        "User.Read",
        "openid",
        "profile",
    }
    user = emulator.default_user
    assert json.loads(base64.urlsafe_b64decode(body["client_info"] + "==")) == {
        "uid": user.id,
        "utid": emulator.default_tenant_id,
    }
    id_claims = claims(body["id_token"])
    assert id_claims["aud"] == CLIENT_ID
    assert id_claims["iss"] == f"{emulator.graph_url}/{emulator.default_tenant_id}/v2.0"
    assert (id_claims["oid"], id_claims["tid"]) == (user.id, emulator.default_tenant_id)
    assert (id_claims["preferred_username"], id_claims["name"]) == (
        user.upn,
        "Adele Vance",
    )
    assert id_claims["nonce"] == "n-0S6"
    assert id_claims["iat"] == int(clock.now.timestamp())
    assert id_claims["exp"] == id_claims["iat"] + 3600
    graph = GraphClient(session, body["access_token"])
    assert (await graph.get("/me")).body["id"] == user.id
    token_request = emulator.requests[-2]
    assert token_request.body["grant_type"] == "authorization_code"
    assert token_request.body["client_secret"] == SECRET


async def test_authorization_code_is_one_time(session: aiohttp.ClientSession) -> None:
    _, query = await authorize(session)
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT,
    }
    assert (await token(session, form)).status == 200
    assert_entra_error(await token(session, form), 400, "invalid_grant", 54005)


async def test_authorization_code_checks(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    _, query = await authorize(session)
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT,
    }
    answer = await token(session, {**form, "redirect_uri": "https://elsewhere.test/cb"})
    assert_entra_error(answer, 400, "invalid_grant", 50011)
    answer = await token(session, {**form, "code": "made-up"})
    assert_entra_error(answer, 400, "invalid_grant", 9002313)
    clock.advance(minutes=10)
    assert_entra_error(await token(session, form), 400, "invalid_grant", 70008)


async def test_authorize_state_is_optional(session: aiohttp.ClientSession) -> None:
    async with session.get(
        "/organizations/oauth2/v2.0/authorize",
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": f"{REDIRECT}?x=1",
            "response_type": "code",
            "scope": "User.Read",
        },
        allow_redirects=False,
    ) as response:
        query = URL(response.headers["Location"]).query
    assert set(query) == {"x", "code"}


async def test_authorize_unknown_client_shows_an_error_page(
    session: aiohttp.ClientSession,
) -> None:
    status, query = await authorize(session, client_id="no-such-app")
    assert status == 400
    assert "AADSTS700016" in query["page"]


async def test_authorize_without_redirect_uri(session: aiohttp.ClientSession) -> None:
    status, query = await authorize(session, redirect_uri="")
    assert status == 400
    assert "AADSTS900144" in query["page"]


async def test_authorize_without_consent(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.default_app.consented_scopes = {"User.Read"}
    status, query = await authorize(session)
    assert status == 302
    assert query["error"] == "consent_required"
    assert query["error_description"].startswith("AADSTS65001")
    assert query["state"] == "xyz"
    assert "code" not in query


async def test_authorize_personal_account(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.authorize_as = emulator.add_user(
        display_name="Pat", upn="pat@outlook.com", personal=True
    )
    _, query = await authorize(session)
    assert query["error"] == "access_denied"
    assert query["error_description"].startswith("AADSTS50020")


async def test_authorize_as_another_user(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    colleague = emulator.add_user(
        display_name="Alex Wilber", upn="alexw@contoso.example"
    )
    emulator.authorize_as = colleague
    answer = await sign_in(session)
    assert claims(answer.body["id_token"])["oid"] == colleague.id


async def test_authorize_other_response_type(session: aiohttp.ClientSession) -> None:
    _, query = await authorize(session, response_type="token")
    assert query["error"] == "unsupported_response_type"


async def test_confidential_app_needs_its_secret(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.default_app.public_client_flows = False
    _, query = await authorize(session)
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT,
    }
    assert_entra_error(await token(session, form), 400, "invalid_client", 7000218)
    answer = await token(session, {**form, "client_secret": "wrong"})
    assert_entra_error(answer, 401, "invalid_client", 7000215)
    assert (await token(session, {**form, "client_secret": SECRET})).status == 200


async def test_app_of_another_tenant_is_unknown_here(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.add_app(client_id="fabrikam-app", tenant_id="fabrikam-tenant")
    answer = await token(
        session,
        {"grant_type": "client_credentials", "client_id": "fabrikam-app"},
        tenant=emulator.default_tenant_id,
    )
    assert_entra_error(answer, 400, "unauthorized_client", 700016)


# Device code


async def test_device_code_flow(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    started = await start_device_code(session)
    assert started.status == 200
    flow = started.body
    assert len(flow["user_code"]) == 8
    assert flow["verification_uri"] == f"{emulator.login_url}/devicelogin"
    assert (flow["expires_in"], flow["interval"]) == (900, 1)
    assert flow["user_code"] in flow["message"]
    answer = await poll(session, flow["device_code"])
    assert_entra_error(answer, 400, "authorization_pending", 70016)
    emulator.approve_device_code(flow["user_code"].lower())
    answer = await poll(session, flow["device_code"])
    assert answer.status == 200
    assert {"access_token", "refresh_token", "id_token"} <= answer.body.keys()
    assert "nonce" not in claims(answer.body["id_token"])
    answer = await poll(session, flow["device_code"])
    assert_entra_error(answer, 400, "bad_verification_code", 70000)


async def test_device_code_accepts_code_parameter(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    flow = (await start_device_code(session)).body
    emulator.approve_device_code(flow["user_code"])
    answer = await token(
        session, {"grant_type": DEVICE_GRANT, "code": flow["device_code"]}
    )
    assert answer.status == 200


async def test_device_code_declined(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    flow = (await start_device_code(session)).body
    emulator.deny_device_code(flow["user_code"])
    assert_entra_error(
        await poll(session, flow["device_code"]), 400, "authorization_declined", 70020
    )
    with pytest.raises(KeyError):
        emulator.approve_device_code(flow["user_code"])


async def test_device_code_expires(
    session: aiohttp.ClientSession, emulator: GraphEmulator, clock: FakeClock
) -> None:
    flow = (await start_device_code(session)).body
    clock.advance(seconds=900)
    assert_entra_error(
        await poll(session, flow["device_code"]), 400, "expired_token", 70019
    )
    with pytest.raises(KeyError):
        emulator.approve_device_code(flow["user_code"])


async def test_device_code_needs_public_client_flows(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    flow = (await start_device_code(session)).body
    emulator.default_app.public_client_flows = False
    emulator.approve_device_code(flow["user_code"])
    answer = await poll(session, flow["device_code"])
    assert_entra_error(answer, 400, "invalid_client", 7000218)
    assert "'client_assertion' or 'client_secret'" in answer.body["error_description"]


async def test_device_code_unknown_client(session: aiohttp.ClientSession) -> None:
    answer = await start_device_code(session, client_id="no-such-app")
    assert_entra_error(answer, 400, "unauthorized_client", 700016)


async def test_device_code_needs_scope(session: aiohttp.ClientSession) -> None:
    answer = await post_form(
        session, "/organizations/oauth2/v2.0/devicecode", {"client_id": CLIENT_ID}
    )
    assert_entra_error(answer, 400, "invalid_request", 900144)


async def test_device_code_auto_approval(
    session: aiohttp.ClientSession, emulator: GraphEmulator, clock: FakeClock
) -> None:
    colleague = emulator.add_user(
        display_name="Alex Wilber", upn="alexw@contoso.example"
    )
    emulator.auto_approve_device_codes = colleague
    flow = (await start_device_code(session)).body
    answer = await poll(session, flow["device_code"])
    assert answer.status == 200
    assert claims(answer.body["id_token"])["oid"] == colleague.id
    emulator.auto_approve_delay = timedelta(seconds=5)
    flow = (await start_device_code(session)).body
    assert (await poll(session, flow["device_code"])).body[
        "error"
    ] == "authorization_pending"
    clock.advance(seconds=5)
    assert (await poll(session, flow["device_code"])).status == 200


async def test_device_code_for_a_personal_account(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    personal = emulator.add_user(
        display_name="Pat", upn="pat@outlook.com", personal=True
    )
    flow = (await start_device_code(session)).body
    emulator.approve_device_code(flow["user_code"], personal)
    assert_entra_error(
        await poll(session, flow["device_code"]), 400, "access_denied", 50020
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_device_login_page(
    session: aiohttp.ClientSession, emulator: GraphEmulator, method: str
) -> None:
    async with session.get("/devicelogin") as response:
        assert response.status == 200
        assert "<form" in await response.text()
    flow = (await start_device_code(session)).body
    code = flow["user_code"]
    request = (
        session.get("/devicelogin", params={"code": code})
        if method == "GET"
        else session.post("/devicelogin", data={"code": code})
    )
    async with request as response:
        assert response.status == 200
    assert (await poll(session, flow["device_code"])).status == 200
    async with session.get("/devicelogin", params={"code": code}) as response:
        assert response.status == 400


# Refresh tokens


async def test_refresh_rotates(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    first = (await sign_in(session)).body
    answer = await token(
        session,
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert answer.status == 200
    second = answer.body
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await GraphClient(session, second["access_token"]).get("/me")).status == 200
    # As in Entra ID, the previous refresh token keeps working.
    answer = await token(
        session,
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert answer.status == 200
    assert emulator.requests[-1].body["grant_type"] == "refresh_token"


async def test_refresh_with_narrower_scope(session: aiohttp.ClientSession) -> None:
    """Consent is additive: a narrower ask still gets every scope consented to."""
    first = (await sign_in(session)).body
    answer = await token(
        session,
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "scope": "https://graph.microsoft.com/User.Read",
        },
    )
    assert answer.body["scope"] == "Presence.ReadWrite User.Read"
    assert set(first["scope"].split()) == {
        "Presence.ReadWrite",
        "User.Read",
        "openid",
        "profile",
    }
    assert "refresh_token" not in answer.body
    assert "id_token" not in answer.body


async def test_an_administrator_s_later_grant_comes_with_the_next_refresh(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    """Signed in without Presence.Read.All; an administrator grants it afterwards."""
    emulator.default_app.consented_scopes.discard("Presence.Read.All")
    first = (await sign_in(session)).body
    assert "Presence.Read.All" not in first["scope"].split()
    emulator.default_app.consented_scopes.add("Presence.Read.All")
    answer = await token(
        session,
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert "Presence.Read.All" in answer.body["scope"].split()


async def test_refresh_after_revocation(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    refresh = (await sign_in(session)).body["refresh_token"]
    emulator.revoke_refresh_tokens()
    answer = await token(
        session, {"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert_entra_error(answer, 400, "invalid_grant", 50173)


async def test_refresh_token_lapses_after_90_days_unused(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    refresh = (await sign_in(session)).body["refresh_token"]
    clock.advance(days=89)
    answer = await token(
        session, {"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert answer.status == 200
    clock.advance(days=1)
    answer = await token(
        session, {"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert_entra_error(answer, 400, "invalid_grant", 700082)


async def test_unknown_refresh_token(session: aiohttp.ClientSession) -> None:
    answer = await token(
        session, {"grant_type": "refresh_token", "refresh_token": "nope"}
    )
    assert_entra_error(answer, 400, "invalid_grant", 9002313)


async def test_refresh_after_consent_is_withdrawn(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    refresh = (await sign_in(session)).body["refresh_token"]
    emulator.default_app.consented_scopes.discard("Presence.ReadWrite")
    answer = await token(
        session, {"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert_entra_error(answer, 400, "invalid_grant", 65001)
    assert answer.body["suberror"] == "consent_required"


# Client credentials


async def test_client_credentials(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.token_lifetime = timedelta(minutes=2)
    answer = await token(
        session,
        {
            "grant_type": "client_credentials",
            "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
        tenant=emulator.default_tenant_id,
    )
    assert answer.status == 200
    assert answer.body["expires_in"] == 120
    assert "refresh_token" not in answer.body
    graph = GraphClient(session, answer.body["access_token"])
    assert (await graph.get("/users/adelev@contoso.example/presence")).status == 200
    assert (await graph.get("/me")).status == 400


async def test_client_credentials_roles_follow_the_app(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.default_app.app_roles = {"User.Read.All"}
    answer = await token(
        session,
        {
            "grant_type": "client_credentials",
            "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    graph = GraphClient(session, answer.body["access_token"])
    assert (await graph.get("/users/adelev@contoso.example/presence")).status == 403
    assert (await graph.get("/users/adelev@contoso.example")).status == 200


@pytest.mark.parametrize(
    "scope",
    [
        "https://graph.microsoft.com/.default",
        "https://graph.microsoft.us/.default",
        "https://dod-graph.microsoft.us/.default",
        "https://microsoftgraph.chinacloudapi.cn/.default",
        "00000003-0000-0000-c000-000000000000/.default",
    ],
)
async def test_client_credentials_scope_is_graphs_application_id_uri(
    session: aiohttp.ClientSession, scope: str
) -> None:
    answer = await token(
        session,
        {"grant_type": "client_credentials", "client_secret": SECRET, "scope": scope},
    )
    assert answer.status == 200
    assert answer.body["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "scope",
    [
        "{graph_url}/.default",
        "{graph_url}/v1.0/.default",
        "https://graph.microsoft.com/Presence.ReadWrite.All",
        "https://graph.microsoft.com",
        "https://graph.microsoft.com/.default offline_access",
        "https://graph.microsoft.com/.default https://graph.microsoft.us/.default",
        "https://example.com/.default",
        ".default",
    ],
)
async def test_client_credentials_refuses_any_other_scope(
    session: aiohttp.ClientSession, emulator: GraphEmulator, scope: str
) -> None:
    """The resource is named by its application id URI, not where requests go."""
    scope = scope.format(graph_url=emulator.graph_url)
    answer = await token(
        session,
        {"grant_type": "client_credentials", "client_secret": SECRET, "scope": scope},
    )
    assert_entra_error(answer, 400, "invalid_scope", 1002012)
    assert scope in answer.body["error_description"]
    assert emulator.requests[-1].status == 400


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        (
            {"client_secret": "wrong", "scope": "https://graph.microsoft.com/.default"},
            401,
            "invalid_client",
            7000215,
        ),
        (
            {"scope": "https://graph.microsoft.com/.default"},
            400,
            "invalid_client",
            7000218,
        ),
        (
            {"client_secret": SECRET, "scope": "User.Read"},
            400,
            "invalid_scope",
            1002012,
        ),
        ({"client_secret": SECRET}, 400, "invalid_request", 900144),
        (
            {"client_id": "no-such-app", "client_secret": SECRET},
            400,
            "unauthorized_client",
            700016,
        ),
        ({"client_id": "", "client_secret": SECRET}, 400, "invalid_request", 900144),
    ],
)
async def test_client_credentials_errors(
    session: aiohttp.ClientSession,
    form: dict[str, str],
    status: int,
    error: str,
    code: int,
) -> None:
    answer = await token(session, {"grant_type": "client_credentials", **form})
    assert_entra_error(answer, status, error, code)


async def test_added_app_with_its_own_consent_and_roles(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.add_app(
        client_id="reader-app",
        secret="reader-secret",
        consented_scopes={"User.Read"},
        app_roles={"Presence.Read.All"},
    )
    answer = await token(
        session,
        {
            "grant_type": "client_credentials",
            "client_id": "reader-app",
            "client_secret": "reader-secret",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    graph = GraphClient(session, answer.body["access_token"])
    assert (await graph.get("/users/adelev@contoso.example/presence")).status == 200
    assert (
        await graph.post("/users/adelev@contoso.example/presence/clearPresence", {})
    ).status == 403
    flow = (await start_device_code(session, client_id="reader-app")).body
    emulator.approve_device_code(flow["user_code"])
    answer = await poll(session, flow["device_code"], client_id="reader-app")
    assert_entra_error(answer, 400, "invalid_grant", 65001)


async def test_app_without_secret_refuses_one(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.add_app(client_id="public-app")
    answer = await token(
        session,
        {
            "grant_type": "client_credentials",
            "client_id": "public-app",
            "client_secret": "anything",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert_entra_error(answer, 401, "invalid_client", 7000215)


# Token endpoint in general


async def test_unsupported_grant_type(session: aiohttp.ClientSession) -> None:
    answer = await token(session, {"grant_type": "password"})
    assert_entra_error(answer, 400, "unsupported_grant_type", 70003)
    answer = await token(session, {})
    assert_entra_error(answer, 400, "invalid_request", 900144)


async def test_login_down(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.login_down = True
    answer = await token(session, {"grant_type": "client_credentials"})
    assert_entra_error(answer, 503, "temporarily_unavailable", 90033)
    assert answer.headers["Retry-After"] == "1"
    async with session.get(
        "/organizations/v2.0/.well-known/openid-configuration"
    ) as response:
        assert response.status == 200
    emulator.login_down = False
    answer = await token(
        session,
        {
            "grant_type": "client_credentials",
            "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert answer.status == 200


async def test_signing_keys_down(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    path = "/common/discovery/v2.0/keys"
    emulator.signing_keys_down = True
    async with session.get(path) as response:
        assert response.status == 503
    emulator.signing_keys_down = False
    async with session.get(path) as response:
        assert response.status == 200
        assert (await response.json())["keys"][0]["kid"] == emulator.signing_key.key_id


async def test_access_tokens_expire_by_the_emulator_clock(
    session: aiohttp.ClientSession, emulator: GraphEmulator, clock: FakeClock
) -> None:
    emulator.token_lifetime = timedelta(seconds=120)
    answer = await sign_in(session)
    assert answer.body["expires_in"] == 120
    graph = GraphClient(session, answer.body["access_token"])
    clock.advance(seconds=119)
    assert (await graph.get("/me")).status == 200
    clock.advance(seconds=1)
    assert (await graph.get("/me")).status == 401


async def test_without_offline_access_or_openid(session: aiohttp.ClientSession) -> None:
    answer = await sign_in(session, scope="Presence.ReadWrite")
    # Consent is additive: User.Read, consented to before, comes along.
    assert answer.body["scope"] == "Presence.ReadWrite User.Read"
    assert "refresh_token" not in answer.body
    assert "id_token" not in answer.body


async def test_default_scope_stands_for_consent(session: aiohttp.ClientSession) -> None:
    answer = await sign_in(
        session, scope="https://graph.microsoft.com/.default offline_access"
    )
    assert set(answer.body["scope"].split()) == {
        "Presence.ReadWrite",
        "User.Read",
        "openid",
        "profile",
    }


@pytest.mark.parametrize(("status", "code"), [(429, 90055), (503, 90033)])
async def test_throttled_sign_in_says_when_to_retry(
    session: aiohttp.ClientSession, emulator: GraphEmulator, status: int, code: int
) -> None:
    emulator.throttle_sign_in(2, retry_after=17, status=status)
    form = {
        "grant_type": "client_credentials",
        "client_secret": SECRET,
        "scope": "https://graph.microsoft.com/.default",
    }
    for _ in range(2):
        answer = await token(session, form)
        assert_entra_error(answer, status, "temporarily_unavailable", code)
        assert answer.headers["Retry-After"] == "17"
    assert (await token(session, form)).status == 200
