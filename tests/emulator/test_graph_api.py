"""Graph routes: answers, errors, permissions, and the request log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from graph_emulator import GraphEmulator

from .conftest import Answer, FakeClock, GraphClient

APP = "11111111-1111-1111-1111-111111111111"
SET_BUSY = {"sessionId": APP, "availability": "Busy", "activity": "InACall"}


def error_of(answer: Answer) -> tuple[str, str]:
    """Check an error answer has Graph's shape; return its code and message."""
    error = answer.body["error"]
    assert error.keys() == {"code", "message", "innerError"}, answer.body
    assert error["innerError"].keys() == {"date", "request-id", "client-request-id"}
    return error["code"], error["message"]


async def test_get_me(graph: GraphClient, emulator: GraphEmulator) -> None:
    answer = await graph.get("/me")
    assert answer.status == 200
    assert answer.body == {
        "id": emulator.default_user.id,
        "displayName": "Adele Vance",
        "userPrincipalName": "adelev@contoso.example",
        "mail": "adelev@contoso.example",
    }
    [entry] = emulator.requests
    assert (entry.method, entry.path, entry.status, entry.server) == (
        "GET",
        "/v1.0/me",
        200,
        "graph",
    )
    assert entry.body is None


@pytest.mark.parametrize(
    "key", ["87d349ed-44d7-43e1-9a83-5f2406dee5bd", "AdeleV@Contoso.example"]
)
async def test_get_user_by_id_or_upn(graph: GraphClient, key: str) -> None:
    answer = await graph.get(f"/users/{key}")
    assert answer.status == 200
    assert answer.body["userPrincipalName"] == "adelev@contoso.example"


async def test_organization(graph: GraphClient, emulator: GraphEmulator) -> None:
    answer = await graph.get("/organization")
    assert answer.status == 200
    assert answer.body == {
        "value": [{"id": emulator.default_tenant_id, "displayName": "Contoso"}]
    }


