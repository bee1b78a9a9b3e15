"""Following people: their entities, read in one batched request per interval.

Driven through the real "Add person" subentry flow against the emulator.
"""

from __future__ import annotations

from datetime import timedelta
import logging
from types import MappingProxyType

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    RELOAD_AFTER_UPDATE_DELAY,
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.const import MAJOR_VERSION, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.colleagues import add_colleagues
from tests.common import advance, state_of
from tests.sign_in_helpers import async_application_entry
from tests.test_person_flow import (  # noqa: F401 (fixtures)
    account,
    add,
    colleagues,
    configure,
    granted_scopes,
)

MEGAN_PRESENCE = "sensor.megan_bowen_presence"
MEGAN_ACTIVITY = "sensor.megan_bowen_activity"
MEGAN_BUSY = "binary_sensor.megan_bowen_busy"
MEGAN_IN_A_CALL = "binary_sensor.megan_bowen_in_a_call"
MEGAN_OUT_OF_OFFICE = "binary_sensor.megan_bowen_out_of_office"
MEGAN_WORK_LOCATION = "sensor.megan_bowen_work_location"
LESS_USED = (MEGAN_ACTIVITY, MEGAN_IN_A_CALL, MEGAN_OUT_OF_OFFICE, MEGAN_WORK_LOCATION)
"""A followed person's entities registered disabled: Presence and Busy are enabled."""
READ_INTERVAL = timedelta(seconds=30)
DOMAIN_LOGGER = "custom_components.teams_presence_keeper"


async def follow(hass: HomeAssistant, entry: ConfigEntry, person: User) -> str:
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


async def enable(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, *entity_ids: str
) -> None:
    """Enable entities as the user does; Home Assistant reloads the entry after."""
    registry = er.async_get(hass)
    for entity_id in entity_ids:
        registry.async_update_entity(entity_id, disabled_by=None)
    await advance(hass, freezer, timedelta(seconds=RELOAD_AFTER_UPDATE_DELAY + 1))


