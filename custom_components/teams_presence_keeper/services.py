"""Actions for automations: validate everything, then hand the wish to the account.

Bad input raises a translated ``ServiceValidationError`` before anything is sent;
Graph's refusals come back as translated ``HomeAssistantError`` from the account.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import DOMAIN
from .entity import option
from .graph import (
    MAX_EXPIRATION_MINUTES,
    MAX_STATUS_MESSAGE_LENGTH,
    MIN_EXPIRATION_MINUTES,
    AppPresence,
    PreferredPresence,
    WorkLocationLayer,
    WorkLocationType,
    WorkLocationUpdate,
)
from .runtime import TeamsPresenceAccount, TeamsPresenceConfigEntry
from .work_location import OFFERED_WORK_LOCATIONS

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_PRESENCE = "presence"
ATTR_EXPIRATION = "expiration"
ATTR_HOLD_FOR = "hold_for"
ATTR_UNTIL = "until"
ATTR_MESSAGE = "message"
ATTR_EXPIRES_AT = "expires_at"
ATTR_LOCATION = "location"
ATTR_PLACE_ID = "place_id"
ATTR_LAYER = "layer"
LAYER_ALL = "all"
"""Both layers a client writes: Graph clears the manual one only with the automatic."""

SERVICE_SET_PRESENCE = "set_presence"
SERVICE_CLEAR_PRESENCE = "clear_presence"
SERVICE_SET_PREFERRED_PRESENCE = "set_preferred_presence"
SERVICE_CLEAR_PREFERRED_PRESENCE = "clear_preferred_presence"
SERVICE_SET_STATUS_MESSAGE = "set_status_message"
SERVICE_CLEAR_STATUS_MESSAGE = "clear_status_message"
SERVICE_GET_PRESENCE = "get_presence"
SERVICE_SET_WORK_LOCATION = "set_work_location"
SERVICE_CLEAR_WORK_LOCATION = "clear_work_location"

MAX_AHEAD = timedelta(days=366)
"""How far ahead a hold, an expiry or a deadline may lie: a year covers any plan,
and keeps date arithmetic far from its limits (year 9999)."""


def _bounded[T](validator: Callable[[Any], T]) -> Callable[[Any], T]:
    """Make a number too large to convert invalid input rather than a crash."""

    def validate(value: Any) -> T:
        try:
            return validator(value)
        except OverflowError as err:
            raise vol.Invalid("value out of range") from err

    return validate


# Types only: ranges and combinations are checked in the handlers, where the error
# can be translated and say what to change.
ENTRY_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
SET_PRESENCE_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required(ATTR_PRESENCE): cv.string,
        vol.Optional(ATTR_EXPIRATION): _bounded(vol.Coerce(int)),
        vol.Optional(ATTR_HOLD_FOR): _bounded(cv.time_period),
        vol.Optional(ATTR_UNTIL): cv.datetime,
    }
)
SET_PREFERRED_PRESENCE_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required(ATTR_PRESENCE): cv.string,
        vol.Optional(ATTR_EXPIRATION): _bounded(cv.time_period),
    }
)
SET_STATUS_MESSAGE_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required(ATTR_MESSAGE): cv.string,
        vol.Optional(ATTR_EXPIRES_AT): cv.datetime,
    }
)
SET_WORK_LOCATION_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required(ATTR_LOCATION): cv.string,
        vol.Optional(ATTR_PLACE_ID): cv.string,
        # A user's choice by default: what they set is what Teams shows.
        vol.Optional(ATTR_LAYER, default=WorkLocationLayer.MANUAL.value): cv.string,
    }
)
CLEAR_WORK_LOCATION_SCHEMA = ENTRY_SCHEMA.extend(
    {vol.Optional(ATTR_LAYER, default=LAYER_ALL): cv.string}
)


def _invalid(key: str, **placeholders: Any) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={k: str(v) for k, v in placeholders.items()},
    )


def _account(call: ServiceCall) -> TeamsPresenceAccount:
    """Return the loaded account the call names."""
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry: TeamsPresenceConfigEntry | None = call.hass.config_entries.async_get_entry(
        entry_id
    )
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("entry_not_loaded", title=entry.title)
    return entry.runtime_data


def _choice[T: (AppPresence, PreferredPresence)](choices: type[T], value: str) -> T:
    try:
        return choices(value)
    except ValueError:
        raise _invalid(
            "invalid_presence",
            presence=value,
            options=", ".join(choices),
        ) from None


def _aware(value: datetime) -> datetime:
    """Datetimes without a zone are in Home Assistant's time zone."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt_util.get_default_time_zone())
    return value