async def test_organization_of_an_app_token(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    app = emulator.add_app(client_id="other-app", tenant_id="fabrikam-tenant")
    graph.token = emulator.issue_app_token(app=app)
    answer = await graph.get("/organization")
    assert answer.body["value"][0]["id"] == "fabrikam-tenant"


async def test_get_presence_offline(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    answer = await graph.get("/me/presence")
    assert answer.status == 200
    assert answer.body == {
        "id": emulator.default_user.id,
        "availability": "Offline",
        "activity": "Offline",
        "statusMessage": None,
        "outOfOfficeSettings": {"message": None, "isOutOfOffice": False},
        "sequenceNumber": "0000000000000001",
        "workLocation": {
            "placeId": None,
            "source": "none",
            "workLocationType": "unspecified",
        },
    }
    assert [entry.path for entry in emulator.graph_calls("presence")] == [
        "/v1.0/me/presence"
    ]


async def test_set_presence(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock
) -> None:
    body = {**SET_BUSY, "expirationDuration": "PT1H"}
    answer = await graph.post("/me/presence/setPresence", body)
    assert (answer.status, answer.body) == (200, None)
    session = emulator.app_session(APP)
    assert session is not None
    assert (session.availability, session.activity) == ("Busy", "InACall")
    assert session.expires_at == clock.now + timedelta(hours=1)
    [entry] = emulator.graph_calls("setPresence")
    assert (entry.method, entry.body, entry.status, entry.time) == (
        "POST",
        body,
        200,
        clock.now,
    )
    presence = await graph.get("/me/presence")
    assert (presence.body["availability"], presence.body["activity"]) == (
        "Busy",
        "InACall",
    )


async def test_set_presence_through_users_path(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    answer = await graph.post(
        f"/users/{emulator.default_user.id}/presence/setPresence", SET_BUSY
    )
    assert answer.status == 200
    assert emulator.presence() == ("Busy", "InACall")


@pytest.mark.parametrize(
    "body",
    [
        {"availability": "Busy", "activity": "InACall"},
        {**SET_BUSY, "sessionId": ""},
        {"sessionId": APP, "activity": "InACall"},
        {"sessionId": APP, "availability": "Busy"},
        {**SET_BUSY, "activity": "Busy"},
        {**SET_BUSY, "availability": "Offline", "activity": "Offline"},
        {**SET_BUSY, "expirationDuration": "PT4M"},
        {**SET_BUSY, "expirationDuration": "PT241M"},
        {**SET_BUSY, "expirationDuration": "five minutes"},
        {**SET_BUSY, "expirationDuration": 300},
        ["not", "an", "object"],
    ],
)
async def test_set_presence_bad_requests(
    graph: GraphClient, emulator: GraphEmulator, body: Any
) -> None:
    answer = await graph.post("/me/presence/setPresence", body)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"
    assert answer.body["error"]["message"]
    assert emulator.app_session(APP) is None
    assert emulator.graph_calls("setPresence")[0].status == 400


async def test_set_presence_invalid_json(
    session: aiohttp.ClientSession, graph: GraphClient, emulator: GraphEmulator
) -> None:
    async with session.post(
        "/v1.0/me/presence/setPresence",
        data="{not json",
        headers={
            "Authorization": f"Bearer {graph.token}",
            "Content-Type": "application/json",
        },
    ) as response:
        assert response.status == 400
    assert emulator.requests[0].body == "{not json"


async def test_clear_presence(graph: GraphClient, emulator: GraphEmulator) -> None:
    await graph.post("/me/presence/setPresence", SET_BUSY)
    answer = await graph.post("/me/presence/clearPresence", {"sessionId": APP})
    assert (answer.status, answer.body) == (200, None)
    assert emulator.app_session(APP) is None
    assert emulator.presence() == ("Offline", "Offline")
    assert emulator.graph_calls("clearPresence")[0].body == {"sessionId": APP}


async def test_clear_presence_without_session_id(graph: GraphClient) -> None:
    answer = await graph.post("/me/presence/clearPresence", {})
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"


async def test_clear_presence_of_missing_session(
    graph: GraphClient, clock: FakeClock
) -> None:
    answer = await graph.post("/me/presence/clearPresence", {"sessionId": APP})
    assert answer.status == 404
    assert answer.body["error"]["code"] == "NotFound"
    await graph.post("/me/presence/setPresence", SET_BUSY)
    clock.advance(minutes=5)
    answer = await graph.post("/me/presence/clearPresence", {"sessionId": APP})
    assert answer.status == 404


async def test_set_and_clear_preferred_presence(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock
) -> None:
    emulator.set_client_session("desktop", "Available", "Available")
    answer = await graph.post(
        "/me/presence/setUserPreferredPresence",
        {"availability": "DoNotDisturb", "activity": "DoNotDisturb"},
    )
    assert (answer.status, answer.body) == (200, None)
    preferred = emulator.default_user.presence.preferred
    assert preferred is not None
    assert preferred.expires_at == clock.now + timedelta(days=1)
    assert (await graph.get("/me/presence")).body["availability"] == "DoNotDisturb"
    answer = await graph.post(
        "/me/presence/setUserPreferredPresence",
        {"availability": "Away", "activity": "Away", "expirationDuration": "PT2H"},
    )
    assert answer.status == 200
    preferred = emulator.default_user.presence.preferred
    assert preferred is not None
    assert preferred.expires_at == clock.now + timedelta(hours=2)
    answer = await graph.post("/me/presence/clearUserPreferredPresence", {})
    assert (answer.status, answer.body) == (200, None)
    assert emulator.default_user.presence.preferred is None
    assert emulator.presence() == ("Available", "Available")
    assert len(emulator.graph_calls("setUserPreferredPresence")) == 2
    assert len(emulator.graph_calls("clearUserPreferredPresence")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"availability": "Busy", "activity": "InACall"},
        {"availability": "Busy"},
        {"availability": "Busy", "activity": "Busy", "expirationDuration": "soon"},
        {"availability": "Busy", "activity": "Busy", "expirationDuration": "PT0M"},
    ],
)
async def test_set_preferred_presence_bad_requests(
    graph: GraphClient, body: dict[str, Any]
) -> None:
    answer = await graph.post("/me/presence/setUserPreferredPresence", body)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"


async def test_status_message(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock
) -> None:
    answer = await graph.post(
        "/me/presence/setStatusMessage",
        {
            "statusMessage": {
                "message": {"content": "Deep work", "contentType": "text"},
                "expiryDateTime": {
                    "dateTime": "2025-06-02T11:30:00.0000000",
                    "timeZone": "Europe/Paris",
                },
            }
        },
    )
    assert (answer.status, answer.body) == (200, None)
    assert (await graph.get("/me/presence")).body["statusMessage"] == {
        "message": {"content": "Deep work", "contentType": "text"},
        "expiryDateTime": {
            "dateTime": "2025-06-02T11:30:00.0000000",
            "timeZone": "Europe/Paris",
        },
        "publishedDateTime": "2025-06-02T09:00:00.0000000Z",
    }
    # 11:30 in Paris is 09:30 UTC: the message no longer shows.
    clock.advance(minutes=30)
    assert (await graph.get("/me/presence")).body["statusMessage"] is None


async def test_status_message_without_expiry_and_clear(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    await graph.post(
        "/me/presence/setStatusMessage",
        {"statusMessage": {"message": {"content": "Hi", "contentType": "text"}}},
    )
    status = (await graph.get("/me/presence")).body["statusMessage"]
    assert status["expiryDateTime"] is None
    answer = await graph.post(
        "/me/presence/setStatusMessage",
        {"statusMessage": {"message": {"content": "", "contentType": "text"}}},
    )
    assert answer.status == 200
    assert emulator.default_user.presence.status_message is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"statusMessage": {}},
        {"statusMessage": {"message": {"contentType": "text"}}},
        {"statusMessage": {"message": {"content": "x" * 281, "contentType": "text"}}},
        {
            "statusMessage": {
                "message": {"content": "Hi", "contentType": "text"},
                "expiryDateTime": {"dateTime": "tomorrow", "timeZone": "UTC"},
            }
        },
        {
            "statusMessage": {
                "message": {"content": "Hi", "contentType": "text"},
                "expiryDateTime": {
                    "dateTime": "2025-06-03T00:00:00",
                    "timeZone": "Mars",
                },
            }
        },
        {
            "statusMessage": {
                "message": {"content": "Hi", "contentType": "text"},
                "expiryDateTime": "2025-06-03T00:00:00",
            }
        },
    ],
)
async def test_status_message_bad_requests(
    graph: GraphClient, body: dict[str, Any]
) -> None:
    answer = await graph.post("/me/presence/setStatusMessage", body)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"


