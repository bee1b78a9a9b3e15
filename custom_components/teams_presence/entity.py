"""Base entity: one service device per account, names from translations."""

from __future__ import annotations

from typing import cast

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import TeamsPresenceCoordinator


class TeamsPresenceEntity(CoordinatorEntity[TeamsPresenceCoordinator]):
    """A view of one account's coordinator; it never talks to Graph itself."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: TeamsPresenceCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the account's device."""
        super().__init__(coordinator)
        self.entity_description = description
        entry = coordinator.config_entry
        # The flow always gives the entry its account's id: tenant and user.
        account_id = cast(str, entry.unique_id)
        self._attr_unique_id = f"{account_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, account_id)},
            name=entry.title,
            manufacturer="Microsoft",
            model="Teams presence",
            entry_type=DeviceEntryType.SERVICE,
            configuration_url="https://teams.microsoft.com",
        )