def _future(value: datetime, field: str) -> datetime:
    """Refuse a moment that has passed or is out of reach, naming the field."""
    value = _aware(value)
    now = dt_util.utcnow()
    if value <= now:
        raise _invalid(f"{field}_in_past", value=value.isoformat())
    if value - now > MAX_AHEAD:
        raise _invalid(
            f"{field}_too_far", value=value.isoformat(), max_days=MAX_AHEAD.days
        )
    return value


async def _async_set_presence(call: ServiceCall) -> None:
    account = _account(call)
    presence = _choice(AppPresence, call.data[ATTR_PRESENCE])
    expiration: timedelta | None = None
    if (minutes := call.data.get(ATTR_EXPIRATION)) is not None:
        if not MIN_EXPIRATION_MINUTES <= minutes <= MAX_EXPIRATION_MINUTES:
            raise _invalid(
                "expiration_out_of_range",
                value=minutes,
                min=MIN_EXPIRATION_MINUTES,
                max=MAX_EXPIRATION_MINUTES,
            )
        expiration = timedelta(minutes=minutes)
    hold_for: timedelta | None = call.data.get(ATTR_HOLD_FOR)
    until: datetime | None = call.data.get(ATTR_UNTIL)
    if hold_for is not None and until is not None:
        raise _invalid("hold_for_and_until")
    if hold_for is not None:
        if hold_for <= timedelta(0):
            raise _invalid("hold_not_positive", value=hold_for)
        if hold_for > MAX_AHEAD:
            raise _invalid("hold_for_too_long", value=hold_for, max_days=MAX_AHEAD.days)
        until = dt_util.utcnow() + hold_for
    elif until is not None:
        until = _future(until, ATTR_UNTIL)
    await account.async_set_app_presence(
        presence, until=until, expiration=expiration, context=call.context
    )


async def _async_clear_presence(call: ServiceCall) -> None:
    await _account(call).async_set_app_presence(None, context=call.context)


async def _async_set_preferred_presence(call: ServiceCall) -> None:
    account = _account(call)
    presence = _choice(PreferredPresence, call.data[ATTR_PRESENCE])
    expiration: timedelta | None = call.data.get(ATTR_EXPIRATION)
    if expiration is not None and expiration < timedelta(
        minutes=MIN_EXPIRATION_MINUTES
    ):
        raise _invalid(
            "preferred_expiration_too_short",
            value=expiration,
            min=MIN_EXPIRATION_MINUTES,
        )
    if expiration is not None and expiration > MAX_AHEAD:
        raise _invalid(
            "preferred_expiration_too_long", value=expiration, max_days=MAX_AHEAD.days
        )
    await account.async_set_preferred_presence(
        presence, expiration, context=call.context
    )


async def _async_clear_preferred_presence(call: ServiceCall) -> None:
    await _account(call).async_set_preferred_presence(None, context=call.context)


async def _async_set_status_message(call: ServiceCall) -> None:
    account = _account(call)
    message: str = call.data[ATTR_MESSAGE]
    if not message.strip():
        raise _invalid("message_empty")
    if len(message) > MAX_STATUS_MESSAGE_LENGTH:
        raise _invalid(
            "message_too_long", length=len(message), max=MAX_STATUS_MESSAGE_LENGTH
        )
    expires_at = call.data.get(ATTR_EXPIRES_AT)
    if expires_at is not None:
        expires_at = _future(expires_at, ATTR_EXPIRES_AT)
    await account.requests.async_set_status_message(
        message, expires_at, context=call.context
    )