async def test_out_of_office_in_presence(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.set_out_of_office(True, "Back on Monday")
    body = (await graph.get("/me/presence")).body
    assert body["outOfOfficeSettings"] == {
        "message": "Back on Monday",
        "isOutOfOffice": True,
    }


async def test_missing_token(graph: GraphClient) -> None:
    graph.token = None
    answer = await graph.get("/me/presence")
    assert answer.status == 401
    assert answer.body["error"]["code"] == "InvalidAuthenticationToken"


async def test_unknown_token(graph: GraphClient) -> None:
    graph.token = "made-up"
    answer = await graph.post("/me/presence/setPresence", SET_BUSY)
    assert answer.status == 401
    assert answer.body["error"]["code"] == "InvalidAuthenticationToken"


async def test_revoked_token(graph: GraphClient, emulator: GraphEmulator) -> None:
    """Revoked before it expires: refused like an unknown token, others still work."""
    graph.token = emulator.issue_token()
    other_user = emulator.add_user(
        display_name="Megan Bowen", upn="meganb@contoso.example"
    )
    others = emulator.issue_token(other_user)
    assert (await graph.get("/me")).status == 200
    emulator.revoke_access_tokens()
    answer = await graph.get("/me")
    assert answer.status == 401
    assert answer.body["error"]["code"] == "InvalidAuthenticationToken"
    graph.token = others
    assert (await graph.get("/me")).status == 200


async def test_expired_token(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock
) -> None:
    graph.token = emulator.issue_token(lifetime=timedelta(minutes=10))
    assert (await graph.get("/me")).status == 200
    clock.advance(minutes=10)
    answer = await graph.get("/me")
    assert answer.status == 401
    assert error_of(answer) == (
        "InvalidAuthenticationToken",
        "Lifetime validation failed, the token is expired.",
    )


@pytest.mark.parametrize(
    ("scopes", "method", "path", "body"),
    [
        (["User.Read"], "POST", "/me/presence/setPresence", SET_BUSY),
        (["Presence.Read"], "POST", "/me/presence/setPresence", SET_BUSY),
        (["User.Read"], "GET", "/me/presence", None),
        (["Presence.Read"], "POST", "/me/presence/clearPresence", {"sessionId": APP}),
        (["Presence.Read"], "POST", "/me/presence/clearUserPreferredPresence", {}),
        (["Presence.ReadWrite"], "GET", "/me", None),
        (["Presence.ReadWrite"], "GET", "/organization", None),
    ],
)
async def test_missing_permission_is_403_with_empty_message(
    graph: GraphClient,
    emulator: GraphEmulator,
    scopes: list[str],
    method: str,
    path: str,
    body: Any,
) -> None:
    graph.token = emulator.issue_token(scopes=scopes)
    answer = await graph.request(method, path, body)
    assert answer.status == 403
    assert error_of(answer) == ("Forbidden", "")


async def test_presence_read_scope_reads(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    graph.token = emulator.issue_token(scopes=["Presence.Read"])
    assert (await graph.get("/me/presence")).status == 200


async def test_delegated_token_cannot_act_on_another_user(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    colleague = emulator.add_user(
        display_name="Alex Wilber", upn="alexw@contoso.example"
    )
    answer = await graph.post(f"/users/{colleague.id}/presence/setPresence", SET_BUSY)
    assert answer.status == 403
    assert answer.body["error"]["message"] == ""
    assert emulator.presence(colleague) == ("Offline", "Offline")


async def test_unknown_user(graph: GraphClient) -> None:
    answer = await graph.get("/users/nobody@contoso.example/presence")
    assert answer.status == 404
    assert answer.body["error"]["code"] == "ResourceNotFound"


async def test_app_token_acts_on_users(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    colleague = emulator.add_user(
        display_name="Alex Wilber", upn="alexw@contoso.example"
    )
    graph.token = emulator.issue_app_token()
    answer = await graph.post(
        "/users/alexw@contoso.example/presence/setPresence", SET_BUSY
    )
    assert answer.status == 200
    assert emulator.presence(colleague) == ("Busy", "InACall")
    assert (await graph.get(f"/users/{colleague.id}")).status == 200


async def test_app_token_on_me_is_400(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    graph.token = emulator.issue_app_token()
    answer = await graph.get("/me/presence")
    assert answer.status == 400
    assert error_of(answer) == (
        "BadRequest",
        "/me request is only valid with delegated authentication flow.",
    )


@pytest.mark.parametrize(
    ("roles", "method", "path", "status"),
    [
        (["Presence.Read.All"], "GET", "/users/adelev@contoso.example/presence", 200),
        (
            ["Presence.Read.All"],
            "POST",
            "/users/adelev@contoso.example/presence/clearUserPreferredPresence",
            403,
        ),
        (["Presence.ReadWrite.All"], "GET", "/users/adelev@contoso.example", 403),
        ([], "GET", "/users/adelev@contoso.example/presence", 403),
    ],
)
async def test_app_roles(
    graph: GraphClient,
    emulator: GraphEmulator,
    roles: list[str],
    method: str,
    path: str,
    status: int,
) -> None:
    graph.token = emulator.issue_app_token(roles=roles)
    answer = await graph.request(method, path, {} if method == "POST" else None)
    assert answer.status == status


async def test_every_request_is_recorded(
    graph: GraphClient, emulator: GraphEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.get("/v1.0/nowhere?x=1") as response:
        assert response.status == 400
    await graph.post("/me/presence/setPresence", {**SET_BUSY, "activity": "Nope"})
    nowhere, bad = emulator.requests
    assert (nowhere.path, nowhere.query, nowhere.status) == (
        "/v1.0/nowhere",
        {"x": "1"},
        400,
    )
    assert (bad.path, bad.status) == ("/v1.0/me/presence/setPresence", 400)
