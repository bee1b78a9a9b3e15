"""What the session keeper keeps, as plain records: no Home Assistant here.

The wish for the app session, the session Graph accepted, the preferred presence
set and the one still to send, each read from and written to the store; and the
requests the keeper asks for (``keeper.SessionKeeper`` decides which is due).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .const import LOGGER, REFRESH_MARGIN
from .graph import AVAILABLE_TIMEOUT, AppPresence, PreferredPresence


@dataclass(frozen=True, slots=True)
class Wish:
    """The app presence the user wants, and until when."""

    presence: AppPresence | None = None
    until: datetime | None = None
    after_hold: AppPresence | None = None
    """What is wanted once ``until`` passes (the state before the hold)."""
    expiration: timedelta | None = None
    """Session expiration for this wish; ``None`` uses the entry's option."""
    after_hold_expiration: timedelta | None = None
    """The expiration wanted before the hold, which returns with ``after_hold``."""

    def settled(self, now: datetime) -> Wish:
        """Return the wish in force at ``now``: a hold past its deadline gives way.

        To the state before it exactly as it was wanted, its expiration included.
        """
        if self.until is not None and now >= self.until:
            return Wish(self.after_hold, expiration=self.after_hold_expiration)
        return self

    def as_dict(self) -> dict[str, Any]:
        """Serialize for the store."""
        return {
            "presence": self.presence,
            "until": self.until.isoformat() if self.until else None,
            "after_hold": self.after_hold,
            "expiration": _seconds(self.expiration),
            "after_hold_expiration": _seconds(self.after_hold_expiration),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Wish:
        """Deserialize from the store (``then`` is what version 0.1.0 called it).

        A store written before ``after_hold_expiration`` was kept returns from a
        hold with the entry's expiration, as the version that wrote it did.
        """
        after_hold = data.get("after_hold") or data.get("then")
        return cls(
            presence=AppPresence(data["presence"]) if data.get("presence") else None,
            until=_moment(data["until"]) if data.get("until") else None,
            after_hold=AppPresence(after_hold) if after_hold else None,
            expiration=_duration(data.get("expiration")),
            after_hold_expiration=_duration(data.get("after_hold_expiration")),
        )


def _seconds(duration: timedelta | None) -> float | None:
    """Return a duration as the store keeps it."""
    return duration.total_seconds() if duration else None


def _duration(seconds: float | None) -> timedelta | None:
    """Return a duration the store kept (``None`` or 0: none)."""
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float)
    ):
        raise TypeError(f"a duration is a number of seconds, not {seconds!r}")
    return timedelta(seconds=seconds) if seconds else None


def _moment(text: str) -> datetime:
    """Return a moment the store kept; one without a zone is UTC, as it was written."""
    if not isinstance(text, str):
        raise TypeError(f"a moment is ISO 8601 text, not {text!r}")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, OverflowError)
"""What reading a damaged store, or one of another version, raises."""


@dataclass(frozen=True, slots=True)
class AppSession:
    """The app session Graph accepted last, as far as we know."""

    presence: AppPresence
    sent_at: datetime
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """Serialize for the store."""
        return {
            "presence": self.presence,
            "sent_at": self.sent_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AppSession:
        """Deserialize from the store."""
        return cls(
            AppPresence(data["presence"]),
            _moment(data["sent_at"]),
            _moment(data["expires_at"]),
        )

    @property
    def lapses_at(self) -> datetime:
        """When Graph stops showing it as set: it fades (Available) or expires."""
        if self.presence.times_out:
            return min(self.expires_at, self.sent_at + AVAILABLE_TIMEOUT)
        return self.expires_at

    @property
    def refresh_due(self) -> datetime:
        """When to set it again so it neither fades (Available) nor expires."""
        return self.lapses_at - REFRESH_MARGIN


@dataclass(frozen=True, slots=True)
class PreferredState:
    """The user-preferred presence last set from Home Assistant."""

    presence: PreferredPresence
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """Serialize for the store."""
        return {"presence": self.presence, "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreferredState:
        """Deserialize from the store."""
        return cls(PreferredPresence(data["presence"]), _moment(data["expires_at"]))


@dataclass(frozen=True, slots=True)
class PreferredWish:
    """A user-preferred presence (``None``: its clearing) Graph has not accepted yet."""

    presence: PreferredPresence | None
    expires_at: datetime | None = None
    """When the wished presence ends: fixed when wished, so a late send ends on time."""

    def as_dict(self) -> dict[str, Any]:
        """Serialize for the store."""
        return {
            "presence": self.presence,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreferredWish:
        """Deserialize from the store."""
        return cls(
            PreferredPresence(data["presence"]) if data.get("presence") else None,
            _moment(data["expires_at"]) if data.get("expires_at") else None,
        )


@dataclass(frozen=True, slots=True)
class SetSession:
    """Send setPresence: create or refresh the app session."""

    presence: AppPresence
    expiration: timedelta


@dataclass(frozen=True, slots=True)
class EndSession:
    """Send clearPresence: end the app session."""


@dataclass(frozen=True, slots=True)
class SetPreferred:
    """Send setUserPreferredPresence."""

    presence: PreferredPresence
    expiration: timedelta
    wish: PreferredWish
    """The wish this request sends; met once Graph accepts, unless replaced."""


@dataclass(frozen=True, slots=True)
class ClearPreferred:
    """Send clearUserPreferredPresence."""

    wish: PreferredWish


type SessionRequest = SetSession | EndSession | SetPreferred | ClearPreferred


def restored[T](stored: dict[str, Any], key: str, read: Callable[[Any], T]) -> T | None:
    """Return the part ``key`` of a store, or ``None`` if absent or unreadable."""
    if not (data := stored.get(key)):
        return None
    try:
        return read(data)
    except _UNREADABLE as err:
        LOGGER.warning("Dropped the stored %s, which could not be read: %s", key, err)
        return None
