"""Entity states, translated names and states, and icons, as a user sees them."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.icon import async_get_icons
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import advance, state_of
from .test_people import set_up_following
from .test_person_flow import account, colleagues, granted_scopes

__all__ = ["account", "colleagues", "granted_scopes"]  # fixtures of test_person_flow

SESSION_EXPIRES = "sensor.adele_vance_app_session_expires"


async def entity_table(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, entry: MockConfigEntry
) -> dict[str, dict[str, Any]]:
    """Everything a user sees of each entity, stable across Home Assistant versions."""
    translations = await async_get_translations(hass, "en", "entity", [DOMAIN])
    icons = (await async_get_icons(hass, "entity", [DOMAIN]))[DOMAIN]
    table = {}
    for entity in sorted(
        er.async_entries_for_config_entry(entity_registry, entry.entry_id),
        key=lambda entity: entity.entity_id,
    ):
        state = hass.states.get(entity.entity_id)
        key = f"{entity.domain}.{entity.translation_key}"
        prefix = f"component.{DOMAIN}.entity.{entity.domain}.{entity.translation_key}"
        icon_rules = icons[entity.domain][entity.translation_key]
        table[entity.entity_id] = {
            "unique_id": entity.unique_id,
            "translation_key": key,
            "name": translations[f"{prefix}.name"],
            "category": entity.entity_category,
            "disabled_by": entity.disabled_by,
            "state": state.state if state else None,
            "translated_state": translations.get(f"{prefix}.state.{state.state}")
            if state
            else None,
            "icon": icon_rules.get("state", {}).get(
                state.state if state else "", icon_rules["default"]
            ),
            # Plain string keys: from 2026.7 they are string-enum members, which
            # snapshots would print differently on each side of that release.
            "attributes": {str(key): value for key, value in state.attributes.items()}
            if state
            else None,
        }
    return table


@pytest.fixture
async def all_enabled(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    setup_integration: MockConfigEntry,
) -> MockConfigEntry:
    """Enable the diagnostic sensor that is off by default, and reload."""
    entity_registry.async_update_entity(SESSION_EXPIRES, disabled_by=None)
    await hass.config_entries.async_reload(setup_integration.entry_id)
    await hass.async_block_till_done()
    return setup_integration


async def test_entities_with_nothing_set(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    setup_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    table = await entity_table(hass, entity_registry, setup_integration)
    assert table[SESSION_EXPIRES]["disabled_by"] is er.RegistryEntryDisabler.INTEGRATION
    assert table == snapshot


@pytest.mark.freeze_time("2026-11-23 09:00:00+00:00")
async def test_entities_in_a_call_with_app_presence(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    emulator: GraphEmulator,
    all_enabled: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    emulator.set_client_session("desktop", "Busy", "InACall")
    emulator.set_out_of_office(True, "Back Monday")
    await hass.services.async_call(
        "select",
        "select_option",
        {
            "entity_id": "select.adele_vance_presence_from_home_assistant",
            "option": "do_not_disturb_presenting",
        },
        blocking=True,
    )
    await hass.services.async_call(
        DOMAIN,
        "set_status_message",
        {"config_entry_id": all_enabled.entry_id, "message": "Presenting the roadmap"},
        blocking=True,
    )
    assert await entity_table(hass, entity_registry, all_enabled) == snapshot


async def test_unknown_presence_is_shown_as_unknown_and_logged_once(
    hass: HomeAssistant,
    freezer: Any,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.set_client_session("desktop", "Focusing", "DeepWork")
    await advance(
        hass, freezer, setup_integration.runtime_data.coordinator.update_interval * 3
    )
    assert state_of(hass, "sensor.adele_vance_presence") == "presence_unknown"
    assert state_of(hass, "sensor.adele_vance_activity") == "presence_unknown"
    assert caplog.text.count("unknown availability 'Focusing'") == 1
    assert caplog.text.count("unknown activity 'DeepWork'") == 1


ALEX_ID = "0e5c3d61-7b1a-4c1e-9f1e-6a1b2c3d4e5f"
"""A fixed object id, so the followed person's unique ids are the same each run."""


async def test_entities_of_a_followed_person(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    alex = emulator.add_colleague(
        display_name="Alex Wilber",
        upn="alexw@contoso.example",
        availability="Busy",
        activity="InACall",
        user_id=ALEX_ID,
    )
    emulator.set_out_of_office(True, "Back Monday", user=alex)
    await set_up_following(hass, account, [alex])
    hass.config_entries.async_update_entry(
        account, options={**account.options, "anyone_busy": [ALEX_ID]}
    )
    for entity_id in (  # disabled by default; shown here with the rest
        "sensor.alex_wilber_activity",
        "sensor.alex_wilber_work_location",
        "binary_sensor.alex_wilber_in_a_call",
        "binary_sensor.alex_wilber_out_of_office",
    ):
        entity_registry.async_update_entity(entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(account.entry_id)
    await hass.async_block_till_done()

    table = await entity_table(hass, entity_registry, account)
    assert {
        entity_id: row for entity_id, row in table.items() if "alex" in entity_id
    } | {
        "binary_sensor.adele_vance_anyone_busy": table[
            "binary_sensor.adele_vance_anyone_busy"
        ]
    } == snapshot
