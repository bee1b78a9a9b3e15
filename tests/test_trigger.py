"""Purpose-specific triggers, in real automations, fired by what Teams shows."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import MAJOR_VERSION, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import PRESENCE, advance, state_of
from .test_device_trigger import READ, STEPS, busy_outage_reload_away, firings, read

AUTOMATION_DOMAIN = "automation"
FIRED = "teams_presence_keeper_test_trigger_fired"
WORK_LOCATION = "sensor.adele_vance_work_location"


@pytest.fixture
async def new_triggers_conditions(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    setup_integration: MockConfigEntry,
) -> None:
    """Turn on the Labs preview "New triggers and conditions", as a user does.

    2025.12 has it; from 2026 on the framework is general and the flag is gone.
    The account is set up first: the websocket client starts the HTTP server.
    """
    assert await async_setup_component(hass, "labs", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "labs/update",
            "domain": AUTOMATION_DOMAIN,
            "preview_feature": "new_triggers_conditions",
            "enabled": True,
        }
    )
    answer = await client.receive_json()
    if MAJOR_VERSION == 2025:
        assert answer["success"], answer
    else:
        assert answer["error"]["code"] == "not_found", answer


@pytest.fixture
def device(
    device_registry: dr.DeviceRegistry, setup_integration: MockConfigEntry
) -> dr.DeviceEntry:
    """The account's device."""
    [device] = dr.async_entries_for_config_entry(
        device_registry, setup_integration.entry_id
    )
    return device


def on_device(device: dr.DeviceEntry, kind: str, **options: Any) -> dict[str, Any]:
    """A trigger of ours targeted at the account's device, as the editor saves it."""
    return {
        "trigger": f"{DOMAIN}.{kind}",
        "target": {"device_id": device.id},
        **({"options": options} if options else {}),
    }


async def automate(
    hass: HomeAssistant, triggers: dict[str, dict[str, Any]]
) -> list[Event]:
    """Add one automation per named trigger; return the firings."""
    fired: list[Event] = async_capture_events(hass, FIRED)
    assert await async_setup_component(
        hass,
        AUTOMATION_DOMAIN,
        {
            AUTOMATION_DOMAIN: [
                {
                    "alias": name,
                    "triggers": [trigger],
                    "actions": [
                        {
                            "event": FIRED,
                            "event_data": {
                                "type": name,
                                "from": "{{ trigger.from_state.state }}",
                                "to": "{{ trigger.to_state.state }}",
                            },
                        }
                    ],
                }
                for name, trigger in triggers.items()
            ]
        },
    )
    await hass.async_block_till_done()
    assert [state.state for state in hass.states.async_all(AUTOMATION_DOMAIN)] == [
        "on"
    ] * len(triggers)
    return fired


def presence_triggers(device: dr.DeviceEntry, *names: str) -> dict[str, dict[str, Any]]:
    """The presence and call triggers named (all by default), at device or entity."""
    triggers = {
        "busy": on_device(device, "presence_became", availability=["busy"]),
        "busy_or_busy_idle": {
            "trigger": f"{DOMAIN}.presence_became",
            "target": {"entity_id": PRESENCE},
            "options": {"availability": ["busy", "busy_idle"]},
        },
        "away": on_device(device, "presence_became", availability="away"),
        "call_started": on_device(device, "call_started"),
        "call_ended": on_device(device, "call_ended"),
        "status_message_changed": on_device(device, "status_message_changed"),
    }
    return {name: triggers[name] for name in names or triggers}


FIRED_AT: dict[str, list[int]] = {
    # The steps of STEPS (from 1) at which each trigger fires; at no other.
    "busy": [5],
    "busy_or_busy_idle": [5],  # busy to busy, idle stays within the choice
    "away": [3],
    "call_started": [5],
    "call_ended": [9],
    "status_message_changed": [6, 9],
}


@pytest.mark.usefixtures("new_triggers_conditions")
async def test_each_trigger_fires_once_for_its_change(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    device: dr.DeviceEntry,
) -> None:
    fired = await automate(hass, presence_triggers(device))
    steps_fired: dict[str, list[int]] = {name: [] for name in FIRED_AT}
    for step, (availability, activity, message) in enumerate(STEPS, 1):
        fired.clear()
        await read(hass, freezer, emulator, availability, activity, message)
        for firing in firings(fired):
            steps_fired[firing["type"]].append(step)

    assert steps_fired == FIRED_AT


