"""The emulator answers in the shapes Microsoft documents (tests/contract)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from graph_emulator import GraphEmulator
from tests.contract.shape import documented, shape_differences

from .conftest import FakeClock, GraphClient

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "s3cret-value"
PLACE = "eb706f15-137e-4722-b4d1-b601481d9251"


@pytest.fixture
async def presence(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock
) -> dict[str, Any]:
    """A read in which every documented property has a value, so each is compared."""
    expiry = clock.now + timedelta(days=1)
    await graph.post(
        "/me/presence/setStatusMessage",
        {
            "statusMessage": {
                "message": {"content": "In the lab", "contentType": "text"},
                "expiryDateTime": {
                    "dateTime": f"{expiry:%Y-%m-%dT%H:%M:%S}",
                    "timeZone": "UTC",
                },
            }
        },
    )
    emulator.set_out_of_office(True, "Back on Monday")
    await graph.post(
        "/me/presence/setManualLocation",
        {"workLocationType": "office", "placeId": PLACE},
    )
    answer = await graph.get("/me/presence")
    assert answer.status == 200
    body: dict[str, Any] = answer.body
    return body


@pytest.mark.parametrize(
    ("name", "exact"),
    [
        ("graph/presence_resource.json", True),
        ("graph/presence_self_status_message.json", False),
        ("graph/presence_out_of_office_sequence.json", False),
    ],
)
def test_presence_read(presence: dict[str, Any], name: str, exact: bool) -> None:
    assert shape_differences(presence, documented(name), exact=exact) == []


def test_work_location(presence: dict[str, Any]) -> None:
    documented_location = documented("graph/user_work_location.json")
    assert shape_differences(presence["workLocation"], documented_location) == []


async def test_error(graph: GraphClient) -> None:
    answer = await graph.post(
        "/me/presence/setManualLocation", {"workLocationType": "home"}
    )
    assert answer.status == 400
    documented_error = documented("graph/error.json")
    assert shape_differences(answer.body, documented_error, exact=False) == []


async def test_throttling(graph: GraphClient, emulator: GraphEmulator) -> None:
    emulator.throttle(1, retry_after=10)
    answer = await graph.get("/me/presence")
    assert (answer.status, answer.headers["Retry-After"]) == (429, "10")
    documented_error = documented("graph/error_throttled.json")
    assert shape_differences(answer.body, documented_error, exact=False) == []


async def post_form(
    session: aiohttp.ClientSession, path: str, form: dict[str, str]
) -> tuple[int, Any]:
    async with session.post(f"/organizations/oauth2/v2.0/{path}", data=form) as answer:
        return answer.status, await answer.json()


async def test_device_code_flow(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    scope = "User.Read profile openid email offline_access"
    status, started = await post_form(
        session, "devicecode", {"client_id": CLIENT_ID, "scope": scope}
    )
    assert status == 200
    assert (
        shape_differences(started, documented("entra/device_code_response.json")) == []
    )
    emulator.approve_device_code(started["user_code"])
    status, tokens = await post_form(
        session,
        "token",
        {
            "client_id": CLIENT_ID,
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"],
        },
    )
    assert status == 200
    # Entra ID answers more than the page shows (ext_expires_in, client_info).
    documented_tokens = documented("entra/device_code_token_response.json")
    assert shape_differences(tokens, documented_tokens, exact=False) == []


async def test_client_credentials(session: aiohttp.ClientSession) -> None:
    form = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "client_credentials",
    }
    status, tokens = await post_form(
        session, "token", {**form, "scope": "https://graph.microsoft.com/.default"}
    )
    assert status == 200
    documented_tokens = documented("entra/client_credentials_token_response.json")
    assert shape_differences(tokens, documented_tokens, exact=False) == []
    status, error = await post_form(
        session, "token", {**form, "scope": "https://foo.microsoft.com/.default"}
    )
    assert (status, error["error"]) == (400, "invalid_scope")
    assert shape_differences(error, documented("entra/error_response.json")) == []


async def test_bulk_presence_read(
    session: aiohttp.ClientSession, emulator: GraphEmulator, presence: dict[str, Any]
) -> None:
    """Each presence is the whole resource, as a single read's (`presence` fills it)."""
    reader = GraphClient(session, emulator.issue_token(scopes=("Presence.Read.All",)))
    answer = await reader.post(
        "/communications/getPresencesByUserId", {"ids": [emulator.default_user.id]}
    )
    assert answer.status == 200
    response = documented("graph/get_presences_by_user_id_response.json")
    assert shape_differences(answer.body, response, exact=False) == []
    resource = documented("graph/presence_resource.json")
    assert shape_differences(answer.body["value"][0], resource) == []
    assert answer.body["value"][0] == presence


async def test_directory_search(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.add_colleague(display_name="Oscar Ward", upn="oscarward@contoso.example")
    searcher = GraphClient(
        session, emulator.issue_token(scopes=("User.ReadBasic.All",))
    )
    path = '/users?$search="displayName:wa"&$orderby=displayName&$count=true'
    answer = await searcher.request(
        "GET", path, headers={"ConsistencyLevel": "eventual"}
    )
    assert answer.status == 200
    response = documented("graph/users_search_response.json")
    assert shape_differences(answer.body, response, exact=False) == []
    assert answer.body["@odata.count"] == 1

    refused = await searcher.get(path)
    assert refused.status == 400
    error = documented("graph/error_search_without_consistency_level.json")
    assert shape_differences(refused.body, error, exact=False) == []
    assert refused.body["error"]["message"] == error["error"]["message"]
