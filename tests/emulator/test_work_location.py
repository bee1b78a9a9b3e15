"""Work location over HTTP: its layers, the four writes, who may write, and where."""

from __future__ import annotations

from typing import Any

import pytest

from graph_emulator import GraphEmulator

from .conftest import FakeClock, GraphClient
from .test_graph_api import SET_BUSY, error_of

PLACE = "eb706f15-137e-4722-b4d1-b601481d9251"
OFFICE = {"workLocationType": "office", "placeId": PLACE}
REMOTE = {"workLocationType": "remote"}
WRITES: list[tuple[str, dict[str, Any] | None]] = [
    ("setManualLocation", OFFICE),
    ("setAutomaticLocation", OFFICE),
    ("clearAutomaticLocation", None),
    ("clearLocation", None),
]


async def shown(graph: GraphClient) -> dict[str, Any]:
    answer = await graph.get("/me/presence")
    assert answer.status == 200
    work_location: dict[str, Any] = answer.body["workLocation"]
    return work_location


def location(location_type: str, source: str, place_id: str | None = None) -> Any:
    return {"workLocationType": location_type, "source": source, "placeId": place_id}


async def test_no_layer_is_unspecified(graph: GraphClient) -> None:
    assert await shown(graph) == location("unspecified", "none")


async def test_the_plan_shows_when_nothing_else_is_set(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.set_scheduled_location("timeOff")
    assert await shown(graph) == location("timeOff", "scheduled")
    emulator.set_scheduled_location(None)
    assert await shown(graph) == location("unspecified", "none")


async def test_manual_over_automatic_over_scheduled(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.set_scheduled_location("office", "building-1")
    answer = await graph.post("/me/presence/setAutomaticLocation", REMOTE)
    assert (answer.status, answer.body) == (200, None)
    assert await shown(graph) == location("remote", "automatic")
    assert (await graph.post("/me/presence/setManualLocation", OFFICE)).status == 200
    assert await shown(graph) == location("office", "manual", PLACE)
    # An agent that detects the location again never overrides the user's choice.
    await graph.post(
        "/me/presence/setAutomaticLocation", {"workLocationType": "timeOff"}
    )
    assert await shown(graph) == location("office", "manual", PLACE)
    [*_, last] = emulator.graph_calls("setManualLocation")
    assert (last.body, last.status) == (OFFICE, 200)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        # Clearing the detected location never clears the user's own choice...
        ("clearAutomaticLocation", location("office", "manual", PLACE)),
        # ...clearing both layers shows the plan again.
        ("clearLocation", location("remote", "scheduled")),
    ],
)
async def test_clearing(
    graph: GraphClient, emulator: GraphEmulator, action: str, expected: Any
) -> None:
    emulator.set_scheduled_location("remote")
    await graph.post("/me/presence/setManualLocation", OFFICE)
    await graph.post(
        "/me/presence/setAutomaticLocation", {"workLocationType": "timeOff"}
    )
    answer = await graph.post(f"/me/presence/{action}")
    assert (answer.status, answer.body) == (200, None)
    assert await shown(graph) == expected
    assert emulator.default_user.presence.automatic_location is None


async def test_clearing_what_is_not_set_succeeds(graph: GraphClient) -> None:
    for action in ("clearAutomaticLocation", "clearLocation"):
        assert (await graph.post(f"/me/presence/{action}")).status == 200
    assert await shown(graph) == location("unspecified", "none")


@pytest.mark.parametrize(
    "location_type", ["unspecified", "office", "remote", "timeOff"]
)
@pytest.mark.parametrize("action", ["setManualLocation", "setAutomaticLocation"])
async def test_every_documented_type_is_taken(
    graph: GraphClient, action: str, location_type: str
) -> None:
    answer = await graph.post(
        f"/me/presence/{action}", {"workLocationType": location_type}
    )
    assert answer.status == 200
    source = "manual" if action == "setManualLocation" else "automatic"
    assert await shown(graph) == location(location_type, source)


