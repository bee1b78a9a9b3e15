"""Typed values of Microsoft Graph's presence API.

Graph adds availability and activity values over time, and has changed a value's
casing before, so parsing ignores case and never fails on an unknown string: it maps
to ``PRESENCE_UNKNOWN`` and keeps the raw text, to show and to log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
import re
from typing import Any, Self

from .clouds import Cloud
from .errors import GraphValidationError
from .timezones import UTC_NAME

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


class _CamelCaseEnum(StrEnum):
    """A string enum of Graph's camelCase values, spelled in snake_case.

    Home Assistant's states and translation keys are snake_case; a value Graph
    adds later parses to ``UNKNOWN``.
    """

    @classmethod
    def parse(cls, value: str | None) -> Self:
        """Return the member for Graph's ``value`` (``timeOff``), else ``UNKNOWN``."""
        if value is not None:
            try:
                return cls(_CAMEL_HUMP.sub("_", value).lower())
            except ValueError:
                pass
        return cls("unknown")

    @property
    def graph_value(self) -> str:
        """The value as Graph spells it (``timeOff``)."""
        head, *rest = self.value.split("_")
        return head + "".join(part.capitalize() for part in rest)


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


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


class WorkLocationType(_CamelCaseEnum):
    """Where the user works, as Graph's ``workLocationType``."""

    UNSPECIFIED = "unspecified"
    OFFICE = "office"
    REMOTE = "remote"
    TIME_OFF = "time_off"
    UNKNOWN = "unknown"
    """A value Graph added after this client was written."""


class WorkLocationSource(_CamelCaseEnum):
    """Which layer decided the work location.

    Graph shows manual over automatic over scheduled (the user's working-hours
    plan), and ``none`` when no layer has one.
    """

    NONE = "none"
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    AUTOMATIC = "automatic"
    UNKNOWN = "unknown"
    """A value Graph added after this client was written."""


class WorkLocationLayer(StrEnum):
    """The two layers a client may write.

    The automatic layer is for agents that detect where the user is (a docking
    app, a network agent, Home Assistant); a manual choice always wins over it.
    """

    MANUAL = "manual"
    AUTOMATIC = "automatic"

    @property
    def clouds(self) -> frozenset[Cloud]:
        """The clouds whose Graph offers writing this layer."""
        return _WORK_LOCATION_CLOUDS[self]


_WORK_LOCATION_CLOUDS: dict[WorkLocationLayer, frozenset[Cloud]] = {
    WorkLocationLayer.MANUAL: frozenset(
        {Cloud.GLOBAL, Cloud.US_GOVERNMENT, Cloud.US_GOVERNMENT_DOD}
    ),
    WorkLocationLayer.AUTOMATIC: frozenset({Cloud.GLOBAL}),
}
WRITABLE_WORK_LOCATION_TYPES = frozenset(
    {
        WorkLocationType.UNSPECIFIED,
        WorkLocationType.OFFICE,
        WorkLocationType.REMOTE,
        WorkLocationType.TIME_OFF,
    }
)
"""The types setManualLocation and setAutomaticLocation take."""


@dataclass(frozen=True, slots=True)
class WorkLocation:
    """The user's work location as Graph aggregates it from its layers."""

    location_type: WorkLocationType
    source: WorkLocationSource
    place_id: str | None = None

    @classmethod
    def from_graph(cls, data: dict[str, Any]) -> WorkLocation:
        """Build from a Graph ``userWorkLocation``; raises ``MalformedPresenceError``."""
        return cls(
            location_type=WorkLocationType.parse(_typed(data, "workLocationType", str)),
            source=WorkLocationSource.parse(_typed(data, "source", str)),
            place_id=_typed(data, "placeId", str) or None,
        )


