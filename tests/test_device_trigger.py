"""Device triggers: listed on the account's device, and fired by what Teams shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_get_device_automations,
)

from custom_components.teams_presence_keeper.const import DOMAIN
from custom_components.teams_presence_keeper.device_trigger import TRIGGERS
from graph_emulator import GraphEmulator

from .common import PRESENCE, advance, state_of

AUTOMATION_DOMAIN = "automation"
FIRED = "teams_presence_keeper_test_trigger_fired"
READ = timedelta(seconds=30)
"""The default read interval: one read of Graph."""
PRESENCE_TYPES = [
    "available",
    "available_idle",
    "away",
    "be_right_back",
    "busy",
    "busy_idle",
    "do_not_disturb",
    "offline",
    "presence_unknown",
]

STEPS: list[tuple[str, str, str]] = [
    # What a Teams client shows, and the status message, at each read.
    ("Available", "Available", ""),
    ("AvailableIdle", "AvailableInactive", ""),
    ("Away", "Away", ""),
    ("BeRightBack", "BeRightBack", ""),
    ("Busy", "InACall", ""),
    ("Busy", "InACall", "With a customer"),
    ("BusyIdle", "InAConferenceCall", "With a customer"),
    ("DoNotDisturb", "Presenting", "With a customer"),
    ("PresenceUnknown", "PresenceUnknown", ""),
    ("Offline", "Offline", ""),
]
FIRED_AT: dict[str, list[int]] = {
    # The steps (from 1) at which each trigger fires; at no other.
    "available": [1],
    "available_idle": [2],
    "away": [3],
    "be_right_back": [4],
    "busy": [5],
    "busy_idle": [7],
    "do_not_disturb": [8],
    "presence_unknown": [9],
    "offline": [10],
    "call_started": [5],  # a conference call and presenting go on with the call
    "call_ended": [9],
    "status_message_changed": [6, 9],
}


@pytest.fixture
def device(
    device_registry: dr.DeviceRegistry, setup_integration: MockConfigEntry
) -> dr.DeviceEntry:
    """The account's device."""
    [device] = dr.async_entries_for_config_entry(
        device_registry, setup_integration.entry_id
    )
    return device


async def automate(
    hass: HomeAssistant, device: dr.DeviceEntry, *trigger_types: str
) -> list[Event]:
    """Add one automation per trigger type, as the editor saves it; return firings."""
    fired: list[Event] = async_capture_events(hass, FIRED)
    assert await async_setup_component(
        hass,
        AUTOMATION_DOMAIN,
        {
            AUTOMATION_DOMAIN: [
                {
                    "alias": trigger_type,
                    "triggers": [
                        {
                            "trigger": "device",
                            "domain": DOMAIN,
                            "device_id": device.id,
                            "type": trigger_type,
                        }
                    ],
                    "actions": [
                        {
                            "event": FIRED,
                            "event_data": {
                                "type": trigger_type,
                                "from": "{{ trigger.from_state.state }}",
                                "to": "{{ trigger.to_state.state }}",
                            },
                        }
                    ],
                }
                for trigger_type in trigger_types
            ]
        },
    )
    await hass.async_block_till_done()
    assert [state.state for state in hass.states.async_all(AUTOMATION_DOMAIN)] == [
        "on"
    ] * len(trigger_types)
    return fired


async def read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    availability: str,
    activity: str,
    message: str = "",
) -> None:
    """Make Teams show this, as a Teams client and the user would; let it be read.

    On a loaded machine a read can end a step later than the interval (measured on
    2026.11 under load: a fetch spanning 10 s of the frozen clock): the clock goes on
    a second at a time until Graph was read.
    """
    reads = len(emulator.graph_calls("presence"))
    if availability == "Offline":
        emulator.remove_client_session("desktop")
    else:
        emulator.set_client_session("desktop", availability, activity)
    emulator.default_user.presence.set_status_message(message)
    await advance(hass, freezer, READ)
    for _ in range(30):
        if len(emulator.graph_calls("presence")) > reads:
            return
        await advance(hass, freezer, timedelta(seconds=1))
    raise AssertionError("Graph was not read")


def firings(fired: list[Event]) -> list[dict[str, Any]]:
    """What each firing said, by trigger type (one read fires them in any order)."""
    return sorted((dict(event.data) for event in fired), key=lambda data: data["type"])


