"""Followed people given past "Add person": restored, or made by other code."""

from __future__ import annotations

from types import MappingProxyType

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import (
    CONF_DISPLAY_NAME,
    CONF_USER_ID,
    DOMAIN,
    SUBENTRY_PERSON,
)
from custom_components.teams_presence_keeper.graph import presences_resource
from graph_emulator import GraphEmulator
from tests.colleagues import add_colleagues, follow
from tests.common import state_of
from tests.test_people_push import (  # noqa: F401 - the fixtures of an account with push
    account,
    granted_scopes,
    held_resources,
)
from tests.test_person_flow import follow_and_start, start
from tests.test_push import (  # noqa: F401 - the fixtures of an account with push
    cloud,
    cloud_connected,
    external_url,
    options,
    push_entry,
    rich_refused,
    settle,
    with_cloud,
)


async def test_a_person_stored_without_an_object_id_spoils_nobody_else(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
) -> None:
    """A subentry made past the flow naming an e-mail address, not an object id.

    Graph takes object ids only: the one stored wrongly is said missing (a repair),
    the others are read and pushed, and the account keeps its subscription.
    """
    assert await hass.config_entries.async_unload(account.entry_id)
    megan, _ = add_colleagues(emulator)
    follow(hass, emulator, account, [megan])
    hass.config_entries.async_add_subentry(
        account,
        ConfigSubentry(
            data=MappingProxyType(
                {CONF_USER_ID: "leeg@contoso.example", CONF_DISPLAY_NAME: "Lee Gu"}
            ),
            subentry_type=SUBENTRY_PERSON,
            title="Lee Gu",
            unique_id="leeg@contoso.example",
        ),
    )
    assert await hass.config_entries.async_setup(account.entry_id)
    await settle(hass, emulator)

    me = emulator.default_user.id
    assert held_resources(emulator) == [presences_resource([me, megan.id])]
    assert state_of(hass, "sensor.megan_bowen_presence") == "available"
    assert state_of(hass, "sensor.lee_gu_presence") == STATE_UNAVAILABLE
    assert [
        issue.translation_placeholders
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN and issue.translation_key == "person_missing"
    ] == [{"account": account.title, "person": "Lee Gu"}]
    megan.presence.client_sessions["teams"] = ("Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, "sensor.megan_bowen_presence") == "busy"


async def test_add_person_past_the_limit_says_how_many_are_followed(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
) -> None:
    """An entry restored with 651 people and Instant updates: the abort counts them.

    Not "already follows 649 people": the limit and the count are two numbers.
    """
    await follow_and_start(hass, emulator, config_entry, 651, instant_updates=True)

    result = await start(hass, config_entry)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "instant_updates_full"
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["people"] == "651"
    assert result["description_placeholders"]["most"] == "649"
