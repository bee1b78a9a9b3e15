"""A followed person's device in automations, as the account's; the Anyone busy light."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import MAJOR_VERSION, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.common import state_of
from tests.test_blueprints import (  # noqa: F401 (fixtures)
    GREEN,
    LIGHT,
    RED,
    Light,
    automations_stop_first,
    light,
    use_blueprint,
)
from tests.test_condition import automate as automate_conditions, conditions_hold
from tests.test_device_trigger import (
    PRESENCE_TYPES,
    automate as automate_device_triggers,
    firings,
)
from tests.test_people import (
    MEGAN_IN_A_CALL,
    MEGAN_PRESENCE,
    enable,
    follow,
    megan,
    person_device,
    read_people,
)
from tests.test_person_flow import (  # noqa: F401 (fixtures)
    account,
    colleagues,
    granted_scopes,
)
from tests.test_trigger import automate as automate_triggers

__all__ = ["megan"]  # a fixture shared with test_people

ANYONE_BUSY = "binary_sensor.adele_vance_anyone_busy"


@pytest.fixture
def megans_device(
    hass: HomeAssistant,
    account: MockConfigEntry,  # noqa: F811
    megan: User,
) -> dr.DeviceEntry:
    device = person_device(hass, account, megan)
    assert device is not None
    return device


async def show(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    person: User,
    availability: str,
    activity: str,
) -> None:
    """Let the person's Teams show this; let it be read."""
    emulator.set_client_session("teams", availability, activity, user=person)
    await read_people(hass, freezer, emulator)


async def trigger_types(hass: HomeAssistant, device: dr.DeviceEntry) -> list[str]:
    """The device triggers the automation editor offers for ``device``."""
    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, device.id
    )
    return [t["type"] for t in triggers if t["domain"] == DOMAIN]


async def test_device_triggers_of_a_followed_person(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    megan: User,
    megans_device: dr.DeviceEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call's triggers wait for In a call, disabled by default, to be enabled.

    The editor offers them once it is; one saved before says why it does not fire,
    and fires once it is enabled, without reloading the automation.
    """
    # In a call is disabled; no status message sensor: no trigger on either.
    assert await trigger_types(hass, megans_device) == PRESENCE_TYPES
    fired = await automate_device_triggers(
        hass, megans_device, "busy", "call_started", "call_ended"
    )
    assert caplog.text.count(f"fires once {MEGAN_IN_A_CALL} is enabled") == 2

    await show(hass, freezer, emulator, megan, "Busy", "InACall")
    assert firings(fired) == [{"type": "busy", "from": "available", "to": "busy"}]

    await enable(hass, freezer, MEGAN_IN_A_CALL)
    assert await trigger_types(hass, megans_device) == [
        *PRESENCE_TYPES,
        "call_started",
        "call_ended",
    ]
    await show(hass, freezer, emulator, megan, "Available", "Available")
    await show(hass, freezer, emulator, megan, "Busy", "InACall")

    assert firings(fired) == [
        {"type": "busy", "from": "available", "to": "busy"},
        {"type": "busy", "from": "available", "to": "busy"},
        {"type": "call_ended", "from": "on", "to": "off"},
        {"type": "call_started", "from": "off", "to": "on"},
    ]


@pytest.fixture
async def new_triggers_conditions(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, megan: User
) -> None:
    """Turn on the Labs preview "New triggers and conditions" (2025.12 has it)."""
    assert await async_setup_component(hass, "labs", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "labs/update",
            "domain": "automation",
            "preview_feature": "new_triggers_conditions",
            "enabled": True,
        }
    )
    answer = await client.receive_json()
    assert answer["success"] if MAJOR_VERSION == 2025 else not answer["success"]


@pytest.mark.usefixtures("new_triggers_conditions")
async def test_purpose_triggers_of_a_followed_person(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    megan: User,
    megans_device: dr.DeviceEntry,
) -> None:
    await enable(hass, freezer, MEGAN_IN_A_CALL)  # disabled by default
    target = {"device_id": megans_device.id}
    fired = await automate_triggers(
        hass,
        {
            "busy": {
                "trigger": f"{DOMAIN}.presence_became",
                "target": target,
                "options": {"availability": ["busy"]},
            },
            "call_started": {"trigger": f"{DOMAIN}.call_started", "target": target},
        },
    )

    await show(hass, freezer, emulator, megan, "Busy", "InACall")

    assert firings(fired) == [
        {"type": "busy", "from": "available", "to": "busy"},
        {"type": "call_started", "from": "off", "to": "on"},
    ]


@pytest.mark.usefixtures("new_triggers_conditions")
async def test_conditions_of_a_followed_person(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    megan: User,
    megans_device: dr.DeviceEntry,
) -> None:
    await enable(hass, freezer, MEGAN_IN_A_CALL)  # disabled by default
    target = {"device_id": megans_device.id}
    conditions: dict[str, dict[str, Any]] = {
        "busy": {
            "condition": f"{DOMAIN}.presence_is",
            "target": target,
            "options": {"availability": ["busy"]},
        },
        "in_a_call": {"condition": f"{DOMAIN}.in_a_call", "target": target},
        "by_entity": {
            "condition": f"{DOMAIN}.presence_is",
            "target": {"entity_id": MEGAN_PRESENCE},
            "options": {"availability": "available"},
        },
    }
    await automate_conditions(hass, conditions)
    assert await conditions_hold(hass, conditions) == {
        "busy": False,
        "in_a_call": False,
        "by_entity": True,
    }

    await show(hass, freezer, emulator, megan, "Busy", "InACall")

    assert await conditions_hold(hass, conditions) == {
        "busy": True,
        "in_a_call": True,
        "by_entity": False,
    }


async def test_busy_light_follows_a_followed_person(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    megan: User,
    megans_device: dr.DeviceEntry,
    light: Light,  # noqa: F811
) -> None:
    await use_blueprint(
        hass, "busy_light.yaml", {"account": megans_device.id, "light": LIGHT}
    )
    await show(hass, freezer, emulator, megan, "Busy", "InACall")
    assert light.showing() == (STATE_ON, RED)

    await show(hass, freezer, emulator, megan, "Available", "Available")
    assert light.showing() == (STATE_ON, GREEN)


async def tick(hass: HomeAssistant, entry: MockConfigEntry, people: list[User]) -> None:
    """Tick ``people`` for Anyone busy in the options, as a user does."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "read_interval": 30,
            "expiration": 60,
            "clear_on_remove": True,
            "anyone_busy": [person.id for person in people],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()  # the options reload the account


async def test_anyone_busy(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    megan, lee = colleagues
    await follow(hass, account, megan)
    await follow(hass, account, lee)
    await show(hass, freezer, emulator, lee, "Busy", "InACall")
    assert state_of(hass, ANYONE_BUSY) == "off"  # nobody ticked

    await tick(hass, account, [megan])
    assert state_of(hass, ANYONE_BUSY) == "off"  # Lee is busy, but not ticked

    await show(hass, freezer, emulator, megan, "DoNotDisturb", "Presenting")
    state = hass.states.get(ANYONE_BUSY)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["busy"] == ["Megan Bowen"]
    assert state.attributes["watched"] == ["Megan Bowen"]

    await tick(hass, account, [megan, lee])
    await show(hass, freezer, emulator, megan, "Away", "Away")
    state = hass.states.get(ANYONE_BUSY)
    assert state is not None
    assert (state.state, state.attributes["busy"]) == ("on", ["Lee Gu"])

    await show(hass, freezer, emulator, lee, "Available", "Available")
    assert state_of(hass, ANYONE_BUSY) == "off"
