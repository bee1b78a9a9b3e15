"""Two colleagues of the signed-in user, for tests of following people."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import (
    CONF_DISPLAY_NAME,
    CONF_FOLLOW_PEOPLE,
    CONF_MAIL,
    CONF_USER_ID,
    PEOPLE_SCOPES,
    SUBENTRY_PERSON,
)
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.common import token_granting
from tests.conftest import TOKEN_LIFETIME_SECONDS
from tests.test_push import PUSH_SCOPES


def add_colleagues(emulator: GraphEmulator) -> list[User]:
    """Add Megan and Lee to the emulator's tenant, both Available in Teams."""
    return [
        emulator.add_colleague(
            display_name="Megan Bowen", upn="meganb@contoso.example"
        ),
        emulator.add_colleague(display_name="Lee Gu", upn="leeg@contoso.example"),
    ]


def everyone(emulator: GraphEmulator, colleagues: list[User]) -> list[str]:
    """The ids of the signed-in user and the colleagues, in that order."""
    return [emulator.default_user.id, *(colleague.id for colleague in colleagues)]


def follow(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    people: list[User],
) -> None:
    """Follow ``people`` with sign-in scopes that allow it."""
    for person in people:
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType(
                    {
                        CONF_USER_ID: person.id,
                        CONF_DISPLAY_NAME: person.display_name,
                        CONF_MAIL: person.upn,
                        "user_principal_name": person.upn,
                    }
                ),
                subentry_type=SUBENTRY_PERSON,
                title=person.display_name,
                unique_id=person.id,
            ),
        )
    if people:
        token = token_granting(
            emulator,
            entry.data["token"],
            (*PUSH_SCOPES, *PEOPLE_SCOPES),
            timedelta(seconds=TOKEN_LIFETIME_SECONDS),
        )
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, "token": token, CONF_FOLLOW_PEOPLE: True}
        )