async def read_people(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """Let a Read interval pass, and the people be read.

    On a loaded machine a read can end a step later than the interval: the clock
    goes on a second at a time until they were.
    """
    reads = len(bulk_reads(emulator))
    await advance(hass, freezer, READ_INTERVAL)
    for _ in range(30):
        if len(bulk_reads(emulator)) > reads:
            return
        await advance(hass, freezer, timedelta(seconds=1))
    raise AssertionError("the people were not read")


@pytest.fixture
async def megan(
    hass: HomeAssistant,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> User:
    """Megan, followed by the account from the UI."""
    await follow(hass, account, colleagues[0])
    return colleagues[0]


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

    device = person_device(hass, account, megan)
    assert device is not None
    assert device.name == "Megan Bowen"
    account_device = device_of(hass, account, str(account.unique_id))
    assert account_device is not None
    assert device.via_device_id == account_device.id
    if MAJOR_VERSION == 2025:
        assert device.config_entries_subentries == {account.entry_id: {subentry_id}}
    else:  # a device belongs to one entry, and one subentry of it
        owner = device.config_subentry_id  # type: ignore[attr-defined,unused-ignore]
        assert owner == subentry_id
    entities = er.async_entries_for_device(
        er.async_get(hass), device.id, include_disabled_entities=True
    )
    assert {entity.entity_id for entity in entities} == {
        MEGAN_PRESENCE,
        MEGAN_BUSY,
        *LESS_USED,  # Graph returns a work location for her
    }
    assert {entity.config_subentry_id for entity in entities} == {subentry_id}
    assert state_of(hass, MEGAN_PRESENCE) == "available"
    assert state_of(hass, MEGAN_BUSY) == "off"

    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    emulator.requests.clear()
    await read_people(hass, freezer, emulator)

    assert bulk_reads(emulator) == [{"ids": [megan.id]}]
    assert state_of(hass, MEGAN_PRESENCE) == "busy"
    assert state_of(hass, MEGAN_BUSY) == "on"


async def test_a_colleagues_less_used_entities_are_there_disabled_until_enabled(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """Activity, In a call, Out of office and Work location: each person has them.

    Registered, disabled by the integration (no state, nothing kept per person);
    enabled, they show the person after Home Assistant's reload of the entry.
    """
    megan, _ = colleagues
    await follow(hass, account, megan)
    registry = er.async_get(hass)
    for entity_id in LESS_USED:
        entity = registry.async_get(entity_id)
        assert entity is not None, entity_id
        assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(entity_id) is None
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    emulator.set_out_of_office(True, "Back Monday", user=megan)

    await enable(hass, freezer, *LESS_USED)

    assert account.state is ConfigEntryState.LOADED
    assert state_of(hass, MEGAN_ACTIVITY) == "in_a_call"
    assert state_of(hass, MEGAN_IN_A_CALL) == "on"
    assert state_of(hass, MEGAN_OUT_OF_OFFICE) == "on"
    out = hass.states.get(MEGAN_OUT_OF_OFFICE)
    assert out is not None
    assert out.attributes["message"] == "Back Monday"
    assert state_of(hass, MEGAN_WORK_LOCATION) not in (None, STATE_UNAVAILABLE)
    # The account's own are enabled as they were.
    assert state_of(hass, "sensor.adele_vance_activity") != STATE_UNAVAILABLE


def device_of(
    hass: HomeAssistant, entry: ConfigEntry, identifier: str
) -> dr.DeviceEntry | None:
    """The entry's device with this identifier of ours, if there is one."""
    return next(
        (
            device
            for device in dr.async_entries_for_config_entry(
                dr.async_get(hass), entry.entry_id
            )
            if (DOMAIN, identifier) in device.identifiers
        ),
        None,
    )


def person_device(
    hass: HomeAssistant, entry: ConfigEntry, person: User
) -> dr.DeviceEntry | None:
    return device_of(hass, entry, f"{entry.unique_id}_person_{person.id}")


async def set_up_following(
    hass: HomeAssistant, entry: ConfigEntry, people: list[User]
) -> None:
    """Reload ``entry`` following ``people``, as after adding each from the UI.

    Added while the entry is unloaded: one setup, not one reload per person.
    """
    assert await hass.config_entries.async_unload(entry.entry_id)
    for person in people:
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType(
                    {"user_id": person.id, "display_name": person.display_name}
                ),
                subentry_type="person",
                title=person.display_name,
                unique_id=person.id,
            ),
        )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize("count", [1, 10, 650])
async def test_one_request_per_interval_for_everyone(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    count: int,
) -> None:
    people = [
        emulator.add_colleague(
            display_name=f"Colleague {n}", upn=f"c{n}@contoso.example"
        )
        for n in range(count)
    ]
    await set_up_following(hass, account, people)
    emulator.set_client_session("teams", "Busy", "InACall", user=people[-1])
    emulator.requests.clear()

    for _ in range(3):
        await read_people(hass, freezer, emulator)

    ids = [person.id for person in people]
    assert bulk_reads(emulator) == [{"ids": ids}] * 3
    assert state_of(hass, f"sensor.colleague_{count - 1}_presence") == "busy"
    assert state_of(hass, "sensor.colleague_0_presence") == (
        "busy" if count == 1 else "available"
    )


async def test_removing_a_colleague_removes_their_device_and_entities(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    megan, lee = colleagues
    megan_subentry = await follow(hass, account, megan)
    await follow(hass, account, lee)
    device = person_device(hass, account, megan)
    assert device is not None

    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config_entries/subentries/delete",
            "entry_id": account.entry_id,
            "subentry_id": megan_subentry,
        }
    )
    assert (await client.receive_json())["success"]
    await hass.async_block_till_done()

    assert account.state is ConfigEntryState.LOADED
    assert person_device(hass, account, megan) is None
    assert er.async_entries_for_device(er.async_get(hass), device.id) == []
    assert hass.states.get(MEGAN_PRESENCE) is None
    emulator.requests.clear()
    await read_people(hass, freezer, emulator)
    assert bulk_reads(emulator) == [{"ids": [lee.id]}]
    assert state_of(hass, "sensor.lee_gu_presence") == "available"