async def test_through_the_users_path(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    path = f"/users/{emulator.default_user.id}/presence/setManualLocation"
    assert (await graph.post(path, REMOTE)).status == 200
    assert await shown(graph) == location("remote", "manual")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"placeId": PLACE},
        {"workLocationType": None},
        {"workLocationType": 3},
        {"workLocationType": ""},
        {"workLocationType": "home"},
        {"workLocationType": "Office"},
        {"workLocationType": "time_off"},
        {"workLocationType": "unknownFutureValue"},
        {"workLocationType": "office", "placeId": 7},
        {"workLocationType": "office", "placeId": " "},
    ],
)
@pytest.mark.parametrize("action", ["setManualLocation", "setAutomaticLocation"])
async def test_bad_bodies_are_graphs_400(
    graph: GraphClient, emulator: GraphEmulator, action: str, body: Any
) -> None:
    emulator.set_scheduled_location("remote")
    answer = await graph.post(f"/me/presence/{action}", body)
    assert answer.status == 400
    code, message = error_of(answer)
    assert code == "BadRequest"
    assert message
    assert await shown(graph) == location("remote", "scheduled")


@pytest.mark.parametrize(("action", "body"), WRITES)
@pytest.mark.parametrize("path", ["/me", "/users/{user}"])
async def test_application_tokens_are_refused(
    graph: GraphClient,
    emulator: GraphEmulator,
    action: str,
    body: dict[str, Any] | None,
    path: str,
) -> None:
    """Delegated only: even Presence.ReadWrite.All does not grant these."""
    graph.token = emulator.issue_app_token()
    answer = await graph.post(
        f"{path.format(user=emulator.default_user.id)}/presence/{action}", body
    )
    assert answer.status == 403
    assert error_of(answer) == ("Forbidden", "")


@pytest.mark.parametrize(("action", "body"), WRITES)
async def test_presence_read_is_not_enough(
    graph: GraphClient, emulator: GraphEmulator, action: str, body: Any
) -> None:
    graph.token = emulator.issue_token(scopes=["Presence.Read", "User.Read"])
    answer = await graph.post(f"/me/presence/{action}", body)
    assert answer.status == 403
    assert error_of(answer) == ("Forbidden", "")


async def test_another_users_location_is_not_writable(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    other = emulator.add_user(display_name="Alex Wilber", upn="alexw@contoso.example")
    answer = await graph.post(f"/users/{other.id}/presence/setManualLocation", REMOTE)
    assert answer.status == 403
    assert other.presence.manual_location is None


@pytest.mark.parametrize(
    ("cloud", "offered"),
    [
        (
            "global",
            {
                "setManualLocation",
                "setAutomaticLocation",
                "clearAutomaticLocation",
                "clearLocation",
            },
        ),
        ("us_government", {"setManualLocation", "clearLocation"}),
        ("us_government_dod", {"setManualLocation", "clearLocation"}),
        ("china", set()),
    ],
)
async def test_where_graph_offers_the_writes(
    graph: GraphClient, emulator: GraphEmulator, cloud: str, offered: set[str]
) -> None:
    emulator.cloud = cloud
    for action, body in WRITES:
        answer = await graph.post(f"/me/presence/{action}", body)
        if action in offered:
            assert answer.status == 200, action
        else:
            assert answer.status == 400, action
            assert error_of(answer) == (
                "BadRequest",
                f"Resource not found for the segment '{action}'.",
            )


def test_unknown_cloud_is_refused(emulator: GraphEmulator) -> None:
    with pytest.raises(ValueError, match="cloud"):
        emulator.cloud = "mars"
    assert emulator.cloud == "global"


def test_scheduled_location_of_unknown_type_is_refused(emulator: GraphEmulator) -> None:
    with pytest.raises(ValueError, match="workLocationType"):
        emulator.set_scheduled_location("home")


async def test_sequence_number_grows_with_every_change(
    graph: GraphClient, emulator: GraphEmulator, clock: FakeClock
) -> None:
    async def stamp() -> str:
        number: str = (await graph.get("/me/presence")).body["sequenceNumber"]
        return number

    stamps = [await stamp()]
    assert await stamp() == stamps[0], "a read alone changes nothing"
    writes: list[tuple[str, dict[str, Any] | None]] = [
        (
            "setPresence",
            {**SET_BUSY, "availability": "Available", "activity": "Available"},
        ),
        ("setManualLocation", REMOTE),
        (
            "setStatusMessage",
            {"statusMessage": {"message": {"content": "Hi", "contentType": "text"}}},
        ),
        ("clearLocation", None),
    ]
    for action, body in writes:
        assert (await graph.post(f"/me/presence/{action}", body)).status == 200
        stamps.append(await stamp())
    emulator.set_out_of_office(True, "Back on Monday")
    stamps.append(await stamp())
    clock.advance(minutes=5)  # the Available session fades: a change nobody wrote
    stamps.append(await stamp())
    assert stamps == sorted(set(stamps)), stamps
    assert len({len(number) for number in stamps}) == 1
