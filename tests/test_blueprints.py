"""The blueprints validate, import, and drive the integration against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.const import (
    EVENT_HOMEASSISTANT_START,
    EVENT_STATE_CHANGED,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import (
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import CLIENT_ID, PRESENCE, advance, state_of

BLUEPRINTS = Path(__file__).parent.parent / "blueprints" / "automation" / DOMAIN
DOOR = "binary_sensor.office_door"
LIGHT = "light.busy_light"
RED = (255, 0, 0)
GREEN = (0, 200, 0)
WHITE = (255, 255, 255)
"""The busy light's default colours: Busy, Available, Unknown."""


@pytest.mark.parametrize("name", ["busy_light.yaml", "door_sensor.yaml"])
def test_blueprint_is_valid(name: str) -> None:
    blueprint = models.Blueprint(
        load_yaml_dict(str(BLUEPRINTS / name)),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.domain == "automation"
    assert blueprint.metadata["source_url"].endswith(f"/{DOMAIN}/{name}")


def test_busy_light_offers_only_teams_accounts() -> None:
    """The picker lists this integration's devices: no sensor to get wrong."""
    inputs = load_yaml_dict(str(BLUEPRINTS / "busy_light.yaml"))["blueprint"]["input"]
    assert inputs["account"]["selector"] == {
        "device": {"filter": [{"integration": DOMAIN}]}
    }


def automation_config(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The configuration of one automation made from the blueprint `name`."""
    use = {"path": f"{DOMAIN}/{name}", "input": inputs}
    return {"automation": [{"id": name, "use_blueprint": use}]}


async def use_blueprint(hass: HomeAssistant, name: str, inputs: dict[str, Any]) -> None:
    """Import the blueprint as a user would, and create an automation from it."""
    folder = Path(hass.config.path("blueprints", "automation", DOMAIN))
    await hass.async_add_executor_job(_copy, BLUEPRINTS / name, folder)
    assert await async_setup_component(
        hass, "automation", automation_config(name, inputs)
    )
    await hass.async_block_till_done()
    automations = hass.states.async_all("automation")
    assert [state.state for state in automations] == ["on"]


def _copy(source: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, folder / source.name)


async def test_door_sensor_sets_and_clears(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    hass.states.async_set(DOOR, "on", {"device_class": "door"})
    await use_blueprint(
        hass,
        "door_sensor.yaml",
        {
            "door": DOOR,
            "account": setup_integration.entry_id,
            "max_duration": {"hours": 1, "minutes": 0, "seconds": 0},
        },
    )

    hass.states.async_set(DOOR, "off", {"device_class": "door"})
    await hass.async_block_till_done()
    assert emulator.graph_calls("setPresence")[-1].body["activity"] == "Presenting"
    assert emulator.presence() == ("DoNotDisturb", "Presenting")

    hass.states.async_set(DOOR, "on", {"device_class": "door"})
    await hass.async_block_till_done()
    assert emulator.graph_calls("clearPresence")[-1].body == {"sessionId": CLIENT_ID}
    assert emulator.app_session(CLIENT_ID) is None

    # Closed for longer than the maximum: cleared at the maximum.
    hass.states.async_set(DOOR, "off", {"device_class": "door"})
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(minutes=61), step=timedelta(minutes=1))
    assert emulator.app_session(CLIENT_ID) is None
    assert len(emulator.graph_calls("clearPresence")) == 2


class Light:
    """A real RGB light (a template light, optimistic) and every state it showed."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Keep the hass the light lives in; `set_up` creates it."""
        self.hass = hass
        self.shown: list[tuple[str, tuple[int, ...] | None]] = []

    async def set_up(self) -> None:
        """Create the light as `light.busy_light`, and start recording its states."""
        assert await async_setup_component(
            self.hass,
            "template",
            {
                "template": [
                    {
                        "light": [
                            {
                                "name": "Busy light",
                                "turn_on": [],
                                "turn_off": [],
                                "set_rgb": [],
                            }
                        ]
                    }
                ]
            },
        )
        await self.hass.async_block_till_done()
        self.hass.bus.async_listen(EVENT_STATE_CHANGED, self._record)

    @callback
    def _record(self, event: Event[EventStateChangedData]) -> None:
        """Note each state as it is written (a tracker would hear of it later)."""
        new_state = event.data["new_state"]
        if event.data["entity_id"] == LIGHT and new_state is not None:
            self.shown.append(_shown(new_state))

    def showing(self) -> tuple[str, tuple[int, ...] | None]:
        """Whether it is on now, and its colour."""
        state = self.hass.states.get(LIGHT)
        assert state is not None
        return _shown(state)


def _shown(state: State) -> tuple[str, tuple[int, ...] | None]:
    rgb = state.attributes.get("rgb_color")
    return (state.state, tuple(rgb) if rgb is not None else None)


@pytest.fixture(autouse=True)
async def automations_stop_first(hass: HomeAssistant) -> AsyncIterator[None]:
    """Turn automations off before the test's end unloads the account.

    Home Assistant stops them before anything else; here the account would go
    unavailable under them, and the wait for the Unknown colour would linger.
    """
    yield
    if hass.services.has_service("automation", "turn_off"):
        await hass.services.async_call(
            "automation", "turn_off", {"entity_id": "all"}, blocking=True
        )


@pytest.fixture
async def light(hass: HomeAssistant) -> Light:
    light = Light(hass)
    await light.set_up()
    return light


def account_device(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """The account's device id, as the blueprint's device picker gives it."""
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    return device.id


async def busy_light(
    hass: HomeAssistant, entry: MockConfigEntry, **inputs: Any
) -> None:
    """An automation from the busy light blueprint, for the account's device."""
    await use_blueprint(
        hass,
        "busy_light.yaml",
        {"account": account_device(hass, entry), "light": LIGHT, **inputs},
    )


async def show(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    availability: str | None,
    activity: str = "",
) -> None:
    """Let the desktop client show a presence (None: it quits), and read it."""
    if availability is None:
        emulator.remove_client_session("desktop")
    else:
        emulator.set_client_session("desktop", availability, activity)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def during_a_call(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    light: Light,
    **inputs: Any,
) -> None:
    """The busy light's automation, then a call: the light is red."""
    await busy_light(hass, entry, **inputs)
    await show(hass, emulator, entry, "Busy", "InACall")
    assert light.showing() == (STATE_ON, RED)


async def test_busy_light_follows_presence(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    light: Light,
) -> None:
    await busy_light(hass, setup_integration)

    for availability, activity, shown in (
        ("Busy", "InACall", (STATE_ON, RED)),
        ("DoNotDisturb", "Presenting", (STATE_ON, (160, 0, 160))),
        ("BeRightBack", "BeRightBack", (STATE_ON, (255, 160, 0))),
        ("Available", "Available", (STATE_ON, GREEN)),
        (None, "", (STATE_OFF, None)),  # the client quits: Offline
    ):
        await show(hass, emulator, setup_integration, availability, activity)
        assert light.showing() == shown, availability
    assert state_of(hass, PRESENCE) == "offline"


async def test_busy_light_is_right_as_soon_as_it_is_saved(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    light: Light,
) -> None:
    await show(hass, emulator, setup_integration, "Busy", "InACall")
    inputs = {"account": account_device(hass, setup_integration), "light": LIGHT}
    await use_blueprint(hass, "busy_light.yaml", inputs)
    assert light.shown == []  # no change of presence yet, nothing to do
    # The automation editor saves an automation by reloading it.
    with patch(
        "homeassistant.config.load_yaml_config_file",
        return_value=automation_config("busy_light.yaml", inputs),
    ):
        await hass.services.async_call(
            "automation", "reload", {"id": "busy_light.yaml"}, blocking=True
        )
    await hass.async_block_till_done()
    assert light.showing() == (STATE_ON, RED)


async def test_busy_light_keeps_its_colour_while_graph_is_unreachable(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    light: Light,
) -> None:
    await during_a_call(hass, emulator, setup_integration, light)

    await emulator.refuse_connections()
    await advance(hass, freezer, timedelta(minutes=4, seconds=50))
    assert state_of(hass, PRESENCE) == "unavailable"
    assert light.shown[-1] == (STATE_ON, RED)
    # Unknown for the default 5 minutes, counted from when the sensor went
    # unavailable (its first failed read, at most a read interval in).
    await advance(hass, freezer, timedelta(seconds=40))
    assert light.showing() == (STATE_ON, WHITE)

    await emulator.accept_connections()
    await advance(hass, freezer, timedelta(seconds=30))
    assert state_of(hass, PRESENCE) == "busy"
    assert light.showing() == (STATE_ON, RED)
    assert STATE_OFF not in {on for on, _ in light.shown}


@pytest.mark.parametrize("reason", ["reload", "restart"])
async def test_busy_light_keeps_its_colour_while_the_account_loads(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    light: Light,
    reason: str,
) -> None:
    """A reload or a restart of Home Assistant during a call: still red."""
    await during_a_call(hass, emulator, setup_integration, light)
    shown = len(light.shown)

    entry_id = setup_integration.entry_id
    assert await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, PRESENCE) == "unavailable"
    if reason == "restart":
        # As Home Assistant starts: the sensor unavailable until the account loads.
        hass.bus.async_fire(EVENT_HOMEASSISTANT_START)
        await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(minutes=4))
    assert light.shown[shown:] == []

    assert await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, PRESENCE) == "busy"
    assert light.showing() == (STATE_ON, RED)
    # Past the 5 minutes: the wait for the Unknown colour ended with the account.
    await advance(hass, freezer, timedelta(minutes=5))
    assert light.shown[shown:] == []


async def test_busy_light_never_shows_unknown_when_asked(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    light: Light,
) -> None:
    never = {"hours": 0, "minutes": 0, "seconds": 0}
    await during_a_call(hass, emulator, setup_integration, light, unknown_after=never)
    await emulator.refuse_connections()
    await advance(hass, freezer, timedelta(hours=2), step=timedelta(minutes=1))
    assert state_of(hass, PRESENCE) == "unavailable"
    assert light.showing() == (STATE_ON, RED)


async def test_busy_light_finds_presence_whatever_its_entity_id(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    entity_registry: er.EntityRegistry,
    setup_integration: MockConfigEntry,
    light: Light,
) -> None:
    """The device's other enum sensor (Activity) and a renamed entity id mislead nothing."""
    entity_registry.async_update_entity(PRESENCE, new_entity_id="sensor.door_sign")
    await hass.async_block_till_done()
    await busy_light(hass, setup_integration)

    await show(hass, emulator, setup_integration, "Available", "Available")
    assert light.showing() == (STATE_ON, GREEN)
    await show(hass, emulator, setup_integration, "Busy", "InACall")
    assert state_of(hass, "sensor.door_sign") == "busy"
    assert light.showing() == (STATE_ON, RED)
