"""The app presence session's rules, as a plain state machine: no Home Assistant here.

Graph lets an Available session fade 5 minutes after its last set and expires every
session 5 to 240 minutes after it. The keeper holds what the user wants (the wish
for the app session, and a user-preferred presence not yet sent) and what Graph
accepted of each. It answers the two questions of whoever runs it: which request is
due now, and when to wake next; and it learns how each request ended. Whether it
may be sent now, and when to try again after a failure, is the failure policy's
(``policy.py``). A closed keeper (its entry unloaded) has nothing due and nothing
to wake for, ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
from typing import Any

from .const import LOGGER, REFRESH_MARGIN
from .graph import (
    AVAILABLE_TIMEOUT,
    MAX_EXPIRATION,
    MIN_EXPIRATION,
    AppPresence,
    PreferredPresence,
)

EXPIRATION_ROUNDING = timedelta(minutes=1)
"""Graph takes whole minutes: a held session may outlive the ask by this much."""


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


class SessionKeeper:
    """One account's app session: the wish, and what Graph holds."""

    def __init__(self, default_expiration: timedelta) -> None:
        """Keep sessions for ``default_expiration`` unless a wish asks otherwise."""
        self.default_expiration = default_expiration
        self.wish = Wish()
        self.session: AppSession | None = None
        self.preferred: PreferredState | None = None
        self.preferred_wish: PreferredWish | None = None
        """A user-preferred presence to send; ``None`` once Graph accepted it."""
        self.closed = False

    def close(self) -> None:
        """Stop for good: a closed keeper asks for no request and no wake-up."""
        self.closed = True

    # What the user wants

    def want(
        self,
        presence: AppPresence | None,
        now: datetime,
        *,
        until: datetime | None = None,
        expiration: timedelta | None = None,
    ) -> Callable[[], None]:
        """Record a new wish; return what undoes it, unless another replaced it.

        A hold (``until``) remembers what was wanted before it, to return to.
        """
        previous = self.wish.settled(now)
        before = (
            Wish(previous.after_hold, expiration=previous.after_hold_expiration)
            if previous.until
            else previous
        )
        held = until is not None
        self.wish = wish = Wish(
            presence,
            until=until if presence is not None else None,
            after_hold=before.presence if held else None,
            expiration=expiration,
            after_hold_expiration=before.expiration if held else None,
        )

        def undo() -> None:
            if self.wish is wish:
                self.wish = previous

        return undo

    def prefer(
        self,
        presence: PreferredPresence | None,
        expiration: timedelta | None,
        now: datetime,
    ) -> Callable[[], None]:
        """Record a user-preferred presence to send (``None``: clear it).

        Returns what undoes it, unless another replaced it.
        """
        previous = self.preferred_wish
        self.preferred_wish = wish = PreferredWish(
            presence,
            None
            if presence is None
            else now + (expiration or presence.default_expiration),
        )

        def undo() -> None:
            if self.preferred_wish is wish:
                self.preferred_wish = previous

        return undo

    def app_presence_applied(self, now: datetime) -> bool:
        """Whether Graph holds the app session as wished (as far as we know).

        Graph drops a session at its expiry and fades Available, however long the
        writes that would have refreshed it kept failing.
        """
        wished = self.wish.settled(now).presence
        session = self.session
        if wished is None:
            return session is None or now >= session.expires_at
        return (
            session is not None
            and session.presence is wished
            and now < session.lapses_at
        )

    def preferred_presence(self, now: datetime) -> PreferredPresence | None:
        """Return the user-preferred presence wished from here, while it lasts.

        A wish not sent yet counts: Home Assistant shows what it will hold.
        """
        if (wish := self.preferred_wish) is not None:
            lasts = wish.expires_at is not None and wish.expires_at > now
            return wish.presence if lasts else None
        if self.preferred is None or self.preferred.expires_at <= now:
            return None
        return self.preferred.presence

    def preferred_pending(self, now: datetime) -> bool:
        """Whether a user-preferred presence wished from here still waits for Graph.

        One that ended before it could be sent waits for nothing.
        """
        wish = self.preferred_wish
        return wish is not None and (
            wish.presence is None
            or (wish.expires_at is not None and wish.expires_at > now)
        )

    def preferred_expires_at(self, now: datetime) -> datetime | None:
        """When the user-preferred presence wished from here ends, if it lasts."""
        if self.preferred_presence(now) is None:
            return None
        if self.preferred_wish is not None:
            return self.preferred_wish.expires_at
        return self.preferred.expires_at if self.preferred else None

    # What is due, and when to wake

    def due(self, now: datetime, *, force: bool = False) -> SessionRequest | None:
        """Return the one request the wish needs now, if any.

        ``force`` sets the wished state even if Graph should still hold it (at
        start-up, when what Graph holds is not known for sure). A user-preferred
        presence goes first: it overrides every session.
        """
        if self.closed:
            return None
        if (preferred := self._preferred_due(now)) is not None:
            return preferred
        self.wish = wish = self.wish.settled(now)
        if wish.presence is None:
            return EndSession() if self.session is not None else None
        expiration = self.expiration(wish, now)
        session = self.session
        if (
            not force
            and session is not None
            and session.presence is wish.presence
            and session.sent_at <= now
            and now < session.refresh_due
            # A shorter expiration than the session's must reach Graph now: if Home
            # Assistant stopped, Teams would show the state longer than asked.
            and session.expires_at <= now + expiration + EXPIRATION_ROUNDING
        ):
            return None
        return SetSession(wish.presence, expiration)

    def _preferred_due(self, now: datetime) -> SetPreferred | ClearPreferred | None:
        """Return the preferred presence to send, if any; one ended unsent is dropped."""
        wish = self.preferred_wish
        if wish is None:
            return None
        if wish.presence is None or wish.expires_at is None:
            return ClearPreferred(wish)
        remaining = wish.expires_at - now
        if remaining < EXPIRATION_ROUNDING:
            self.preferred_wish = None
            return None
        return SetPreferred(
            wish.presence,
            timedelta(minutes=math.ceil(remaining.total_seconds() / 60)),
            wish,
        )

    def next_wake(self, now: datetime) -> datetime | None:
        """When a request may next be due, or what Home Assistant shows changes.

        A request: a refresh, a hold's end. What is shown changes by itself: a
        hold's end, a user-preferred presence's end, the app session's lapse.
        """
        if self.closed:
            return None
        shown_changes = self._shown_changes(now)
        if self.session is not None:
            # Sent "later" than now: the clock was set back, Graph's was not.
            refresh = self.session.refresh_due if self.session.sent_at <= now else now
            wakes = [refresh, *shown_changes]
        else:
            wakes = shown_changes
        return min(wakes, default=None)

    def next_shown_change(self, now: datetime) -> datetime | None:
        """When what Home Assistant shows changes by itself, failures or not."""
        return None if self.closed else min(self._shown_changes(now), default=None)

    def _shown_changes(self, now: datetime) -> list[datetime]:
        """Return a hold's end, a user-preferred presence's end, the session's lapse."""
        return [
            moment
            for moment in (
                self.wish.until,
                self.preferred_expires_at(now),
                self.session.lapses_at if self.session else None,
            )
            if moment is not None and moment > now
        ]

    def expiration(self, wish: Wish, now: datetime) -> timedelta:
        """Session expiration: the wish's or the default, cut short for a hold.

        A hold's session outlives its deadline only a little, so if Home Assistant
        stops during it Teams drops the state soon after, not an hour later.
        """
        expiration = wish.expiration or self.default_expiration
        if wish.until is not None:
            remaining = (wish.until - now + 2 * REFRESH_MARGIN).total_seconds()
            expiration = min(expiration, timedelta(minutes=math.ceil(remaining / 60)))
        return min(max(expiration, MIN_EXPIRATION), MAX_EXPIRATION)

    # How requests ended

    def accepted(self, request: SessionRequest, now: datetime) -> bool:
        """Graph accepted ``request`` sent at ``now``; return if the state changed."""
        if isinstance(request, (SetPreferred, ClearPreferred)):
            self.preferred = (
                PreferredState(request.presence, now + request.expiration)
                if isinstance(request, SetPreferred)
                else None
            )
            if self.preferred_wish is request.wish:
                self.preferred_wish = None
            return True
        previous = self.session
        if isinstance(request, EndSession):
            self.session = None
            return True
        self.session = AppSession(request.presence, now, now + request.expiration)
        return previous is None or previous.presence is not request.presence

    def session_ended(self) -> None:
        """Forget the app session: it is gone from Graph (say, for a change of app)."""
        self.session = None

    # Restarts

    def as_dict(self) -> dict[str, Any]:
        """Return what outlives a restart: wishes, session and preferred presence."""
        return {
            "wish": self.wish.as_dict(),
            "session": self.session.as_dict() if self.session else None,
            "preferred": self.preferred.as_dict() if self.preferred else None,
            "preferred_wish": (
                self.preferred_wish.as_dict() if self.preferred_wish else None
            ),
        }

    def restore(self, stored: object, now: datetime) -> None:
        """Load what ``as_dict`` saved; a hold that ended while down is over.

        A part that cannot be read (a damaged store, another version's) is dropped
        and logged: the account starts without it rather than not at all.
        """
        parts: dict[str, Any] = stored if isinstance(stored, dict) else {}
        wish = _restored(parts, "wish", Wish.from_dict)
        self.wish = (wish or Wish()).settled(now)
        self.preferred = _restored(parts, "preferred", PreferredState.from_dict)
        self.preferred_wish = _restored(
            parts, "preferred_wish", PreferredWish.from_dict
        )
        self.session = _restored(parts, "session", AppSession.from_dict)


def _restored[T](
    stored: dict[str, Any], key: str, read: Callable[[Any], T]
) -> T | None:
    """Return the part ``key`` of a store, or ``None`` if absent or unreadable."""
    if not (data := stored.get(key)):
        return None
    try:
        return read(data)
    except _UNREADABLE as err:
        LOGGER.warning("Dropped the stored %s, which could not be read: %s", key, err)
        return None