@pytest.mark.usefixtures("new_triggers_conditions")
async def test_work_location_changed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    device: dr.DeviceEntry,
) -> None:
    fired = await automate(
        hass, {"work_location": on_device(device, "work_location_changed")}
    )
    for location in ("office", "office", "timeOff"):
        emulator.set_scheduled_location(location)
        await advance(hass, freezer, READ)

    assert state_of(hass, WORK_LOCATION) == "time_off"
    assert firings(fired) == [
        {"type": "work_location", "from": "unspecified", "to": "office"},
        {"type": "work_location", "from": "office", "to": "time_off"},
    ]


@pytest.mark.usefixtures("new_triggers_conditions")
async def test_no_firing_again_after_an_outage_or_a_reload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    device: dr.DeviceEntry,
) -> None:
    fired = await automate(
        hass, presence_triggers(device, "busy", "away", "call_started", "call_ended")
    )
    await busy_outage_reload_away(hass, freezer, emulator, setup_integration, fired)
    assert firings(fired) == [
        {"type": "away", "from": "busy", "to": "away"},
        {"type": "busy", "from": "offline", "to": "busy"},
        {"type": "call_ended", "from": "on", "to": "off"},
        {"type": "call_started", "from": "off", "to": "on"},
    ]


@pytest.mark.usefixtures("new_triggers_conditions")
async def test_no_firing_for_what_a_restart_reads_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    device: dr.DeviceEntry,
) -> None:
    """The automations start before the account is read, as after a restart."""
    await read(hass, freezer, emulator, "Busy", "InACall")
    assert await hass.config_entries.async_unload(setup_integration.entry_id)
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE
    fired = await automate(hass, presence_triggers(device, "busy", "call_started"))

    assert await hass.config_entries.async_setup(setup_integration.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, PRESENCE) == "busy"
    assert fired == []

    await read(hass, freezer, emulator, "Available", "Available")
    await read(hass, freezer, emulator, "Busy", "InACall")
    assert firings(fired) == [
        {"type": "busy", "from": "available", "to": "busy"},
        {"type": "call_started", "from": "off", "to": "on"},
    ]


async def test_yaml_needs_no_labs_flag(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    device: dr.DeviceEntry,
) -> None:
    """2025.12 gates only core's own platforms by the flag; ours load either way."""
    fired = await automate(
        hass, {"busy": on_device(device, "presence_became", availability=["busy"])}
    )
    await read(hass, freezer, emulator, "Busy", "InACall")
    assert firings(fired) == [{"type": "busy", "from": "offline", "to": "busy"}]


async def test_an_unknown_availability_is_refused(
    hass: HomeAssistant, device: dr.DeviceEntry, caplog: pytest.LogCaptureFixture
) -> None:
    assert await async_setup_component(
        hass,
        AUTOMATION_DOMAIN,
        {
            AUTOMATION_DOMAIN: {
                "alias": "typo",
                "triggers": [
                    on_device(device, "presence_became", availability="bussy")
                ],
                "actions": [],
            }
        },
    )
    await hass.async_block_till_done()
    assert state_of(hass, "automation.typo") == STATE_UNAVAILABLE
    assert "value must be one of ['available', " in caplog.text


@pytest.mark.usefixtures("setup_integration")
async def test_titles_in_every_language(hass: HomeAssistant) -> None:
    """The editor names each trigger and its field from the translations."""
    names = {
        language: await async_get_translations(hass, language, "triggers", [DOMAIN])
        for language in ("en", "de", "ja")
    }
    prefix = f"component.{DOMAIN}.triggers"
    assert names["en"][f"{prefix}.presence_became.name"] == "Teams presence became"
    assert names["de"][f"{prefix}.call_started.name"] == "Teams-Anruf begonnen"
    assert (
        names["ja"][f"{prefix}.presence_became.fields.availability.name"] == "在席状況"
    )
