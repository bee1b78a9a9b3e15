"""Breaks of following people: changes of people racing setup, reloads and reads."""

from __future__ import annotations

from types import MappingProxyType

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.common import state_of, step_until
from tests.test_people import (
    MEGAN_PRESENCE,
    bulk_reads,
    enable,
    follow,
    person_device,
    read_people,
)
from tests.test_person_flow import (  # noqa: F401 (fixtures)
    account,
    colleagues,
    configure,
    granted_scopes,
    start,
)


def person_subentry(person: User) -> ConfigSubentry:
    """The subentry the "Add person" flow stores for ``person``."""
    return ConfigSubentry(
        data=MappingProxyType(
            {"user_id": person.id, "display_name": person.display_name}
        ),
        subentry_type="person",
        title=person.display_name,
        unique_id=person.id,
    )


async def come_back_as_another_object(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    person: User,
    subentry_id: str,
) -> User:
    """Take ``person`` out of the directory, back as a new object (Busy), picked again.

    As after someone's account was deleted and made anew: reconfigure finds them
    by e-mail under another object id.
    """
    emulator.remove_user(person)
    await read_people(hass, freezer, emulator)
    back = emulator.add_colleague(
        display_name=person.display_name,
        upn=person.upn,
        availability="Busy",
        activity="Busy",
    )
    result = await start(hass, entry, subentry_id)
    result = await configure(hass, result, {"query": person.upn})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    return back


async def test_a_person_back_with_another_object_id_keeps_their_entities(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """Picked again after leaving and coming back as a new object: the same slot.

    The entity ids automations name stay; nothing of the old object id is left.
    """
    megan, _ = colleagues
    subentry_id = await follow(hass, account, megan)
    entities = er.async_get(hass)
    entity_ids = {
        entity.entity_id
        for entity in er.async_entries_for_config_entry(entities, account.entry_id)
        if entity.config_subentry_id == subentry_id
    }
    back = await come_back_as_another_object(
        hass, freezer, emulator, account, megan, subentry_id
    )

    assert person_device(hass, account, megan) is None
    device = person_device(hass, account, back)
    assert device is not None
    now = {
        entity.entity_id
        for entity in er.async_entries_for_config_entry(entities, account.entry_id)
        if entity.config_subentry_id == subentry_id
    }
    assert now == entity_ids
    assert {
        entity.entity_id
        for entity in er.async_entries_for_device(
            entities, device.id, include_disabled_entities=True
        )
    } == entity_ids
    assert state_of(hass, MEGAN_PRESENCE) == "busy"
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), account.entry_id)
    assert len(devices) == 2  # the account's and hers


ANYONE_BUSY = "binary_sensor.adele_vance_anyone_busy"


async def test_anyone_busy_goes_with_the_last_person_followed(
    hass: HomeAssistant,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """Nobody followed, no group light: not one left unavailable for ever."""
    megan, _ = colleagues
    subentry_id = await follow(hass, account, megan)
    assert state_of(hass, ANYONE_BUSY) == "off"

    assert hass.config_entries.async_remove_subentry(account, subentry_id)
    await hass.async_block_till_done()

    assert account.state is ConfigEntryState.LOADED
    assert hass.states.get(ANYONE_BUSY) is None
    assert (
        er.async_get(hass).async_get_entity_id(
            "binary_sensor", "teams_presence_keeper", f"{account.unique_id}_anyone_busy"
        )
        is None
    )


async def test_the_options_save_with_a_removed_person_still_ticked(
    hass: HomeAssistant,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """The form offers ticks of people followed now; one ticked before stays in it."""
    megan, lee = colleagues
    megan_subentry = await follow(hass, account, megan)
    await follow(hass, account, lee)
    hass.config_entries.async_update_entry(
        account, options={**account.options, "anyone_busy": [megan.id, lee.id]}
    )
    await hass.async_block_till_done()
    assert hass.config_entries.async_remove_subentry(account, megan_subentry)
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(account.entry_id)
    assert result["type"] is FlowResultType.FORM
    schema = result["data_schema"]
    assert schema is not None
    shown = {
        str(key): key.description["suggested_value"]
        for key in schema.schema
        if key.description and "suggested_value" in key.description
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        shown,  # what the form sends back untouched
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert account.options["anyone_busy"] == [lee.id]


async def test_a_failed_first_read_of_people_keeps_their_work_location(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """Graph failing the people's read at a reload takes no sensor away for good."""
    megan, _ = colleagues
    await follow(hass, account, megan)
    work_location = "sensor.megan_bowen_work_location"
    await enable(hass, freezer, work_location)  # disabled by default
    assert state_of(hass, work_location) != STATE_UNAVAILABLE

    emulator.requests.clear()
    emulator.delay(1, 0)  # the account's own read goes through
    emulator.fail(1, 503)  # the people's does not
    assert await hass.config_entries.async_reload(account.entry_id)
    await hass.async_block_till_done()
    assert [r.status for r in emulator.requests if r.server == "graph"][:2] == [
        200,
        503,
    ]
    assert state_of(hass, MEGAN_PRESENCE) == STATE_UNAVAILABLE

    await read_people(hass, freezer, emulator)
    assert state_of(hass, MEGAN_PRESENCE) == "available"
    state = hass.states.get(work_location)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
    assert "restored" not in state.attributes


async def test_a_person_removed_while_the_account_is_unloaded_takes_their_repair(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """A disabled account (or one waiting to sign in) keeps no repair of nobody."""
    megan, _ = colleagues
    subentry_id = await follow(hass, account, megan)
    emulator.remove_user(megan)
    await read_people(hass, freezer, emulator)
    issue_id = f"person_missing_{account.entry_id}_{megan.id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert await hass.config_entries.async_unload(account.entry_id)

    assert hass.config_entries.async_remove_subentry(account, subentry_id)
    await hass.async_block_till_done()

    assert account.state is ConfigEntryState.NOT_LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_an_account_removed_while_a_person_is_checked_ends_the_flow(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """Removed while Graph reads the person found: the flow says so, no error."""
    megan, _ = colleagues
    result = await start(hass, account)
    emulator.requests.clear()
    emulator.delay(1, 0)  # the lookup
    emulator.delay(1, 2)  # reading them
    flow = hass.async_create_task(
        hass.config_entries.subentries.async_configure(
            result["flow_id"], {"query": megan.upn}
        )
    )
    await step_until(hass, freezer, lambda: bulk_reads(emulator))

    await hass.config_entries.async_remove(account.entry_id)
    result = await flow

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"


async def test_a_person_back_with_another_object_id_stays_ticked_for_anyone_busy(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """The door light watches them under the object id they are picked by now."""
    megan, _ = colleagues
    subentry_id = await follow(hass, account, megan)
    hass.config_entries.async_update_entry(
        account, options={**account.options, "anyone_busy": [megan.id]}
    )
    await hass.async_block_till_done()
    back = await come_back_as_another_object(
        hass, freezer, emulator, account, megan, subentry_id
    )

    assert account.options["anyone_busy"] == [back.id]
    state = hass.states.get(ANYONE_BUSY)
    assert state is not None
    assert (state.state, state.attributes["watched"]) == ("on", ["Megan Bowen"])