async def test_renaming_a_colleague_renames_their_device(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    megan, _ = colleagues
    subentry_id = await follow(hass, account, megan)

    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config_entries/subentries/update",
            "entry_id": account.entry_id,
            "subentry_id": subentry_id,
            "title": "The boss",
        }
    )
    assert (await client.receive_json())["success"]
    await hass.async_block_till_done()

    device = person_device(hass, account, megan)
    assert device is not None
    assert device.name == "The boss"
    assert state_of(hass, MEGAN_PRESENCE) == "available"  # the entity id stays


async def test_a_colleague_who_leaves_the_directory_raises_a_repair_until_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    megan, lee = colleagues
    await follow(hass, account, megan)
    await follow(hass, account, lee)
    issue_id = f"person_missing_{account.entry_id}_{megan.id}"

    emulator.remove_user(megan)
    caplog.clear()
    for _ in range(3):
        await read_people(hass, freezer, emulator)

    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "person_missing"
    assert issue.translation_placeholders == {
        "account": "Adele Vance",
        "person": "Megan Bowen",
    }
    assert state_of(hass, MEGAN_PRESENCE) == STATE_UNAVAILABLE
    assert state_of(hass, MEGAN_BUSY) == STATE_UNAVAILABLE
    assert state_of(hass, "sensor.lee_gu_presence") == "available"
    assert state_of(hass, "sensor.adele_vance_presence") != STATE_UNAVAILABLE
    assert not [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name.startswith(DOMAIN_LOGGER)
    ]

    # Restored from the directory's deleted items: the same object id.
    emulator.add_colleague(display_name="Megan Bowen", upn=megan.upn, user_id=megan.id)
    await read_people(hass, freezer, emulator)

    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert state_of(hass, MEGAN_PRESENCE) == "available"


async def test_a_removed_colleagues_repair_goes_with_them(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    megan: User,
) -> None:
    subentry_id = next(iter(account.subentries))
    emulator.remove_user(megan)
    await read_people(hass, freezer, emulator)
    issue_id = f"person_missing_{account.entry_id}_{megan.id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None

    assert hass.config_entries.async_remove_subentry(account, subentry_id)
    await hass.async_block_till_done()

    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_a_throttled_read_of_people_holds_every_read_of_the_account(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    megan: User,
) -> None:
    people = account.runtime_data.people
    assert people is not None

    emulator.throttle(1, retry_after=100)
    await people.async_refresh()
    [throttled] = bulk_reads(emulator)[-1:]
    assert throttled == {"ids": [megan.id]}
    emulator.requests.clear()
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    await advance(hass, freezer, timedelta(seconds=90))

    assert [r.path for r in emulator.requests if r.server == "graph"] == []
    assert state_of(hass, MEGAN_PRESENCE) == "available"  # kept while waiting
    await advance(hass, freezer, timedelta(seconds=40))
    assert bulk_reads(emulator) == [{"ids": [megan.id]}]
    assert state_of(hass, MEGAN_PRESENCE) == "busy"
    assert emulator.graph_calls("presence")  # the account reads again too


@pytest.mark.usefixtures("enable_custom_integrations", "sign_in_guards")
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_an_application_account_follows_people_by_read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
) -> None:
    megan, _ = add_colleagues(emulator)
    entry = await async_application_entry(hass, emulator)
    await hass.async_block_till_done()
    emulator.default_app.app_roles = {"Presence.ReadWrite.All", "User.Read.All"}
    assert await hass.config_entries.async_reload(entry.entry_id)  # a new app token
    await hass.async_block_till_done()

    result = await add(hass, entry, "Megan")
    result = await configure(hass, result, {"person": megan.id})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.state is ConfigEntryState.LOADED
    await enable(hass, freezer, MEGAN_IN_A_CALL)  # disabled by default
    emulator.set_client_session("teams", "DoNotDisturb", "Presenting", user=megan)
    emulator.requests.clear()
    await read_people(hass, freezer, emulator)

    assert bulk_reads(emulator) == [{"ids": [megan.id]}]
    assert state_of(hass, MEGAN_PRESENCE) == "do_not_disturb"
    assert state_of(hass, MEGAN_IN_A_CALL) == "on"