async def busy_outage_reload_away(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    fired: list[Event],
) -> None:
    """Busy in a call; Graph unreachable, then read the same; a reload; then away.

    The call ends and the user steps away while Graph cannot be read. Asserts that
    neither the outage nor the reload fired anything.
    """
    await read(hass, freezer, emulator, "Busy", "InACall")
    fired_by_busy = len(fired)

    emulator.fail(1)
    await advance(hass, freezer, READ)
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE
    await advance(hass, freezer, READ)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, PRESENCE) == "busy"
    assert len(fired) == fired_by_busy

    emulator.fail(1)
    await advance(hass, freezer, READ)
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE
    await read(hass, freezer, emulator, "Away", "Away")


async def test_triggers_listed_for_the_device(
    hass: HomeAssistant, device: dr.DeviceEntry
) -> None:
    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, device.id
    )
    own = [
        {key: trigger[key] for key in ("platform", "domain", "device_id", "type")}
        for trigger in triggers
        if trigger["domain"] == DOMAIN
    ]
    assert own == [
        {"platform": "device", "domain": DOMAIN, "device_id": device.id, "type": kind}
        for kind in [
            *PRESENCE_TYPES,
            "call_started",
            "call_ended",
            "status_message_changed",
        ]
    ]
    # The editor names each one in the user's language.
    translations = await async_get_translations(
        hass, "en", "device_automation", [DOMAIN]
    )
    prefix = f"component.{DOMAIN}.device_automation.trigger_type"
    assert translations[f"{prefix}.busy"] == "Presence became Busy"
    assert translations[f"{prefix}.call_started"] == "A call started"
    assert {key.removeprefix(f"{prefix}.") for key in translations} == set(TRIGGERS)


async def test_each_trigger_fires_for_its_change_only(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    device: dr.DeviceEntry,
) -> None:
    fired = await automate(hass, device, *TRIGGERS)
    steps_fired: dict[str, list[int]] = {trigger_type: [] for trigger_type in TRIGGERS}
    for step, (availability, activity, message) in enumerate(STEPS, 1):
        fired.clear()
        await read(hass, freezer, emulator, availability, activity, message)
        for firing in firings(fired):
            steps_fired[firing["type"]].append(step)

    assert steps_fired == {
        trigger_type: FIRED_AT[trigger_type] for trigger_type in TRIGGERS
    }


async def test_a_firing_says_what_changed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    device: dr.DeviceEntry,
) -> None:
    fired = await automate(hass, device, "busy", "call_started", "call_ended")
    await read(hass, freezer, emulator, "Busy", "InACall")
    await read(hass, freezer, emulator, "Available", "Available")

    assert firings(fired) == [
        {"type": "busy", "from": "offline", "to": "busy"},
        {"type": "call_ended", "from": "on", "to": "off"},
        {"type": "call_started", "from": "off", "to": "on"},
    ]


async def test_unreachable_graph_neither_fires_again_nor_hides_a_change(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    device: dr.DeviceEntry,
) -> None:
    fired = await automate(hass, device, "busy", "away", "call_ended")
    await busy_outage_reload_away(hass, freezer, emulator, setup_integration, fired)
    assert firings(fired) == [
        {"type": "away", "from": "busy", "to": "away"},
        {"type": "busy", "from": "offline", "to": "busy"},
        {"type": "call_ended", "from": "on", "to": "off"},
    ]


@pytest.mark.parametrize(
    "renamed_first", [False, True], ids=["while-running", "before-the-automation"]
)
async def test_a_renamed_entity_still_fires(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    entity_registry: er.EntityRegistry,
    device: dr.DeviceEntry,
    renamed_first: bool,
) -> None:
    """Renamed while the automation runs, or before it loads (as after a restart)."""
    renamed = "sensor.teams_light_source"
    if renamed_first:
        entity_registry.async_update_entity(PRESENCE, new_entity_id=renamed)
        await hass.async_block_till_done()
    fired = await automate(hass, device, "busy", "available")
    if not renamed_first:
        entity_registry.async_update_entity(PRESENCE, new_entity_id=renamed)
        await hass.async_block_till_done()

    for availability, activity in (("Busy", "InACall"), ("Available", "Available")):
        await read(hass, freezer, emulator, availability, activity)

    assert state_of(hass, renamed) == "available"
    assert firings(fired) == [
        {"type": "available", "from": "busy", "to": "available"},
        {"type": "busy", "from": "offline", "to": "busy"},
    ]
