"""Following people: their entities, read in one batched request per interval.

Driven through the real "Add person" subentry flow against the emulator.
"""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.common import advance, state_of
from tests.test_person_flow import (  # noqa: F401 (fixtures)
    account,
    add,
    colleagues,
    granted_scopes,
)

MEGAN_PRESENCE = "sensor.megan_bowen_presence"
MEGAN_ACTIVITY = "sensor.megan_bowen_activity"
MEGAN_BUSY = "binary_sensor.megan_bowen_busy"
MEGAN_IN_A_CALL = "binary_sensor.megan_bowen_in_a_call"
MEGAN_OUT_OF_OFFICE = "binary_sensor.megan_bowen_out_of_office"
READ_INTERVAL = timedelta(seconds=30)


async def follow(hass: HomeAssistant, entry: MockConfigEntry, person: User) -> str:
    """Add ``person`` through the flow, as the entry's page does; return the subentry."""
    result = await add(hass, entry, person.upn)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return next(
        str(subentry.subentry_id)
        for subentry in entry.subentries.values()
        if subentry.unique_id == person.id
    )


def bulk_reads(emulator: GraphEmulator) -> list[dict[str, object]]:
    """The bodies of the batched presence reads that reached the emulator."""
    return [
        r.body
        for r in emulator.requests
        if r.path == "/v1.0/communications/getPresencesByUserId"
    ]


async def test_a_colleague_added_from_the_ui_follows_teams_by_read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    megan, _ = colleagues
    subentry_id = await follow(hass, account, megan)

    device = dr.async_get(hass).async_get_device(
        {(DOMAIN, f"{account.unique_id}_person_{megan.id}")}
    )
    assert device is not None
    assert device.name == "Megan Bowen"
    account_device = dr.async_get(hass).async_get_device(
        {(DOMAIN, str(account.unique_id))}
    )
    assert account_device is not None
    assert device.via_device_id == account_device.id
    assert device.config_entries_subentries == {account.entry_id: {subentry_id}}
    entities = er.async_entries_for_device(er.async_get(hass), device.id)
    assert {entity.entity_id for entity in entities} == {
        MEGAN_PRESENCE,
        MEGAN_ACTIVITY,
        MEGAN_BUSY,
        MEGAN_IN_A_CALL,
        MEGAN_OUT_OF_OFFICE,
        "sensor.megan_bowen_work_location",  # Graph returns one for her
    }
    assert {entity.config_subentry_id for entity in entities} == {subentry_id}
    assert state_of(hass, MEGAN_PRESENCE) == "available"
    assert state_of(hass, MEGAN_BUSY) == "off"

    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    emulator.set_out_of_office(True, "Back Monday", user=megan)
    emulator.requests.clear()
    await advance(hass, freezer, READ_INTERVAL)

    assert bulk_reads(emulator) == [{"ids": [megan.id]}]
    assert state_of(hass, MEGAN_PRESENCE) == "busy"
    assert state_of(hass, MEGAN_ACTIVITY) == "in_a_call"
    assert state_of(hass, MEGAN_BUSY) == "on"
    assert state_of(hass, MEGAN_IN_A_CALL) == "on"
    assert state_of(hass, MEGAN_OUT_OF_OFFICE) == "on"
    out = hass.states.get(MEGAN_OUT_OF_OFFICE)
    assert out is not None
    assert out.attributes["message"] == "Back Monday"
