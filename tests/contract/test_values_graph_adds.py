"""Documented presence answers with values spelled otherwise, or added after us.

Graph has changed a value's casing before and adds availabilities and activities
over time. The client reads them (a known value in any casing; a new one as
unknown, its text kept), and Home Assistant shows them: the Presence and Activity
sensors keep the text in ``graph_value``, it is logged once per value, and the
Busy sensor follows the availability first, so a busy-like new activity never
turns a busy light off.
"""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.graph import (
    Activity,
    Availability,
    GraphPresenceClient,
)
from graph_emulator import GraphEmulator
from tests.common import advance, state_of

from .conftest import DocumentedGraph
from .shape import documented

PRESENCE = "sensor.adele_vance_presence"
ACTIVITY = "sensor.adele_vance_activity"
BUSY = "binary_sensor.adele_vance_busy"
IN_A_CALL = "binary_sensor.adele_vance_in_a_call"

# (availability, activity) as Graph answers them; what the client parses them to.
ANSWERS = [
    ("busy", "inacall", Availability.BUSY, Activity.IN_A_CALL),
    ("DoNotDisturb", "PRESENTING", Availability.DO_NOT_DISTURB, Activity.PRESENTING),
    ("Busy", "InAWebinar", Availability.BUSY, Activity.PRESENCE_UNKNOWN),
    (
        "doNotDisturb",
        "Focusing",
        Availability.DO_NOT_DISTURB,
        Activity.PRESENCE_UNKNOWN,
    ),
    ("Available", "InAWebinar", Availability.AVAILABLE, Activity.PRESENCE_UNKNOWN),
    ("Focusing", "InAMeeting", Availability.PRESENCE_UNKNOWN, Activity.IN_A_MEETING),
    ("Focusing", "DeepWork", Availability.PRESENCE_UNKNOWN, Activity.PRESENCE_UNKNOWN),
]


@pytest.mark.parametrize(
    ("availability", "activity", "parsed", "parsed_activity"), ANSWERS
)
async def test_client_reads_other_spellings_and_new_values(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
    availability: str,
    activity: str,
    parsed: Availability,
    parsed_activity: Activity,
) -> None:
    graph, client = documented_graph
    graph.body = documented("graph/presence_out_of_office_sequence.json") | {
        "availability": availability,
        "activity": activity,
    }
    snapshot = await client.get_presence()
    assert (snapshot.availability, snapshot.activity) == (parsed, parsed_activity)
    assert (snapshot.raw_availability, snapshot.raw_activity) == (
        availability,
        activity,
    )


@pytest.mark.parametrize(
    ("availability", "activity", "shown"),
    [
        # Presence, Activity, their graph_value attributes, Busy, In a call.
        ("busy", "inacall", ("busy", "in_a_call", None, None, "on", "on")),
        (
            "DoNotDisturb",
            "PRESENTING",
            ("do_not_disturb", "presenting", None, None, "on", "on"),
        ),
        # A busy-like activity added later: Busy follows the availability.
        (
            "Busy",
            "InAWebinar",
            ("busy", "presence_unknown", None, "InAWebinar", "on", "off"),
        ),
        (
            "doNotDisturb",
            "Focusing",
            ("do_not_disturb", "presence_unknown", None, "Focusing", "on", "off"),
        ),
        (
            "Available",
            "InAWebinar",
            ("available", "presence_unknown", None, "InAWebinar", "off", "off"),
        ),
        # A new availability: Busy from the activity, when that is known.
        (
            "Focusing",
            "InAMeeting",
            ("presence_unknown", "in_a_meeting", "Focusing", None, "on", "off"),
        ),
        # Nothing known: Busy is unknown, not off.
        (
            "Focusing",
            "DeepWork",
            (
                "presence_unknown",
                "presence_unknown",
                "Focusing",
                "DeepWork",
                "unknown",
                "off",
            ),
        ),
    ],
)
async def test_sensors_show_other_spellings_and_new_values(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    availability: str,
    activity: str,
    shown: tuple[str, str, str | None, str | None, str, str],
) -> None:
    emulator.set_client_session("desktop", availability, activity)
    await advance(hass, freezer, timedelta(minutes=2))
    presence, activity_state = hass.states.get(PRESENCE), hass.states.get(ACTIVITY)
    assert presence is not None
    assert activity_state is not None
    assert (
        presence.state,
        activity_state.state,
        presence.attributes["graph_value"],
        activity_state.attributes["graph_value"],
        state_of(hass, BUSY),
        state_of(hass, IN_A_CALL),
    ) == shown
    # Logged once per value Graph added, however many reads carried it.
    for kind, text in (("availability", shown[2]), ("activity", shown[3])):
        logged = caplog.text.count(f"unknown {kind} '{text}'")
        assert logged == (0 if text is None else 1)
