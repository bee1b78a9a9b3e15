"""Purpose-specific conditions, in real automations, against what Teams shows."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import PRESENCE, advance, state_of
from .test_device_trigger import READ, read
from .test_trigger import WORK_LOCATION, device, new_triggers_conditions

__all__ = ["device", "new_triggers_conditions"]  # fixtures shared with test_trigger

AUTOMATION_DOMAIN = "automation"
ASK = "teams_presence_keeper_test_ask"
HELD = "teams_presence_keeper_test_held"


async def conditions_hold(
    hass: HomeAssistant, conditions: dict[str, dict[str, Any]]
) -> dict[str, bool]:
    """Which conditions hold now: one automation each, asked by an event."""
    held = async_capture_events(hass, HELD)
    hass.bus.async_fire(ASK)
    await hass.async_block_till_done()
    said = {event.data["name"] for event in held}
    return {name: name in said for name in conditions}


async def automate(hass: HomeAssistant, conditions: dict[str, dict[str, Any]]) -> None:
    """One automation per named condition, run by the ASK event."""
    assert await async_setup_component(
        hass,
        AUTOMATION_DOMAIN,
        {
            AUTOMATION_DOMAIN: [
                {
                    "alias": name,
                    "triggers": [{"trigger": "event", "event_type": ASK}],
                    "conditions": [condition],
                    "actions": [{"event": HELD, "event_data": {"name": name}}],
                }
                for name, condition in conditions.items()
            ]
        },
    )
    await hass.async_block_till_done()
    assert [state.state for state in hass.states.async_all(AUTOMATION_DOMAIN)] == [
        "on"
    ] * len(conditions)


def conditions_of(device: dr.DeviceEntry) -> dict[str, dict[str, Any]]:
    """Each condition, targeted at the account's device or at its entity."""
    return {
        "busy_or_dnd": {
            "condition": f"{DOMAIN}.presence_is",
            "target": {"device_id": device.id},
            "options": {"availability": ["busy", "do_not_disturb"]},
        },
        "away": {
            "condition": f"{DOMAIN}.presence_is",
            "target": {"entity_id": PRESENCE},
            "options": {"availability": "away"},
        },
        "in_a_call": {
            "condition": f"{DOMAIN}.in_a_call",
            "target": {"device_id": device.id},
        },
        "in_the_office": {
            "condition": f"{DOMAIN}.work_location_is",
            "target": {"device_id": device.id},
            "options": {"work_location": ["office"]},
        },
    }


@pytest.mark.usefixtures("new_triggers_conditions")
async def test_each_condition_true_and_false(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    device: dr.DeviceEntry,
) -> None:
    conditions = conditions_of(device)
    await automate(hass, conditions)
    none_hold = dict.fromkeys(conditions, False)
    assert await conditions_hold(hass, conditions) == none_hold

    emulator.set_scheduled_location("office")
    await read(hass, freezer, emulator, "Busy", "InACall")
    assert await conditions_hold(hass, conditions) == {
        "busy_or_dnd": True,
        "away": False,
        "in_a_call": True,
        "in_the_office": True,
    }

    emulator.set_scheduled_location("timeOff")
    await read(hass, freezer, emulator, "DoNotDisturb", "Presenting")
    assert await conditions_hold(hass, conditions) == {
        "busy_or_dnd": True,
        "away": False,
        "in_a_call": True,
        "in_the_office": False,
    }

    await read(hass, freezer, emulator, "Away", "Away")
    assert await conditions_hold(hass, conditions) == {
        "busy_or_dnd": False,
        "away": True,
        "in_a_call": False,
        "in_the_office": False,
    }

    # Graph cannot be read: nothing is known to hold.
    emulator.fail(1)
    await advance(hass, freezer, READ)
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE
    assert await conditions_hold(hass, conditions) == none_hold
    assert state_of(hass, WORK_LOCATION) == STATE_UNAVAILABLE


@pytest.mark.usefixtures("setup_integration")
async def test_titles_in_every_language(hass: HomeAssistant) -> None:
    """The editor names each condition and its field from the translations."""
    prefix = f"component.{DOMAIN}.conditions"
    english = await async_get_translations(hass, "en", "conditions", [DOMAIN])
    french = await async_get_translations(hass, "fr", "conditions", [DOMAIN])
    assert english[f"{prefix}.presence_is.name"] == "Teams presence is"
    assert french[f"{prefix}.in_a_call.name"] == "Dans un appel Teams"
    assert (
        french[f"{prefix}.work_location_is.fields.work_location.name"]
        == "Lieu de travail"
    )
