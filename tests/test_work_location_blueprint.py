"""The "Teams work location from home" blueprint drives the emulator from zones."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator, RecordedRequest

from .common import select
from .test_blueprints import (
    BLUEPRINTS,
    # Automations stop before the account unloads, as when Home Assistant stops.
    automations_stop_first,  # noqa: F401
    use_blueprint,
)

BLUEPRINT = "work_location.yaml"
PERSON = "person.adele"
DAY_OFF = "input_boolean.day_off"
HOLIDAYS = "calendar.holidays"
SENSOR = "sensor.adele_vance_work_location"
SELECT = "select.adele_vance_work_location"
MONDAY = date(2026, 11, 23)
SATURDAY = date(2026, 11, 28)


def test_blueprint_is_valid_and_offers_only_teams_accounts() -> None:
    config = load_yaml_dict(str(BLUEPRINTS / BLUEPRINT))
    blueprint = models.Blueprint(
        config, expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.metadata["source_url"].endswith(f"/{DOMAIN}/{BLUEPRINT}")
    inputs = config["blueprint"]["input"]
    assert inputs["account"]["selector"] == {
        "device": {"filter": [{"integration": DOMAIN}]}
    }
    assert inputs["layer"]["default"] == "automatic"


def move_to(freezer: FrozenDateTimeFactory, day: date, at: time = time(9)) -> None:
    """Set the clock to a day and local time (Home Assistant's zone)."""
    freezer.move_to(datetime.combine(day, at, tzinfo=dt_util.get_default_time_zone()))


def location_writes(emulator: GraphEmulator) -> list[RecordedRequest]:
    return [r for r in emulator.requests if "Location" in r.path.rpartition("/")[2]]


def last_write(emulator: GraphEmulator) -> tuple[str, Any]:
    """The last work-location operation sent, and its body."""
    request = location_writes(emulator)[-1]
    return request.path.rpartition("/")[2], request.body


def shown(hass: HomeAssistant) -> tuple[str, str]:
    state = hass.states.get(SENSOR)
    assert state is not None
    return state.state, state.attributes["source"]


async def change(
    hass: HomeAssistant, entry: MockConfigEntry, entity: str, state: str
) -> None:
    """Set an entity's state, let the automation run, and read Teams."""
    hass.states.async_set(entity, state)
    await hass.async_block_till_done()
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def be(hass: HomeAssistant, entry: MockConfigEntry, where: str) -> None:
    """The person is somewhere now: a zone's name, home or not_home."""
    await change(hass, entry, PERSON, where)


async def work_location_from_home(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    **inputs: Any,
) -> None:
    """An office zone, a person at home on a Monday, and the automation."""
    move_to(freezer, MONDAY)
    assert await async_setup_component(
        hass,
        "zone",
        {"zone": [{"name": "Office", "latitude": 52.37, "longitude": 4.89}]},
    )
    hass.states.async_set(PERSON, "not_home")
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    await use_blueprint(
        hass,
        BLUEPRINT,
        {
            "account": device.id,
            "person": PERSON,
            "office_zone": "zone.office",
            **inputs,
        },
    )


async def test_zones_set_the_automatic_layer(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    await work_location_from_home(hass, freezer, setup_integration)

    await be(hass, setup_integration, "home")
    assert last_write(emulator) == (
        "setAutomaticLocation",
        {"workLocationType": "remote"},
    )
    assert shown(hass) == ("remote", "automatic")

    # On the way: nothing is sent.
    await be(hass, setup_integration, "not_home")
    assert len(location_writes(emulator)) == 1

    await be(hass, setup_integration, "Office")
    assert last_write(emulator) == (
        "setAutomaticLocation",
        {"workLocationType": "office"},
    )
    assert shown(hass) == ("office", "automatic")

    # A location picked by hand still wins over the automatic layer.
    await select(hass, "remote", SELECT)
    await be(hass, setup_integration, "home")
    await be(hass, setup_integration, "Office")
    assert last_write(emulator) == (
        "setAutomaticLocation",
        {"workLocationType": "office"},
    )
    assert shown(hass) == ("remote", "manual")


async def test_time_off_and_days_off(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    hass.states.async_set(DAY_OFF, "off")
    hass.states.async_set(HOLIDAYS, "off")
    await work_location_from_home(
        hass, freezer, setup_integration, time_off=[DAY_OFF, HOLIDAYS]
    )
    await be(hass, setup_integration, "home")
    assert shown(hass) == ("remote", "automatic")

    await change(hass, setup_integration, HOLIDAYS, "on")
    assert last_write(emulator) == (
        "setAutomaticLocation",
        {"workLocationType": "timeOff"},
    )
    assert shown(hass) == ("time_off", "automatic")
    await change(hass, setup_integration, HOLIDAYS, "off")
    assert shown(hass) == ("remote", "automatic")

    await change(hass, setup_integration, DAY_OFF, "on")
    await be(hass, setup_integration, "Office")  # time off, wherever the person is
    assert shown(hass) == ("time_off", "automatic")
    await change(hass, setup_integration, DAY_OFF, "off")
    assert shown(hass) == ("office", "automatic")

    # Saturday is no work day: what the automation wrote is cleared.
    move_to(freezer, SATURDAY)
    emulator.set_scheduled_location("timeOff")
    await be(hass, setup_integration, "home")
    assert last_write(emulator) == ("clearAutomaticLocation", None)
    assert shown(hass) == ("time_off", "scheduled")


async def test_the_manual_layer_when_chosen(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    await work_location_from_home(
        hass, freezer, setup_integration, layer="manual", work_days=["mon"]
    )
    await select(hass, "office", SELECT)  # picked by hand, then overridden
    await be(hass, setup_integration, "home")
    assert last_write(emulator) == ("setManualLocation", {"workLocationType": "remote"})
    assert shown(hass) == ("remote", "manual")

    move_to(freezer, SATURDAY)
    await be(hass, setup_integration, "Office")
    assert last_write(emulator) == ("clearLocation", None)
    assert shown(hass) == ("unspecified", "none")


@pytest.mark.parametrize("at", ["home", "Office"])
async def test_the_work_day_starts_at_home(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    at: str,
) -> None:
    """Home overnight: Remote when the work day starts, with no zone change."""
    await work_location_from_home(
        hass, freezer, setup_integration, day_start="10:00:00"
    )
    await be(hass, setup_integration, at)
    sent = len(location_writes(emulator))
    move_to(freezer, MONDAY, time(10, 0, 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(location_writes(emulator)) == sent + 1
    expected = "remote" if at == "home" else "office"
    assert last_write(emulator) == (
        "setAutomaticLocation",
        {"workLocationType": expected},
    )
