"""Binary sensors a busy light can follow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import TeamsPresenceConfigEntry
from .entity import TeamsPresenceEntity
from .graph import Activity, Availability, PresenceSnapshot

PARALLEL_UPDATES = 0

BUSY_AVAILABILITIES = frozenset(
    {Availability.BUSY, Availability.BUSY_IDLE, Availability.DO_NOT_DISTURB}
)
CALL_ACTIVITIES = frozenset(
    {Activity.IN_A_CALL, Activity.IN_A_CONFERENCE_CALL, Activity.PRESENTING}
)


@dataclass(frozen=True, kw_only=True)
class TeamsPresenceBinarySensorDescription(BinarySensorEntityDescription):
    """How a binary sensor reads one presence snapshot."""

    is_on_fn: Callable[[PresenceSnapshot], bool]
    attributes_fn: Callable[[PresenceSnapshot], dict[str, Any]] | None = None


BINARY_SENSORS = (
    TeamsPresenceBinarySensorDescription(
        key="busy",
        translation_key="busy",
        is_on_fn=lambda presence: presence.availability in BUSY_AVAILABILITIES,
    ),
    TeamsPresenceBinarySensorDescription(
        key="in_a_call",
        translation_key="in_a_call",
        is_on_fn=lambda presence: presence.activity in CALL_ACTIVITIES,
    ),
    TeamsPresenceBinarySensorDescription(
        key="out_of_office",
        translation_key="out_of_office",
        is_on_fn=lambda presence: presence.out_of_office,
        attributes_fn=lambda presence: {"message": presence.out_of_office_message},
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of an account."""
    async_add_entities(
        TeamsPresenceBinarySensor(entry.runtime_data, description)
        for description in BINARY_SENSORS
    )


class TeamsPresenceBinarySensor(TeamsPresenceEntity, BinarySensorEntity):
    """On or off from the last presence read."""

    entity_description: TeamsPresenceBinarySensorDescription

    @property
    def is_on(self) -> bool:
        """Derive the state from the snapshot."""
        return self.entity_description.is_on_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the state alone does not say: the out-of-office message."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data)
