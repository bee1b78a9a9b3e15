"""Sensors that show the real, aggregated presence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, LOGGER
from .entity import (
    PersonEntity,
    TeamsPresenceEntity,
    async_remove_account_entity,
    less_used,
    option,
)
from .graph import (
    Activity,
    Availability,
    PresenceSnapshot,
    WorkLocationSource,
    WorkLocationType,
)
from .push_address import UpdateMode
from .runtime import TeamsPresenceAccount, TeamsPresenceConfigEntry

PARALLEL_UPDATES = 0
MAX_STATE_LENGTH = 255
"""Home Assistant's limit on a state; Teams allows 280 characters in a message."""


def _status_message(presence: PresenceSnapshot) -> str:
    """Return the message, or empty when there is none (no message is not unknown)."""
    message = presence.status_message or ""
    if len(message) <= MAX_STATE_LENGTH:
        return message
    return message[: MAX_STATE_LENGTH - 1] + "…"


WORK_LOCATIONS = [
    option(value) for value in WorkLocationType if value is not WorkLocationType.UNKNOWN
]
"""What Teams shows; a type Graph adds later is unknown (logged once)."""


def _work_location(presence: PresenceSnapshot) -> str | None:
    location = presence.work_location
    if location is None or location.location_type is WorkLocationType.UNKNOWN:
        return None
    return option(location.location_type)


def _work_location_attributes(presence: PresenceSnapshot) -> dict[str, Any]:
    """Which layer decided (manual, automatic, the working-hours plan), and where."""
    location = presence.work_location
    if location is None:
        return {"source": None, "place_id": None}
    return {
        "source": None
        if location.source is WorkLocationSource.UNKNOWN
        else option(location.source),
        "place_id": location.place_id,
    }


def _session_expires(account: TeamsPresenceAccount) -> datetime | None:
    session = account.session
    return session.expires_at if session is not None else None


@dataclass(frozen=True, kw_only=True)
class PresenceSensorDescription(SensorEntityDescription):
    """How a sensor reads one presence: the account's, or a followed person's."""

    value_fn: Callable[[PresenceSnapshot], str | None]
    attributes_fn: Callable[[PresenceSnapshot], dict[str, Any]] | None = None
    needs_work_location: bool = False
    """Created only where Graph reads a work location (not every tenant)."""

    def exists_for(self, presence: PresenceSnapshot | None, name: str) -> bool:
        """Whether ``name``'s first read gives this sensor anything to show."""
        if not self.needs_work_location or (
            presence is not None and presence.work_location is not None
        ):
            return True
        LOGGER.info(
            "Microsoft Graph reads no work location for %s; its sensor is not created",
            name,
        )
        return False


@dataclass(frozen=True, kw_only=True)
class AccountSensorDescription(SensorEntityDescription):
    """How a sensor shows what the account knows locally, even while reads fail."""

    value_fn: Callable[[TeamsPresenceAccount], str | datetime | None]
    exists_fn: Callable[[TeamsPresenceAccount], bool] = lambda _: True
    """Whether the account has this sensor at all."""


PRESENCE = PresenceSensorDescription(
    key="presence",
    translation_key="presence",
    device_class=SensorDeviceClass.ENUM,
    options=[option(value) for value in Availability],
    value_fn=lambda presence: option(presence.availability),
    attributes_fn=lambda presence: {"graph_value": presence.unknown_availability},
)
ACTIVITY = PresenceSensorDescription(
    key="activity",
    translation_key="activity",
    device_class=SensorDeviceClass.ENUM,
    options=[option(value) for value in Activity],
    value_fn=lambda presence: option(presence.activity),
    attributes_fn=lambda presence: {"graph_value": presence.unknown_activity},
)
WORK_LOCATION = PresenceSensorDescription(
    key="work_location",
    translation_key="work_location",
    device_class=SensorDeviceClass.ENUM,
    options=WORK_LOCATIONS,
    value_fn=_work_location,
    attributes_fn=_work_location_attributes,
    needs_work_location=True,
)
SENSORS = (
    PRESENCE,
    ACTIVITY,
    PresenceSensorDescription(
        key="status_message",
        translation_key="status_message",
        value_fn=_status_message,
        attributes_fn=lambda presence: {
            "published_at": presence.status_message_published
        },
    ),
    WORK_LOCATION,
)
PERSON_SENSORS = (PRESENCE, less_used(ACTIVITY), less_used(WORK_LOCATION))
"""What a followed person shows: the account's own descriptions, read-only.

Only Presence is enabled by default (``less_used``)."""
ACCOUNT_SENSORS = (
    AccountSensorDescription(
        key="app_session_expires",
        translation_key="app_session_expires",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_session_expires,
    ),
    AccountSensorDescription(
        key="update_mode",
        translation_key="update_mode",
        device_class=SensorDeviceClass.ENUM,
        entity_category=EntityCategory.DIAGNOSTIC,
        options=[mode.value for mode in UpdateMode],
        value_fn=lambda account: (
            account.push.mode if account.push else UpdateMode.POLLING
        ),
        exists_fn=lambda account: account.push is not None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the presence sensors of an account, and of each person it follows."""
    account = entry.runtime_data
    async_add_entities(
        TeamsPresenceSensor(account, description)
        for description in SENSORS
        if description.exists_for(account.coordinator.data, entry.title)
    )
    async_add_entities(
        AccountSensor(account, description)
        for description in ACCOUNT_SENSORS
        if description.exists_fn(account)
    )
    if account.push is None:  # Instant updates off: no mode to show
        async_remove_account_entity(hass, entry, Platform.SENSOR, "update_mode")
    if (people := account.people) is None:
        return
    registry = er.async_get(hass)
    for person in people.followed.values():
        presence = people.data.presences.get(person.user_id) if people.data else None
        sensors = (
            PersonSensor(people, person, description) for description in PERSON_SENSORS
        )
        async_add_entities(
            (
                sensor
                for sensor in sensors
                # Nothing read of them yet (a failed read): the sensors they had stay.
                if (
                    presence is None
                    and registry.async_get_entity_id(
                        Platform.SENSOR, DOMAIN, str(sensor.unique_id)
                    )
                )
                or sensor.entity_description.exists_for(presence, person.display_name)
            ),
            config_subentry_id=person.subentry_id,
        )


class AccountSensor(TeamsPresenceEntity, SensorEntity):
    """What the account knows locally: shown even while reads fail."""

    entity_description: AccountSensorDescription

    @property
    def available(self) -> bool:
        """Known without Graph."""
        return True

    @property
    def native_value(self) -> str | datetime | None:
        """Derive the state from the account."""
        return self.entity_description.value_fn(self.account)


class PresenceSensor(SensorEntity):
    """A value of one presence: the account's or a followed person's."""

    entity_description: PresenceSensorDescription

    if TYPE_CHECKING:

        @property
        def presence(self) -> PresenceSnapshot:
            """The presence shown, given by the account's or the person's entity."""

    @property
    def native_value(self) -> str | None:
        """Derive the state from the presence."""
        return self.entity_description.value_fn(self.presence)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the state alone does not say, for the sensors that have more."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.presence)


class PersonSensor(PersonEntity, PresenceSensor):
    """A followed person's presence, from the last read or push."""


class TeamsPresenceSensor(TeamsPresenceEntity, PresenceSensor):
    """A value from the account's last presence read or push."""
