"""Typed values of Microsoft Graph's presence API.

Graph adds availability and activity values over time, and has changed a value's
casing before, so parsing ignores case and never fails on an unknown string: it maps
to ``PRESENCE_UNKNOWN`` and keeps the raw text, to show and to log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Self

from .errors import GraphValidationError
from .fields import MalformedPresenceError, required_field, typed_field
from .timezones import UTC_NAME
from .work_locations import WorkLocation

MIN_EXPIRATION = timedelta(minutes=5)
MAX_EXPIRATION = timedelta(hours=4)
MIN_EXPIRATION_MINUTES = 5
MAX_EXPIRATION_MINUTES = 240
"""The same limits in whole minutes, as forms and actions take them."""
AVAILABLE_TIMEOUT = timedelta(minutes=5)
"""An Available app session fades to AvailableInactive this long after its last set."""
DEFAULT_EXPIRATION = timedelta(minutes=5)
"""What Graph applies when setPresence carries no expirationDuration."""
MAX_STATUS_MESSAGE_LENGTH = 280


_PRESENCE_UNKNOWN = "PresenceUnknown"


class _TolerantEnum(StrEnum):
    """A string enum whose parse ignores case and falls back to ``PRESENCE_UNKNOWN``."""

    @classmethod
    def parse(cls, value: str) -> Self:
        """Return the member for ``value`` in any casing, or unknown for anything new."""
        folded = value.casefold()
        return next(
            (member for member in cls if member.value.casefold() == folded),
            cls(_PRESENCE_UNKNOWN),
        )


class Availability(_TolerantEnum):
    """Base presence as Graph reports it on reads."""

    AVAILABLE = "Available"
    AVAILABLE_IDLE = "AvailableIdle"
    AWAY = "Away"
    BE_RIGHT_BACK = "BeRightBack"
    BUSY = "Busy"
    BUSY_IDLE = "BusyIdle"
    DO_NOT_DISTURB = "DoNotDisturb"
    OFFLINE = "Offline"
    PRESENCE_UNKNOWN = "PresenceUnknown"


class Activity(_TolerantEnum):
    """Supplement to availability as Graph reports it on reads."""

    AVAILABLE = "Available"
    AVAILABLE_INACTIVE = "AvailableInactive"
    AWAY = "Away"
    BE_RIGHT_BACK = "BeRightBack"
    BUSY = "Busy"
    DO_NOT_DISTURB = "DoNotDisturb"
    IN_A_CALL = "InACall"
    IN_A_CONFERENCE_CALL = "InAConferenceCall"
    INACTIVE = "Inactive"
    IN_A_MEETING = "InAMeeting"
    OFFLINE = "Offline"
    OFF_WORK = "OffWork"
    OUT_OF_OFFICE = "OutOfOffice"
    PRESENCE_UNKNOWN = "PresenceUnknown"
    PRESENTING = "Presenting"
    URGENT_INTERRUPTIONS_ONLY = "UrgentInterruptionsOnly"


class AppPresence(StrEnum):
    """The five availability/activity pairs an application session may set."""

    AVAILABLE = "available"
    BUSY_IN_A_CALL = "busy_in_a_call"
    BUSY_IN_A_CONFERENCE_CALL = "busy_in_a_conference_call"
    AWAY = "away"
    DO_NOT_DISTURB_PRESENTING = "do_not_disturb_presenting"

    @property
    def availability(self) -> Availability:
        """Availability sent to Graph for this pair."""
        return _APP_PAIRS[self][0]

    @property
    def activity(self) -> Activity:
        """Activity sent to Graph for this pair."""
        return _APP_PAIRS[self][1]

    @property
    def times_out(self) -> bool:
        """Whether Graph fades this state after ``AVAILABLE_TIMEOUT`` without a refresh."""
        return self is AppPresence.AVAILABLE


_APP_PAIRS: dict[AppPresence, tuple[Availability, Activity]] = {
    AppPresence.AVAILABLE: (Availability.AVAILABLE, Activity.AVAILABLE),
    AppPresence.BUSY_IN_A_CALL: (Availability.BUSY, Activity.IN_A_CALL),
    AppPresence.BUSY_IN_A_CONFERENCE_CALL: (
        Availability.BUSY,
        Activity.IN_A_CONFERENCE_CALL,
    ),
    AppPresence.AWAY: (Availability.AWAY, Activity.AWAY),
    AppPresence.DO_NOT_DISTURB_PRESENTING: (
        Availability.DO_NOT_DISTURB,
        Activity.PRESENTING,
    ),
}


class PreferredPresence(StrEnum):
    """The six pairs a user-preferred presence may take."""

    AVAILABLE = "available"
    BUSY = "busy"
    DO_NOT_DISTURB = "do_not_disturb"
    BE_RIGHT_BACK = "be_right_back"
    AWAY = "away"
    OFFLINE = "offline"

    @property
    def availability(self) -> Availability:
        """Availability sent to Graph for this pair."""
        return _PREFERRED_PAIRS[self][0]

    @property
    def activity(self) -> Activity:
        """Activity sent to Graph for this pair."""
        return _PREFERRED_PAIRS[self][1]

    @property
    def default_expiration(self) -> timedelta:
        """How long Graph keeps it when no expiration is sent."""
        if self in (PreferredPresence.BUSY, PreferredPresence.DO_NOT_DISTURB):
            return timedelta(days=1)
        return timedelta(days=7)


_PREFERRED_PAIRS: dict[PreferredPresence, tuple[Availability, Activity]] = {
    PreferredPresence.AVAILABLE: (Availability.AVAILABLE, Activity.AVAILABLE),
    PreferredPresence.BUSY: (Availability.BUSY, Activity.BUSY),
    PreferredPresence.DO_NOT_DISTURB: (
        Availability.DO_NOT_DISTURB,
        Activity.DO_NOT_DISTURB,
    ),
    PreferredPresence.BE_RIGHT_BACK: (
        Availability.BE_RIGHT_BACK,
        Activity.BE_RIGHT_BACK,
    ),
    PreferredPresence.AWAY: (Availability.AWAY, Activity.AWAY),
    PreferredPresence.OFFLINE: (Availability.OFFLINE, Activity.OFF_WORK),
}


def check_expiration(expiration: timedelta) -> None:
    """Raise before sending when Graph would reject the session expiration."""
    if not MIN_EXPIRATION <= expiration <= MAX_EXPIRATION:
        raise GraphValidationError(
            "expiration_out_of_range",
            f"Expiration must be between 5 and 240 minutes, got {expiration}",
        )


def iso8601_duration(duration: timedelta) -> str:
    """Format a duration the way Graph's ``expirationDuration`` expects (``PT1H30M``)."""
    total = int(duration.total_seconds())
    if total <= 0:
        raise GraphValidationError(
            "invalid_duration", f"Duration must be positive, got {duration}"
        )
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{value}{unit}"
        for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
        if value
    ]
    return "PT" + "".join(parts)


