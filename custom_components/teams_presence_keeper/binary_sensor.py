"""Binary sensors a busy light can follow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_ANYONE_BUSY
from .entity import (
    PersonEntity,
    TeamsPresenceEntity,
    account_device,
    async_remove_account_entity,
    entity_unique_id,
    less_used,
)
from .graph import Activity, Availability, PresenceSnapshot
from .people import PeopleCoordinator
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


BUSY = TeamsPresenceBinarySensorDescription(
    key="busy",
    translation_key="busy",
    is_on_fn=_busy,
)
IN_A_CALL = TeamsPresenceBinarySensorDescription(
    key="in_a_call",
    translation_key="in_a_call",
    is_on_fn=lambda presence: presence.activity in CALL_ACTIVITIES,
)
OUT_OF_OFFICE = TeamsPresenceBinarySensorDescription(
    key="out_of_office",
    translation_key="out_of_office",
    is_on_fn=lambda presence: presence.out_of_office,
    attributes_fn=lambda presence: {"message": presence.out_of_office_message},
)
BINARY_SENSORS = (BUSY, IN_A_CALL, OUT_OF_OFFICE)
PERSON_BINARY_SENSORS = (BUSY, less_used(IN_A_CALL), less_used(OUT_OF_OFFICE))
"""What a followed person shows: only Busy is enabled by default (``less_used``)."""


ANYONE_BUSY = BinarySensorEntityDescription(
    key="anyone_busy", translation_key="anyone_busy"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of an account, and of each person it follows."""
    account = entry.runtime_data
    async_add_entities(
        TeamsPresenceBinarySensor(account, description)
        for description in BINARY_SENSORS
    )
    if (people := account.people) is None:  # nobody followed: no group to show
        async_remove_account_entity(
            hass, entry, Platform.BINARY_SENSOR, ANYONE_BUSY.key
        )
        return
    async_add_entities([AnyoneBusyBinarySensor(people, entry)])
    for person in people.followed.values():
        async_add_entities(
            (
                PersonBinarySensor(people, person, description)
                for description in PERSON_BINARY_SENSORS
            ),
            config_subentry_id=person.subentry_id,
        )


class PresenceBinarySensor(BinarySensorEntity):
    """On or off from one presence: the account's or a followed person's."""

    entity_description: TeamsPresenceBinarySensorDescription

    if TYPE_CHECKING:

        @property
        def presence(self) -> PresenceSnapshot:
            """The presence shown, given by the account's or the person's entity."""

    @property
    def is_on(self) -> bool | None:
        """Derive the state from the presence."""
        return self.entity_description.is_on_fn(self.presence)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the state alone does not say: the out-of-office message."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.presence)


class TeamsPresenceBinarySensor(TeamsPresenceEntity, PresenceBinarySensor):
    """On or off from the account's last presence read or push."""


class PersonBinarySensor(PersonEntity, PresenceBinarySensor):
    """On or off from a followed person's last read or push."""


class AnyoneBusyBinarySensor(CoordinatorEntity[PeopleCoordinator], BinarySensorEntity):
    """On while any of the people ticked in the options is busy: a shared door light.

    Busy as the account's Busy sensor says it; off when nobody is ticked.
    """

    _attr_has_entity_name = True
    entity_description = ANYONE_BUSY

    def __init__(self, coordinator: PeopleCoordinator, entry: ConfigEntry) -> None:
        """Watch the people ticked in ``entry``'s options, on the account's device."""
        super().__init__(coordinator)
        self._attr_unique_id = entity_unique_id(
            cast(str, entry.unique_id), ANYONE_BUSY.key
        )
        self._attr_device_info = account_device(entry)
        ticked = {
            user_id.lower() for user_id in entry.options.get(CONF_ANYONE_BUSY, [])
        }
        self._watched = [
            person
            for user_id, person in coordinator.followed.items()
            if user_id in ticked
        ]

    def _busy_people(self) -> list[str]:
        presences = self.coordinator.data.presences
        return [
            person.display_name
            for person in self._watched
            if (presence := presences.get(person.user_id)) is not None
            and _busy(presence)
        ]

    @property
    def is_on(self) -> bool:
        """Whether anyone ticked is busy now."""
        return bool(self._busy_people())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Who is busy, and whom the sensor watches."""
        return {
            "busy": self._busy_people(),
            "watched": [person.display_name for person in self._watched],
        }
