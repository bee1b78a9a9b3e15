"""The blueprints validate, import, and drive the integration against the emulator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from custom_components.teams_presence.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import advance, state_of
from .conftest import CLIENT_ID

BLUEPRINTS = Path(__file__).parent.parent / "blueprints" / "automation" / DOMAIN
DOOR = "binary_sensor.office_door"
LIGHT = "light.busy_light"


@pytest.mark.parametrize("name", ["busy_light.yaml", "door_sensor.yaml"])
def test_blueprint_is_valid(name: str) -> None:
    blueprint = models.Blueprint(
        load_yaml_dict(str(BLUEPRINTS / name)),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.domain == "automation"
    assert blueprint.metadata["source_url"].endswith(f"/{DOMAIN}/{name}")


async def use_blueprint(hass: HomeAssistant, name: str, inputs: dict[str, Any]) -> None:
    """Import the blueprint as a user would, and create an automation from it."""
    folder = Path(hass.config.path("blueprints", "automation", DOMAIN))
    await hass.async_add_executor_job(_copy, BLUEPRINTS / name, folder)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": name,
                "use_blueprint": {"path": f"{DOMAIN}/{name}", "input": inputs},
            }
        },
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


async def test_busy_light_follows_presence(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    turn_on: list[ServiceCall] = async_mock_service(hass, "light", "turn_on")
    turn_off: list[ServiceCall] = async_mock_service(hass, "light", "turn_off")
    await use_blueprint(
        hass,
        "busy_light.yaml",
        {"presence_sensor": "sensor.adele_vance_presence", "light": LIGHT},
    )
    coordinator = setup_integration.runtime_data

    emulator.set_client_session("desktop", "Busy", "InACall")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert turn_on[-1].data == {"entity_id": [LIGHT], "rgb_color": [255, 0, 0]}

    emulator.set_client_session("desktop", "Available", "Available")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert turn_on[-1].data["rgb_color"] == [0, 200, 0]

    emulator.remove_client_session("desktop")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.adele_vance_presence") == "offline"
    assert turn_off[-1].data == {"entity_id": [LIGHT]}
