"""Graph's stricter rules: the session id, error bodies, 401 challenges, time zones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
import uuid

import aiohttp
import pytest

from graph_emulator import GraphEmulator

from .conftest import Answer, FakeClock, GraphClient

APP = "11111111-1111-1111-1111-111111111111"
SET_BUSY = {"sessionId": APP, "availability": "Busy", "activity": "InACall"}
CHALLENGE = (
    'Bearer realm="", authorization_uri="{base}/common/oauth2/authorize",'
    ' client_id="00000003-0000-0000-c000-000000000000"'
)


def inner_error(answer: Answer) -> dict[str, str]:
    error = answer.body["error"]
    assert set(error) == {"code", "message", "innerError"}, answer.body
    inner: dict[str, str] = error["innerError"]
    # A 429 also carries what Graph's documented throttling answer shows.
    throttled = {"code", "message", "status"} if answer.status == 429 else set()
    assert set(inner) == {"date", "request-id", "client-request-id", *throttled}
    return inner


# sessionId


@pytest.mark.parametrize("action", ["setPresence", "clearPresence"])
@pytest.mark.parametrize(
    "session_id", ["22222222-2222-2222-2222-222222222222", "my-session", " "]
)
async def test_session_id_of_another_app_is_refused(
    graph: GraphClient, emulator: GraphEmulator, action: str, session_id: str
) -> None:
    await graph.post("/me/presence/setPresence", SET_BUSY)
    answer = await graph.post(
        f"/me/presence/{action}", {**SET_BUSY, "sessionId": session_id}
    )
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"
    assert answer.body["error"]["message"]
    inner_error(answer)
    # Nothing changed: the app's own session is still there, and no other.
    assert emulator.app_session(APP) is not None
    assert emulator.app_session(session_id) is None


@pytest.mark.parametrize("action", ["setPresence", "clearPresence"])
@pytest.mark.parametrize("session_id", [None, "", 7, ["x"]])
async def test_session_id_missing_or_not_text(
    graph: GraphClient, action: str, session_id: Any
) -> None:
    body: dict[str, Any] = {"availability": "Busy", "activity": "InACall"}
    if session_id is not None:
        body["sessionId"] = session_id
    answer = await graph.post(f"/me/presence/{action}", body)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"


async def test_session_id_matches_the_app_id_in_any_case(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    """App ids are GUIDs, which Graph compares regardless of case."""
    assert (await graph.post("/me/presence/setPresence", SET_BUSY)).status == 200
    answer = await graph.post("/me/presence/clearPresence", {"sessionId": APP.upper()})
    assert answer.status == 200
    assert emulator.app_session(APP) is None


async def test_session_id_follows_the_token_of_each_app(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    """A delegated and an app-only token each name their own app's session."""
    other = emulator.add_app(client_id="33333333-3333-3333-3333-333333333333")
    user = emulator.default_user.id
    graph.token = emulator.issue_token(app=other)
    refused = await graph.post("/me/presence/setPresence", SET_BUSY)
    assert refused.status == 400
    own = {**SET_BUSY, "sessionId": other.client_id}
    assert (await graph.post("/me/presence/setPresence", own)).status == 200
    graph.token = emulator.issue_app_token(app=other)
    path = f"/users/{user}/presence/clearPresence"
    assert (await graph.post(path, {"sessionId": APP})).status == 400
    assert (await graph.post(path, {"sessionId": other.client_id})).status == 200
    assert emulator.app_session(other.client_id) is None


async def test_wrong_session_id_is_400_even_without_a_session(
    graph: GraphClient,
) -> None:
    """The id is checked before the session is looked up (a 404 would mislead)."""
    answer = await graph.post("/me/presence/clearPresence", {"sessionId": "other"})
    assert answer.status == 400
    answer = await graph.post("/me/presence/clearPresence", {"sessionId": APP})
    assert answer.status == 404


# Error bodies and ids


async def test_error_body_carries_inner_error(
    graph: GraphClient, clock: FakeClock
) -> None:
    answer = await graph.post("/me/presence/setPresence", {**SET_BUSY, "activity": "x"})
    inner = inner_error(answer)
    assert inner["date"] == "2025-06-02T09:00:00"
    uuid.UUID(inner["request-id"])
    # Without a client-request-id, Graph reports its own id for both.
    assert inner["client-request-id"] == inner["request-id"]
    assert answer.headers["request-id"] == inner["request-id"]


async def test_client_request_id_is_echoed(graph: GraphClient) -> None:
    sent = "8c1e5c4b-1b2a-4f00-9a77-0123456789ab"
    answer = await graph.request(
        "POST", "/me/presence/clearPresence", {}, {"client-request-id": sent}
    )
    inner = inner_error(answer)
    assert inner["client-request-id"] == sent
    assert inner["request-id"] != sent
    assert answer.headers["client-request-id"] == sent


async def test_successful_answers_carry_request_ids(graph: GraphClient) -> None:
    answer = await graph.request("GET", "/me", None, {"client-request-id": "abc"})
    assert answer.status == 200
    assert answer.headers["client-request-id"] == "abc"
    uuid.UUID(answer.headers["request-id"])
    other = await graph.get("/me")
    assert other.headers["request-id"] != answer.headers["request-id"]


async def test_request_ids_are_new_for_each_request(graph: GraphClient) -> None:
    first = inner_error(await graph.post("/me/presence/clearPresence", {}))
    second = inner_error(await graph.post("/me/presence/clearPresence", {}))
    assert first["request-id"] != second["request-id"]