@dataclass(frozen=True, slots=True)
class GraphUser:
    """The user presence is read and set for."""

    id: str
    display_name: str | None
    user_principal_name: str | None
    mail: str | None

    @classmethod
    def from_graph(cls, data: dict[str, Any]) -> GraphUser:
        """Build from a Graph ``user`` resource."""
        return cls(
            id=str(data["id"]),
            display_name=data.get("displayName"),
            user_principal_name=data.get("userPrincipalName"),
            mail=data.get("mail"),
        )


@dataclass(frozen=True, slots=True)
class PresenceSnapshot:
    """One read of a user's aggregated presence."""

    availability: Availability
    activity: Activity
    raw_availability: str
    raw_activity: str
    status_message: str | None = None
    status_message_expires: datetime | None = None
    out_of_office: bool = False
    out_of_office_message: str | None = None
    status_message_published: datetime | None = None
    work_location: WorkLocation | None = None
    sequence_number: str | None = None
    """Graph's stamp of the presence version; stamps sort as strings."""

    @property
    def unknown_availability(self) -> str | None:
        """Graph's text of an availability this version does not know, if it is one."""
        return _unknown_text(self.availability, self.raw_availability)

    @property
    def unknown_activity(self) -> str | None:
        """Graph's text of an activity this version does not know, if it is one."""
        return _unknown_text(self.activity, self.raw_activity)

    def is_older_than(self, other: PresenceSnapshot) -> bool:
        """Whether Graph stamped this read before ``other``.

        Answers can arrive out of order (a slow read, a push): an older one must
        not overwrite a newer one. Without both stamps nothing says it is older.
        """
        if self.sequence_number is None or other.sequence_number is None:
            return False
        return self.sequence_number < other.sequence_number

    @classmethod
    def from_graph(
        cls, data: dict[str, Any], expiry_zone: tzinfo | None = UTC
    ) -> PresenceSnapshot:
        """Build from a Graph ``presence`` resource; optional parts may be missing.

        ``expiry_zone`` is the zone the status message's expiry names (see
        ``expiry_zone_name``), resolved by the caller; ``None`` if it names none
        known. Raises ``MalformedPresenceError`` when a part has the wrong shape:
        such a body is Graph's fault, to be treated like a server error.
        """
        raw_availability = required_field(data, "availability", str)
        raw_activity = required_field(data, "activity", str)
        status = typed_field(data, "statusMessage", dict) or {}
        message = typed_field(status, "message", dict) or {}
        out_of_office = typed_field(data, "outOfOfficeSettings", dict) or {}
        work_location = typed_field(data, "workLocation", dict)
        return cls(
            availability=Availability.parse(raw_availability),
            activity=Activity.parse(raw_activity),
            raw_availability=raw_availability,
            raw_activity=raw_activity,
            status_message=typed_field(message, "content", str) or None,
            status_message_expires=_parse_graph_datetime(
                typed_field(status, "expiryDateTime", dict), expiry_zone
            ),
            out_of_office=bool(typed_field(out_of_office, "isOutOfOffice", bool)),
            out_of_office_message=typed_field(out_of_office, "message", str) or None,
            status_message_published=_parse_timestamp(
                typed_field(status, "publishedDateTime", str)
            ),
            work_location=(
                WorkLocation.from_graph(work_location) if work_location else None
            ),
            sequence_number=typed_field(data, "sequenceNumber", str) or None,
        )


