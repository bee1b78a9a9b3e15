"""Presence state and the rules Graph applies to it, evaluated against a clock.

Nothing here knows about HTTP: the Graph routes translate requests into these calls
and `PresenceError` / `SessionNotFoundError` into error answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
import re

type Clock = Callable[[], datetime]

APP_SESSION_PAIRS = frozenset(
    {
        ("Available", "Available"),
        ("Busy", "InACall"),
        ("Busy", "InAConferenceCall"),
        ("Away", "Away"),
        ("DoNotDisturb", "Presenting"),
    }
)
PREFERRED_PAIRS = frozenset(
    {
        ("Available", "Available"),
        ("Busy", "Busy"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Away", "Away"),
        ("Offline", "OffWork"),
    }
)
SESSION_EXPIRY_DEFAULT = timedelta(minutes=5)
SESSION_EXPIRY_MIN = timedelta(minutes=5)
SESSION_EXPIRY_MAX = timedelta(hours=4)
# An Available app session fades once it has not been set again for this long...
FADE_TO_INACTIVE = timedelta(minutes=5)
# ...and shows Away after this long.
FADE_TO_AWAY = timedelta(minutes=10)
PREFERRED_EXPIRY_SHORT = timedelta(days=1)
PREFERRED_EXPIRY_LONG = timedelta(days=7)
STATUS_MESSAGE_MAX_LENGTH = 280
OFFLINE = ("Offline", "Offline")
WORK_LOCATION_TYPES = frozenset({"unspecified", "office", "remote", "timeOff"})
"""The types a client may write (Graph's enum also has unknownFutureValue)."""

# Aggregation precedence by availability; idle and "be right back" variants rank
# with their base state, anything else (Offline, PresenceUnknown) ranks lowest.
_RANK = {
    "DoNotDisturb": 4,
    "Busy": 3,
    "BusyIdle": 3,
    "Available": 2,
    "AvailableIdle": 2,
    "Away": 1,
    "BeRightBack": 1,
}
_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


class PresenceError(ValueError):
    """A request the presence rules refuse (Graph answers 400)."""


class SessionNotFoundError(LookupError):
    """No live app session has the given id (Graph answers 404)."""


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration such as PT5M, PT1H30M or P1D."""
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        raise PresenceError(f"Invalid ISO 8601 duration: '{text}'.")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)


@dataclass(frozen=True)
class AppSession:
    """An application's presence session as it was last set."""

    availability: str
    activity: str
    last_set: datetime
    expires_at: datetime

    def state(self, now: datetime) -> tuple[str, str]:
        """Return the state shown now: Available fades when not set again in time."""
        if self.availability == "Available":
            idle = now - self.last_set
            if idle >= FADE_TO_AWAY:
                return ("Away", "Away")
            if idle >= FADE_TO_INACTIVE:
                return ("Available", "AvailableInactive")
        return (self.availability, self.activity)


@dataclass(frozen=True)
class PreferredPresence:
    """The state the user chose; it overrides every session while one is live."""

    availability: str
    activity: str
    expires_at: datetime


@dataclass(frozen=True)
class StatusMessage:
    """A status note; `expiry` is aware, in the time zone the client gave.

    `expiry_time_zone` keeps the zone's name as the client spelled it (a Windows
    name such as "Pacific Standard Time", an IANA name or "UTC"), because Graph
    answers reads in that same zone, under that same name.
    """

    content: str
    content_type: str
    published: datetime
    expiry: datetime | None
    expiry_time_zone: str = "UTC"


@dataclass(frozen=True)
class Lapse:
    """A moment an app session's state was lost before the next set arrived."""

    session_id: str
    state: tuple[str, str]
    """What the session showed when the set arrived (faded, or Offline: expired)."""
    at: datetime


@dataclass(frozen=True)
class WorkLocation:
    """One layer's work location, in Graph's spelling ("timeOff")."""

    location_type: str
    place_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse what Graph refuses, whichever layer it is for."""
        if self.location_type not in WORK_LOCATION_TYPES:
            raise PresenceError(
                f"The value '{self.location_type}' is not a valid workLocationType;"
                f" use one of {', '.join(sorted(WORK_LOCATION_TYPES))}."
            )
        if self.place_id is not None and not self.place_id.strip():
            raise PresenceError("placeId must not be empty.")


@dataclass(frozen=True)
class WorkLocationShown:
    """The work location Graph reports: the winning layer's, and which layer won."""

    location: WorkLocation
    source: str
    """none, manual, automatic or scheduled."""


_NO_WORK_LOCATION = WorkLocationShown(WorkLocation("unspecified"), "none")


@dataclass
class OutOfOffice:
    """Out-of-office settings as Graph reports them next to presence."""

    is_out_of_office: bool = False
    message: str | None = None


class UserPresence:
    """One user's presence sessions and settings; reads drop what has expired."""

    def __init__(self, clock: Clock) -> None:
        """Start with no session, i.e. Offline."""
        self._clock = clock
        self._app_sessions: dict[str, AppSession] = {}
        self._preferred: PreferredPresence | None = None
        self._status_message: StatusMessage | None = None
        self.client_sessions: dict[str, tuple[str, str]] = {}
        self.out_of_office = OutOfOffice()
        self.write_transit = timedelta(0)
        """How long after it is sent a write takes effect (network and Graph's work)."""
        self.lapses: list[Lapse] = []
        """Sessions set again only after their state faded or expired."""
        self.manual_location: WorkLocation | None = None
        self.automatic_location: WorkLocation | None = None
        self.scheduled_location: WorkLocation | None = None
        """What the user's working-hours plan says for now; tests set it."""
        self._version = 0
        self._versioned: object = None

    @property
    def preferred(self) -> PreferredPresence | None:
        """The user-preferred presence, unless it has expired."""
        if self._preferred is not None and self._clock() >= self._preferred.expires_at:
            self._preferred = None
        return self._preferred

    @property
    def status_message(self) -> StatusMessage | None:
        """The status message, unless it has expired."""
        message = self._status_message
        expiry = message.expiry if message is not None else None
        if expiry is not None and self._clock() >= expiry:
            self._status_message = None
        return self._status_message

    def app_session(self, session_id: str) -> AppSession | None:
        """Return the session as last set, or None when absent or expired."""
        session = self._app_sessions.get(session_id)
        if session is not None and self._clock() >= session.expires_at:
            del self._app_sessions[session_id]
            return None
        return session

    def set_app_session(
        self,
        session_id: str,
        availability: str,
        activity: str,
        expiration: timedelta | None = None,
    ) -> None:
        """Create or replace an app session, restarting its timeout and expiry."""
        if (availability, activity) not in APP_SESSION_PAIRS:
            raise PresenceError(
                f"The availability '{availability}' and activity '{activity}'"
                " combination is not supported."
            )
        if expiration is None:
            expiration = SESSION_EXPIRY_DEFAULT
        elif not SESSION_EXPIRY_MIN <= expiration <= SESSION_EXPIRY_MAX:
            raise PresenceError(
                "expirationDuration must be between 5 minutes and 4 hours."
            )
        now = self._clock() + self.write_transit
        previous = self._app_sessions.get(session_id)
        if previous is not None:
            shown = (
                previous.state(now)
                if now < previous.expires_at
                else ("Offline", "Offline")
            )
            if shown != (previous.availability, previous.activity):
                self.lapses.append(Lapse(session_id, shown, now))
        self._app_sessions[session_id] = AppSession(
            availability, activity, last_set=now, expires_at=now + expiration
        )

    def clear_app_session(self, session_id: str) -> None:
        """Remove a live app session."""
        if self.app_session(session_id) is None:
            raise SessionNotFoundError(
                f"Presence session '{session_id}' was not found."
            )
        del self._app_sessions[session_id]

    def set_preferred(
        self, availability: str, activity: str, expiration: timedelta | None = None
    ) -> None:
        """Set the user-preferred presence; the default expiry depends on the state."""
        if (availability, activity) not in PREFERRED_PAIRS:
            raise PresenceError(
                f"The availability '{availability}' and activity '{activity}'"
                " combination is not supported for preferred presence."
            )
        if expiration is None:
            short = availability in {"Busy", "DoNotDisturb"}
            expiration = PREFERRED_EXPIRY_SHORT if short else PREFERRED_EXPIRY_LONG
        elif expiration <= timedelta(0):
            raise PresenceError("expirationDuration must be positive.")
        self._preferred = PreferredPresence(
            availability, activity, expires_at=self._clock() + expiration
        )

    def clear_preferred(self) -> None:
        """Drop the user-preferred presence."""
        self._preferred = None

    def set_status_message(
        self,
        content: str,
        content_type: str = "text",
        expiry: datetime | None = None,
        expiry_time_zone: str = "UTC",
    ) -> None:
        """Set the status message; empty content clears it."""
        if len(content) > STATUS_MESSAGE_MAX_LENGTH:
            raise PresenceError(
                f"The status message exceeds {STATUS_MESSAGE_MAX_LENGTH} characters."
            )
        self._status_message = (
            StatusMessage(
                content,
                content_type,
                published=self._clock(),
                expiry=expiry,
                expiry_time_zone=expiry_time_zone,
            )
            if content
            else None
        )

    def work_location(self) -> WorkLocationShown:
        """Return the layer that wins: manual, then automatic, then scheduled."""
        for source, location in (
            ("manual", self.manual_location),
            ("automatic", self.automatic_location),
            ("scheduled", self.scheduled_location),
        ):
            if location is not None:
                return WorkLocationShown(location, source)
        return _NO_WORK_LOCATION

    def clear_locations(self) -> None:
        """Drop the manual and the automatic layer; the plan stays."""
        self.manual_location = self.automatic_location = None

    def sequence_number(self) -> str:
        """Return Graph's version stamp: it grows whenever what a read shows changed.

        Compared at each call with what the last call saw, so that changes the
        clock makes (a session fading, a message expiring) count as well as writes.
        Zero-padded, so that stamps sort as strings, as Graph's do.
        """
        seen = (
            self.aggregate(),
            self.status_message,
            (self.out_of_office.is_out_of_office, self.out_of_office.message),
            self.work_location(),
        )
        if seen != self._versioned:
            self._version += 1
            self._versioned = seen
        return f"{self._version:016d}"

    def live_states(self) -> list[tuple[str, str]]:
        """Return the shown state of every live session, app sessions first."""
        now = self._clock()
        app_states = [
            session.state(now)
            for session_id in list(self._app_sessions)
            if (session := self.app_session(session_id)) is not None
        ]
        return app_states + list(self.client_sessions.values())

    def aggregate(self) -> tuple[str, str]:
        """Return the (availability, activity) others see now."""
        states = self.live_states()
        if not states:
            return OFFLINE
        if (preferred := self.preferred) is not None:
            return (preferred.availability, preferred.activity)
        return max(states, key=lambda state: _RANK.get(state[0], 0))


@dataclass(eq=False)
class User:
    """A directory user; `presence` holds what Graph aggregates for them."""

    id: str
    display_name: str
    upn: str
    tenant_id: str
    presence: UserPresence
    personal: bool = False

    @property
    def mail(self) -> str:
        """The mailbox address Graph reports: the UPN, as for most work accounts."""
        return self.upn