async def _async_clear_status_message(call: ServiceCall) -> None:
    await _account(call).requests.async_set_status_message(None, context=call.context)


def _work_location_layer(
    account: TeamsPresenceAccount, value: str, choices: list[str]
) -> WorkLocationLayer | None:
    """Return the layer named (``None``: all), if Graph lets the account write it."""
    if value not in choices:
        raise _invalid("invalid_layer", layer=value, options=", ".join(choices))
    layer = None if value == LAYER_ALL else WorkLocationLayer(value)
    if key := account.work_location.unoffered(layer or WorkLocationLayer.MANUAL):
        raise _invalid(key, account=account.coordinator.config_entry.title)
    return layer


async def _async_set_work_location(call: ServiceCall) -> None:
    account = _account(call)
    # Never None: "all" is no choice here.
    layer = (
        _work_location_layer(account, call.data[ATTR_LAYER], list(WorkLocationLayer))
        or WorkLocationLayer.MANUAL
    )
    value: str = call.data[ATTR_LOCATION]
    if value not in OFFERED_WORK_LOCATIONS:
        raise _invalid(
            "invalid_work_location",
            location=value,
            options=", ".join(OFFERED_WORK_LOCATIONS),
        )
    place_id: str | None = call.data.get(ATTR_PLACE_ID)
    if place_id is not None and not place_id.strip():
        raise _invalid("place_id_empty")
    location = WorkLocationUpdate(WorkLocationType(value), place_id)
    await account.work_location.async_set(layer, location, context=call.context)


async def _async_clear_work_location(call: ServiceCall) -> None:
    account = _account(call)
    layer = _work_location_layer(
        account,
        call.data[ATTR_LAYER],
        [LAYER_ALL, WorkLocationLayer.AUTOMATIC],
    )
    await account.work_location.async_clear(layer, context=call.context)


async def _async_get_presence(call: ServiceCall) -> ServiceResponse:
    account = _account(call)
    presence = account.coordinator.data
    wish = account.wish
    return {
        "availability": option(presence.availability),
        "activity": option(presence.activity),
        "status_message": presence.status_message,
        "status_message_expires": (
            presence.status_message_expires.isoformat()
            if presence.status_message_expires
            else None
        ),
        "out_of_office": presence.out_of_office,
        "out_of_office_message": presence.out_of_office_message,
        "app_presence": wish.presence.value if wish.presence else None,
        "app_presence_until": wish.until.isoformat() if wish.until else None,
        "preferred_presence": (
            account.preferred_presence.value if account.preferred_presence else None
        ),
    }


SERVICES: tuple[
    tuple[
        str,
        vol.Schema,
        Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]],
        SupportsResponse,
    ],
    ...,
] = (
    (
        SERVICE_SET_PRESENCE,
        SET_PRESENCE_SCHEMA,
        _async_set_presence,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_CLEAR_PRESENCE,
        ENTRY_SCHEMA,
        _async_clear_presence,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_SET_PREFERRED_PRESENCE,
        SET_PREFERRED_PRESENCE_SCHEMA,
        _async_set_preferred_presence,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_CLEAR_PREFERRED_PRESENCE,
        ENTRY_SCHEMA,
        _async_clear_preferred_presence,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_SET_STATUS_MESSAGE,
        SET_STATUS_MESSAGE_SCHEMA,
        _async_set_status_message,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_CLEAR_STATUS_MESSAGE,
        ENTRY_SCHEMA,
        _async_clear_status_message,
        SupportsResponse.NONE,
    ),
    (SERVICE_GET_PRESENCE, ENTRY_SCHEMA, _async_get_presence, SupportsResponse.ONLY),
    (
        SERVICE_SET_WORK_LOCATION,
        SET_WORK_LOCATION_SCHEMA,
        _async_set_work_location,
        SupportsResponse.NONE,
    ),
    (
        SERVICE_CLEAR_WORK_LOCATION,
        CLEAR_WORK_LOCATION_SCHEMA,
        _async_clear_work_location,
        SupportsResponse.NONE,
    ),
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action of the integration."""
    for name, schema, handler, supports_response in SERVICES:
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=supports_response
        )