MAX_UNKNOWN_TEXT = 255
"""The most of an unknown value's text kept to show and log: Graph's values are
short words, and a body carrying a megabyte of one must not land whole in a state."""


def _unknown_text(parsed: StrEnum, raw: str) -> str | None:
    """Return ``raw`` if it parsed to unknown without saying so: a value Graph added.

    Cut to ``MAX_UNKNOWN_TEXT`` characters.
    """
    if parsed != _PRESENCE_UNKNOWN or raw.casefold() == _PRESENCE_UNKNOWN.casefold():
        return None
    return raw[:MAX_UNKNOWN_TEXT]


def expiry_zone_name(data: dict[str, Any]) -> str:
    """Return the zone a presence's status message expiry is written in.

    Graph answers in the zone the message was set with: "UTC", an IANA name, or a
    Windows name ("Pacific Standard Time"). Loading a zone reads the disk, so the
    caller resolves it off the event loop before ``from_graph``.
    """
    status = data.get("statusMessage")
    expiry = status.get("expiryDateTime") if isinstance(status, dict) else None
    zone = expiry.get("timeZone") if isinstance(expiry, dict) else None
    return zone if isinstance(zone, str) and zone else UTC_NAME


def _parse_timestamp(text: str | None) -> datetime | None:
    """Parse a Graph ``DateTimeOffset`` ("2022-10-18T00:07:15.4012511Z")."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise MalformedPresenceError(f"timestamp is {text!r}") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_graph_datetime(
    value: dict[str, Any] | None, zone: tzinfo | None
) -> datetime | None:
    """Parse Graph's ``dateTimeTimeZone``: a local time in the zone it names.

    A zone this machine doesn't know gives no time rather than a wrong one.
    """
    if not value:
        return None
    text = required_field(value, "dateTime", str)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise MalformedPresenceError(f"dateTime is {text!r}") from err
    if zone is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