async def test_injected_faults_have_graphs_shape(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.throttle(1, retry_after=3)
    answer = await graph.request("GET", "/me", None, {"client-request-id": "mine"})
    assert answer.status == 429
    inner = inner_error(answer)
    assert inner["client-request-id"] == "mine"
    assert (inner["code"], inner["status"]) == ("429", "429")


async def test_unknown_segment_is_graphs_400(graph: GraphClient) -> None:
    answer = await graph.get("/me/presense")
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"
    assert answer.body["error"]["message"] == (
        "Resource not found for the segment 'presense'."
    )
    inner_error(answer)


async def test_wrong_method_has_graphs_shape(graph: GraphClient) -> None:
    answer = await graph.get("/me/presence/setPresence")
    assert answer.status == 405
    inner_error(answer)


# 401 challenges


async def _unauthorized(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock, how: str
) -> Answer:
    if how == "missing":
        graph.token = None
    elif how == "unknown":
        graph.token = "made-up"
    elif how == "expired":
        clock.advance(hours=2)
    else:
        emulator.fail(1, status=401)
    return await graph.post("/me/presence/setPresence", SET_BUSY)


@pytest.mark.parametrize("how", ["missing", "unknown", "expired", "injected"])
async def test_every_401_carries_a_bearer_challenge(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock, how: str
) -> None:
    answer = await _unauthorized(graph, emulator, clock, how)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == CHALLENGE.format(
        base=emulator.graph_url
    )
    inner_error(answer)


async def test_other_errors_carry_no_challenge(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    graph.token = emulator.issue_token(scopes=["User.Read"])
    answer = await graph.get("/me/presence")
    assert answer.status == 403
    assert "WWW-Authenticate" not in answer.headers


# Time zones


def status_body(date_time: str, time_zone: Any) -> dict[str, Any]:
    return {
        "statusMessage": {
            "message": {"content": "Out for lunch", "contentType": "text"},
            "expiryDateTime": {"dateTime": date_time, "timeZone": time_zone},
        }
    }


@pytest.mark.parametrize(
    ("time_zone", "wall_time", "minutes_left"),
    [
        # 09:00 UTC on 2 June 2025: 02:00 in Los Angeles (PDT), 11:00 in Berlin.
        ("Pacific Standard Time", "2025-06-02T03:00:00.0000000", 60),
        ("W. Europe Standard Time", "2025-06-02T11:30:00.0000000", 30),
        ("India Standard Time", "2025-06-02T15:00:00.0000000", 30),
        ("UTC+12", "2025-06-02T21:15:00.0000000", 15),
        ("America/New_York", "2025-06-02T06:00:00.0000000", 60),
        ("UTC", "2025-06-02T09:45:00.0000000", 45),
    ],
)
async def test_expiry_in_any_zone_is_answered_in_that_zone(
    graph: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    time_zone: str,
    wall_time: str,
    minutes_left: int,
) -> None:
    graph.token = emulator.issue_token(lifetime=timedelta(days=1))
    answer = await graph.post(
        "/me/presence/setStatusMessage", status_body(wall_time, time_zone)
    )
    assert answer.status == 200
    status = (await graph.get("/me/presence")).body["statusMessage"]
    assert status["expiryDateTime"] == {"dateTime": wall_time, "timeZone": time_zone}
    clock.advance(minutes=minutes_left - 1)
    assert (await graph.get("/me/presence")).body["statusMessage"] is not None
    clock.advance(minutes=1)
    assert (await graph.get("/me/presence")).body["statusMessage"] is None


async def test_reads_can_answer_in_a_windows_zone(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    await graph.post(
        "/me/presence/setStatusMessage",
        status_body("2025-06-02T12:00:00", "UTC"),
    )
    emulator.read_time_zone = "Pacific Standard Time"
    status = (await graph.get("/me/presence")).body["statusMessage"]
    assert status["expiryDateTime"] == {
        "dateTime": "2025-06-02T05:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    # Only the expiry moves zone: publishedDateTime stays UTC, as Graph sends it.
    assert status["publishedDateTime"] == "2025-06-02T09:00:00.0000000Z"
    emulator.read_time_zone = None
    status = (await graph.get("/me/presence")).body["statusMessage"]
    assert status["expiryDateTime"]["timeZone"] == "UTC"


def test_read_time_zone_refuses_unknown_zones() -> None:
    emulator = GraphEmulator()
    with pytest.raises(ValueError, match="Mars"):
        emulator.read_time_zone = "Mars Standard Time"
    assert emulator.read_time_zone is None


@pytest.mark.parametrize(
    "time_zone",
    ["Mars", "pacific standard time", "", 5, "America", "localtime", "../etc"],
)
async def test_unknown_time_zone_is_400(
    graph: GraphClient, emulator: GraphEmulator, time_zone: Any
) -> None:
    answer = await graph.post(
        "/me/presence/setStatusMessage",
        status_body("2025-06-02T12:00:00", time_zone),
    )
    assert answer.status == 400
    assert answer.body["error"]["code"] == "BadRequest"
    assert emulator.default_user.presence.status_message is None


async def test_expiry_without_a_zone_is_utc(graph: GraphClient) -> None:
    body = status_body("2025-06-02T12:00:00", None)
    del body["statusMessage"]["expiryDateTime"]["timeZone"]
    assert (await graph.post("/me/presence/setStatusMessage", body)).status == 200
    status = (await graph.get("/me/presence")).body["statusMessage"]
    assert status["expiryDateTime"]["timeZone"] == "UTC"


async def test_ids_on_the_sign_in_routes_are_left_alone(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    url = f"/{emulator.default_tenant_id}/v2.0/.well-known/openid-configuration"
    async with session.get(url) as response:
        assert "request-id" not in response.headers
