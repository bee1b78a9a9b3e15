"""Sensors that show the real, aggregated presence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import TeamsPresenceConfigEntry, TeamsPresenceCoordinator
from .entity import TeamsPresenceEntity
from .graph import Activity, Availability

PARALLEL_UPDATES = 0
MAX_STATE_LENGTH = 255
"""Home Assistant's limit on a state; Teams allows 280 characters in a message."""


def option(value: Availability | Activity) -> str:
    """State of an enum sensor: the member name in snake case (``do_not_disturb``)."""
    return value.name.lower()


def _status_message(coordinator: TeamsPresenceCoordinator) -> str:
    """Return the message, or empty when there is none (no message is not unknown)."""
    message = coordinator.data.status_message or ""
    if len(message) <= MAX_STATE_LENGTH:
        return message
    return message[: MAX_STATE_LENGTH - 1] + "…"


def _session_expires(coordinator: TeamsPresenceCoordinator) -> datetime | None:
    session = coordinator.session
    return session.expires_at if session is not None else None


@dataclass(frozen=True, kw_only=True)
class TeamsPresenceSensorDescription(SensorEntityDescription):
    """How a sensor reads the coordinator."""

    value_fn: Callable[[TeamsPresenceCoordinator], str | datetime | None]
    always_available: bool = False
    """Shown from what the coordinator knows locally, even when reads fail."""


SENSORS = (
    TeamsPresenceSensorDescription(
        key="presence",
        translation_key="presence",
        device_class=SensorDeviceClass.ENUM,
        options=[option(value) for value in Availability],
        value_fn=lambda coordinator: option(coordinator.data.availability),
    ),
    TeamsPresenceSensorDescription(
        key="activity",
        translation_key="activity",
        device_class=SensorDeviceClass.ENUM,
        options=[option(value) for value in Activity],
        value_fn=lambda coordinator: option(coordinator.data.activity),
    ),
    TeamsPresenceSensorDescription(
        key="status_message",
        translation_key="status_message",
        value_fn=_status_message,
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
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the presence sensors of an account."""
    async_add_entities(
        TeamsPresenceSensor(entry.runtime_data, description) for description in SENSORS
    )


class TeamsPresenceSensor(TeamsPresenceEntity, SensorEntity):
    """A value from the last presence read."""

    entity_description: TeamsPresenceSensorDescription

    @property
    def available(self) -> bool:
        """Presence sensors go unavailable while reads fail, and come back by themselves."""
        return self.entity_description.always_available or super().available

    @property
    def native_value(self) -> str | datetime | None:
        """Derive the state from the coordinator."""
        return self.entity_description.value_fn(self.coordinator)
