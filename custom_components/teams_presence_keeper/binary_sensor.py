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

from .entity import TeamsPresenceEntity
from .graph import Activity, Availability, PresenceSnapshot
from .runtime import TeamsPresenceConfigEntry

PARALLEL_UPDATES = 0

BUSY_AVAILABILITIES = frozenset(
    {Availability.BUSY, Availability.BUSY_IDLE, Availability.DO_NOT_DISTURB}
)
CALL_ACTIVITIES = frozenset(
    {Activity.IN_A_CALL, Activity.IN_A_CONFERENCE_CALL, Activity.PRESENTING}
)
BUSY_ACTIVITIES = CALL_ACTIVITIES | {
    Activity.BUSY,
    Activity.DO_NOT_DISTURB,
    Activity.IN_A_MEETING,
    Activity.URGENT_INTERRUPTIONS_ONLY,
}
"""The activities Teams shows with Busy or Do not disturb."""


def _busy(presence: PresenceSnapshot) -> bool | None:
    """Busy from the availability; from the activity only where that is not known.

    An activity Graph adds later (say, in a webinar) comes with a known availability,
    so it never turns a busy light off; with neither known, Busy is unknown.
    """
    if presence.availability is not Availability.PRESENCE_UNKNOWN:
        return presence.availability in BUSY_AVAILABILITIES
    if presence.activity is not Activity.PRESENCE_UNKNOWN:
        return presence.activity in BUSY_ACTIVITIES
    return None


@dataclass(frozen=True, kw_only=True)
class TeamsPresenceBinarySensorDescription(BinarySensorEntityDescription):
    """How a binary sensor reads one presence snapshot."""

    is_on_fn: Callable[[PresenceSnapshot], bool | None]
    attributes_fn: Callable[[PresenceSnapshot], dict[str, Any]] | None = None


BINARY_SENSORS = (
    TeamsPresenceBinarySensorDescription(
        key="busy",
        translation_key="busy",
        is_on_fn=_busy,
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
    def is_on(self) -> bool | None:
        """Derive the state from the snapshot."""
        return self.entity_description.is_on_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the state alone does not say: the out-of-office message."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data)
