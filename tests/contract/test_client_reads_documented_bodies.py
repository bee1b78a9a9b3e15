"""The client reads what Microsoft documents, and sends what Microsoft documents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from aiohttp import ClientSession
import pytest

from custom_components.teams_presence_keeper.graph import (
    Activity,
    Availability,
    GraphPresenceClient,
    GraphThrottledError,
    GraphValidationError,
    PresenceBatch,
    PresenceSnapshot,
    WorkLocation,
    WorkLocationSource,
    WorkLocationType,
    WorkLocationUpdate,
)
from graph_emulator import GraphEmulator

from .conftest import DocumentedGraph
from .shape import documented

AVAILABLE = PresenceSnapshot(
    Availability.AVAILABLE, Activity.AVAILABLE, "Available", "Available"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "graph/presence_self_status_message.json",
            replace(
                AVAILABLE,
                status_message="Hello world a",
                status_message_expires=datetime(
                    9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC
                ),
                status_message_published=datetime(
                    2022, 10, 18, 0, 7, 15, 401251, tzinfo=UTC
                ),
            ),
        ),
        (
            "graph/presence_other_user_status_message.json",
            replace(AVAILABLE, status_message="Hey I am available now"),
        ),
        (
            "graph/presence_out_of_office_sequence.json",
            replace(AVAILABLE, sequence_number="A0129311063"),
        ),
    ],
)
async def test_documented_presence_reads(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
    name: str,
    expected: PresenceSnapshot,
) -> None:
    graph, client = documented_graph
    graph.body = documented(name)
    assert await client.get_presence() == expected


async def test_documented_work_location_representation(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
) -> None:
    """Its placeholders are no values Graph has: they read as unknown, not as errors."""
    graph, client = documented_graph
    graph.body = {
        **documented("graph/presence_out_of_office_sequence.json"),
        "workLocation": documented("graph/user_work_location.json"),
    }
    assert (await client.get_presence()).work_location == WorkLocation(
        WorkLocationType.UNKNOWN, WorkLocationSource.UNKNOWN, "String"
    )


async def test_documented_error(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
) -> None:
    graph, client = documented_graph
    graph.status, graph.body = 400, documented("graph/error.json")
    with pytest.raises(GraphValidationError) as err:
        await client.set_manual_location(WorkLocationUpdate(WorkLocationType.OFFICE))
    assert (err.value.status, err.value.code, err.value.message) == (
        400,
        "invalidRange",
        "Uploaded fragment overlaps with existing data.",
    )


async def test_documented_throttling(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
) -> None:
    graph, client = documented_graph
    graph.status, graph.body = 429, documented("graph/error_throttled.json")
    graph.headers = {"Retry-After": "10"}
    with pytest.raises(GraphThrottledError) as err:
        await client.get_presence()
    assert (err.value.code, err.value.message, err.value.retry_after) == (
        "TooManyRequests",
        "Please retry again later.",
        10.0,
    )


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("graph/set_manual_location_request.json", "setManualLocation"),
        ("graph/set_automatic_location_request.json", "setAutomaticLocation"),
    ],
)
async def test_work_location_writes_send_the_documented_body(
    emulator: GraphEmulator, name: str, action: str
) -> None:
    body = documented(name)
    update = WorkLocationUpdate(
        WorkLocationType.parse(body["workLocationType"]), body["placeId"]
    )

    async def token() -> str:
        return emulator.issue_token()

    async with ClientSession() as http:
        client = GraphPresenceClient(http, token, base_url=emulator.graph_url)
        write = (
            client.set_manual_location
            if action == "setManualLocation"
            else client.set_automatic_location
        )
        await write(update)
    [call] = emulator.graph_calls(action)
    assert (call.body, call.status) == (body, 200)


async def test_documented_bulk_read(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
) -> None:
    graph, client = documented_graph
    graph.body = documented("graph/get_presences_by_user_id_response.json")
    ids = documented("graph/get_presences_by_user_id_request.json")["ids"]
    batch = await client.get_presences(ids)
    assert batch == PresenceBatch(
        {
            ids[0]: PresenceSnapshot(
                Availability.BUSY, Activity.IN_A_MEETING, "Busy", "InAMeeting"
            ),
            ids[1]: PresenceSnapshot(Availability.AWAY, Activity.AWAY, "Away", "Away"),
        },
        frozenset(),
    )


async def test_bulk_read_sends_the_documented_body(emulator: GraphEmulator) -> None:
    body = documented("graph/get_presences_by_user_id_request.json")

    async def token() -> str:
        return emulator.issue_token(scopes=("Presence.Read.All",))

    async with ClientSession() as http:
        client = GraphPresenceClient(http, token, base_url=emulator.graph_url)
        batch = await client.get_presences(body["ids"])
    [call] = emulator.graph_calls("getPresencesByUserId")
    assert (call.body, call.status) == (body, 200)
    assert batch.missing == frozenset(body["ids"])  # nobody of these in the emulator


async def test_documented_search_refusal(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
) -> None:
    graph, client = documented_graph
    graph.status = 400
    graph.body = documented("graph/error_search_without_consistency_level.json")
    with pytest.raises(GraphValidationError) as err:
        await client.search_people("wa")
    assert err.value.code == "Request_UnsupportedQuery"