@dataclass(frozen=True, slots=True)
class WorkLocationUpdate:
    """What a work-location write carries: the type and, optionally, the place.

    Checked when built, so a bad value is refused before anything is sent.
    """

    location_type: WorkLocationType
    place_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse what Graph would refuse."""
        if self.location_type not in WRITABLE_WORK_LOCATION_TYPES:
            raise GraphValidationError(
                "invalid_work_location_type",
                "A work location is unspecified, office, remote or time off,"
                f" got {self.location_type!r}",
            )
        if self.place_id is not None and not self.place_id.strip():
            raise GraphValidationError(
                "invalid_place_id", "A place id, when given, needs some text"
            )

    def as_graph(self) -> dict[str, str]:
        """Return the body of setManualLocation and setAutomaticLocation."""
        body = {"workLocationType": self.location_type.graph_value}
        if self.place_id is not None:
            body["placeId"] = self.place_id
        return body


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
        raw_availability = _required(data, "availability", str)
        raw_activity = _required(data, "activity", str)
        status = _typed(data, "statusMessage", dict) or {}
        message = _typed(status, "message", dict) or {}
        out_of_office = _typed(data, "outOfOfficeSettings", dict) or {}
        work_location = _typed(data, "workLocation", dict)
        return cls(
            availability=Availability.parse(raw_availability),
            activity=Activity.parse(raw_activity),
            raw_availability=raw_availability,
            raw_activity=raw_activity,
            status_message=_typed(message, "content", str) or None,
            status_message_expires=_parse_graph_datetime(
                _typed(status, "expiryDateTime", dict), expiry_zone
            ),
            out_of_office=bool(_typed(out_of_office, "isOutOfOffice", bool)),
            out_of_office_message=_typed(out_of_office, "message", str) or None,
            status_message_published=_parse_timestamp(
                _typed(status, "publishedDateTime", str)
            ),
            work_location=(
                WorkLocation.from_graph(work_location) if work_location else None
            ),
            sequence_number=_typed(data, "sequenceNumber", str) or None,
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


class MalformedPresenceError(ValueError):
    """A presence body whose parts have the wrong type."""


def _typed[T](data: dict[str, Any], key: str, kind: type[T]) -> T | None:
    """Return ``data[key]`` if it is a ``kind``, or ``None`` if it is absent."""
    if data.get(key) is None:
        return None
    return _required(data, key, kind)


def _required[T](data: dict[str, Any], key: str, kind: type[T]) -> T:
    """Return ``data[key]``, which must be a ``kind``."""
    value = data.get(key)
    if not isinstance(value, kind):
        raise MalformedPresenceError(f"{key} is {type(value).__name__}")
    return value


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
    text = _required(value, "dateTime", str)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise MalformedPresenceError(f"dateTime is {text!r}") from err
    if zone is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


MAX_PRESENCE_IDS = 650
"""Ids Graph takes in one ``getPresencesByUserId`` request, and in one subscription."""
_OBJECT_ID = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.IGNORECASE)


def check_object_id(user_id: str) -> str:
    """Return ``user_id`` if it is a directory object id (a GUID), else refuse it.

    Graph's batched read and bulk subscription take object ids only, and a
    subscription's filter quotes them: anything else is refused before sending.
    """
    if not _OBJECT_ID.fullmatch(user_id):
        raise GraphValidationError(
            "invalid_object_id", f"A user's object id is a GUID, got {user_id!r}"
        )
    return user_id


def presence_id_batches(user_ids: Iterable[str]) -> list[list[str]]:
    """Split ids into batches Graph takes in one request, each id once, in order.

    Ids differing only in case are one user: the first spelling is kept.
    """
    seen: set[str] = set()
    unique: list[str] = []
    for user_id in user_ids:
        if (key := user_id.lower()) not in seen:
            seen.add(key)
            unique.append(user_id)
    return [
        unique[start : start + MAX_PRESENCE_IDS]
        for start in range(0, len(unique), MAX_PRESENCE_IDS)
    ]


@dataclass(frozen=True, slots=True)
class PresenceBatch:
    """One ``getPresencesByUserId`` answer: each asked id's presence, or missing.

    Graph documents the answer as a collection of presences and promises none for
    an id it does not know (a user who left the directory, a mistyped id): such
    ids are in ``missing``, never an error of the whole batch.
    """

    presences: Mapping[str, PresenceSnapshot]
    """Keyed by the id as it was asked for."""
    missing: frozenset[str]


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """Someone in the directory, as a lookup or a search finds them."""

    id: str
    display_name: str | None
    mail: str | None
    user_principal_name: str | None

    @classmethod
    def from_graph(cls, data: object) -> DirectoryPerson:
        """Build from a Graph ``user``; raises ``MalformedPresenceError``."""
        if not isinstance(data, dict):
            raise MalformedPresenceError(f"user is {type(data).__name__}")
        return cls(
            id=_required(data, "id", str),
            display_name=_typed(data, "displayName", str),
            mail=_typed(data, "mail", str),
            user_principal_name=_typed(data, "userPrincipalName", str),
        )
