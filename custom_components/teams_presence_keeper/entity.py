"""Base entities: one service device per account and per followed person.

Names come from translations; a person's device is named after them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import (
    DeviceEntry,
    DeviceEntryType,
    DeviceInfo,
)
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import TeamsPresenceCoordinator
from .graph import (
    Activity,
    Availability,
    PresenceSnapshot,
    WorkLocationSource,
    WorkLocationType,
)
from .people import PeopleCoordinator, Person
from .runtime import TeamsPresenceAccount
from .shown import acting_context


def option(
    value: Availability | Activity | WorkLocationType | WorkLocationSource,
) -> str:
    """Name an enum value as a sensor's state and an action's answer do.

    The member name in snake case (``do_not_disturb``).
    """
    return value.name.lower()


def less_used[Description: EntityDescription](description: Description) -> Description:
    """Register a followed person's entity disabled until the user enables it.

    A busy light, a door light or a board of colleagues needs their Presence and
    Busy; each entity more costs every person followed (up to 650) a registry
    entry's worth of setup time and memory only, until enabled.
    """
    return replace(description, entity_registry_enabled_default=False)


def entity_unique_id(account_id: str, key: str) -> str:
    """Name an entity of an account by the account (tenant and user) and its key.

    Users rename entity ids; this stays, so device triggers find entities by it.
    """
    return f"{account_id}_{key}"


@callback
def async_remove_account_entity(
    hass: HomeAssistant, entry: ConfigEntry, platform: Platform, key: str
) -> None:
    """Remove an account's entity it no longer has, so none is left unavailable."""
    registry = er.async_get(hass)
    if entity_id := registry.async_get_entity_id(
        platform, DOMAIN, entity_unique_id(cast(str, entry.unique_id), key)
    ):
        registry.async_remove(entity_id)


def account_id_of(device: DeviceEntry) -> str | None:
    """Return the account (the entry's unique id) a device stands for, if ours."""
    return next(
        (identifier for domain, identifier in device.identifiers if domain == DOMAIN),
        None,
    )


def account_device(entry: ConfigEntry) -> DeviceInfo:
    """Describe the account's device: the signed-in person's account, named after them.

    Its model is the product, a name Microsoft does not translate (nor does Home
    Assistant translate models).
    """
    return DeviceInfo(
        # The flow always gives the entry its account's id: tenant and user.
        identifiers={(DOMAIN, cast(str, entry.unique_id))},
        name=entry.title,
        manufacturer="Microsoft",
        model="Microsoft Teams",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url="https://teams.microsoft.com",
    )


class TeamsPresenceEntity(CoordinatorEntity[TeamsPresenceCoordinator]):
    """A view of one account's coordinator; it never talks to Graph itself."""

    _attr_has_entity_name = True

    def __init__(
        self, account: TeamsPresenceAccount, description: EntityDescription
    ) -> None:
        """Attach the entity to the account's device; it renders ``account``."""
        super().__init__(account.coordinator)
        self.account = account
        self.entity_description = description
        entry = account.coordinator.config_entry
        # The flow always gives the entry its account's id: tenant and user.
        account_id = cast(str, entry.unique_id)
        self._attr_unique_id = entity_unique_id(account_id, description.key)
        self._attr_device_info = account_device(entry)

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state under the context of the action or choice that changed it.

        So the logbook names who did it; Home Assistant forgets a context after a
        few seconds, so a later read's change is not attributed to it.
        """
        if (context := acting_context()) is not None:
            self.async_set_context(context)
        super()._handle_coordinator_update()

    @property
    def presence(self) -> PresenceSnapshot:
        """The account's last presence read or pushed."""
        return self.coordinator.data


class PersonEntity(CoordinatorEntity[PeopleCoordinator]):
    """A view of one followed person, on a device of their own under the account.

    Read-only: nobody sets another person's presence.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: PeopleCoordinator,
        person: Person,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to ``person``'s device (linked to the account's at setup)."""
        super().__init__(coordinator)
        self.person = person
        self.entity_description = description
        device_id, self._attr_device_info = coordinator.devices[person.user_id]
        self._attr_unique_id = entity_unique_id(device_id, description.key)

    @property
    def available(self) -> bool:
        """Unavailable while reads fail, and while Graph reads nothing for them."""
        return (
            super().available and self.person.user_id in self.coordinator.data.presences
        )

    @property
    def presence(self) -> PresenceSnapshot:
        """The person's last presence read or pushed (only while available)."""
        return self.coordinator.data.presences[self.person.user_id]
