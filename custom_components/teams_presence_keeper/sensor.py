"""Sensors that show the real, aggregated presence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, LOGGER
from .entity import TeamsPresenceEntity, entity_unique_id, option
from .graph import Activity, Availability, WorkLocationSource, WorkLocationType
from .push_address import UpdateMode
from .runtime import TeamsPresenceAccount, TeamsPresenceConfigEntry

PARALLEL_UPDATES = 0
MAX_STATE_LENGTH = 255
"""Home Assistant's limit on a state; Teams allows 280 characters in a message."""


def _status_message(account: TeamsPresenceAccount) -> str:
    """Return the message, or empty when there is none (no message is not unknown)."""
    message = account.coordinator.data.status_message or ""
    if len(message) <= MAX_STATE_LENGTH:
        return message
    return message[: MAX_STATE_LENGTH - 1] + "…"


WORK_LOCATIONS = [
    option(value) for value in WorkLocationType if value is not WorkLocationType.UNKNOWN
]
"""What Teams shows; a type Graph adds later is unknown (logged once)."""


def _work_location(account: TeamsPresenceAccount) -> str | None:
    location = account.coordinator.data.work_location
    if location is None or location.location_type is WorkLocationType.UNKNOWN:
        return None
    return option(location.location_type)


def _work_location_attributes(
    account: TeamsPresenceAccount,
) -> dict[str, Any]:
    """Which layer decided (manual, automatic, the working-hours plan), and where."""
    location = account.coordinator.data.work_location
    if location is None:
        return {"source": None, "place_id": None}
    return {
        "source": None
        if location.source is WorkLocationSource.UNKNOWN
        else option(location.source),
        "place_id": location.place_id,
    }


def _shows_work_location(account: TeamsPresenceAccount) -> bool:
    """Whether Graph reads a work location for this account (not every tenant)."""
    if account.coordinator.data.work_location is not None:
        return True
    LOGGER.info(
        "Microsoft Graph reads no work location for %s; its sensor is not created",
        account.coordinator.config_entry.title,
    )
    return False


def _session_expires(account: TeamsPresenceAccount) -> datetime | None:
    session = account.session
    return session.expires_at if session is not None else None


@dataclass(frozen=True, kw_only=True)
class TeamsPresenceSensorDescription(SensorEntityDescription):
    """How a sensor reads the account."""

    value_fn: Callable[[TeamsPresenceAccount], str | datetime | None]
    always_available: bool = False
    """Shown from what the account knows locally, even when reads fail."""
    attributes_fn: Callable[[TeamsPresenceAccount], dict[str, Any]] | None = None
    exists_fn: Callable[[TeamsPresenceAccount], bool] = lambda _: True
    """Whether the account has this sensor at all, from its first read."""


SENSORS = (
    TeamsPresenceSensorDescription(
        key="presence",
        translation_key="presence",
        device_class=SensorDeviceClass.ENUM,
        options=[option(value) for value in Availability],
        value_fn=lambda account: option(account.coordinator.data.availability),
        attributes_fn=lambda account: {
            "graph_value": account.coordinator.data.unknown_availability
        },
    ),
    TeamsPresenceSensorDescription(
        key="activity",
        translation_key="activity",
        device_class=SensorDeviceClass.ENUM,
        options=[option(value) for value in Activity],
        value_fn=lambda account: option(account.coordinator.data.activity),
        attributes_fn=lambda account: {
            "graph_value": account.coordinator.data.unknown_activity
        },
    ),
    TeamsPresenceSensorDescription(
        key="status_message",
        translation_key="status_message",
        value_fn=_status_message,
        attributes_fn=lambda account: {
            "published_at": account.coordinator.data.status_message_published
        },
    ),
    TeamsPresenceSensorDescription(
        key="work_location",
        translation_key="work_location",
        device_class=SensorDeviceClass.ENUM,
        options=WORK_LOCATIONS,
        value_fn=_work_location,
        attributes_fn=_work_location_attributes,
        exists_fn=_shows_work_location,
    ),
    TeamsPresenceSensorDescription(
        key="app_session_expires",
        translation_key="app_session_expires",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_session_expires,
        always_available=True,
    ),
    TeamsPresenceSensorDescription(
        key="update_mode",
        translation_key="update_mode",
        device_class=SensorDeviceClass.ENUM,
        entity_category=EntityCategory.DIAGNOSTIC,
        options=[mode.value for mode in UpdateMode],
        value_fn=lambda account: (
            account.push.mode if account.push else UpdateMode.POLLING
        ),
        always_available=True,
        exists_fn=lambda account: account.push is not None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the presence sensors of an account."""
    account = entry.runtime_data
    async_add_entities(
        TeamsPresenceSensor(account, description)
        for description in SENSORS
        if description.exists_fn(account)
    )
    if account.push is None:  # Instant updates off: no mode to show
        registry = er.async_get(hass)
        if entity_id := registry.async_get_entity_id(
            SENSOR_DOMAIN,
            DOMAIN,
            entity_unique_id(cast(str, entry.unique_id), "update_mode"),
        ):
            registry.async_remove(entity_id)


class TeamsPresenceSensor(TeamsPresenceEntity, SensorEntity):
    """A value from the last presence read."""

    entity_description: TeamsPresenceSensorDescription

    @property
    def available(self) -> bool:
        """Presence sensors go unavailable while reads fail, and come back by themselves."""
        return self.entity_description.always_available or super().available

    @property
    def native_value(self) -> str | datetime | None:
        """Derive the state from the account."""
        return self.entity_description.value_fn(self.account)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the state alone does not say, for the sensors that have more."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.account)
