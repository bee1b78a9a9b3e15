"""The app presence session's rules, as a plain state machine: no Home Assistant here.

Graph lets an Available session fade 5 minutes after its last set and expires every
session 5 to 240 minutes after it; a 429 asks every request of the account to wait.
The keeper holds what the user wants (the wish for the app session, and a
user-preferred presence not yet sent), what Graph accepted of each, and how long
Graph asked to wait. It answers the two questions of whoever runs it: which request
is due now, and when to wake next; and it learns how each request ended. A closed
keeper (its entry unloaded) has nothing due and nothing to wake for, ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
import math
from typing import Any

from .const import REFRESH_MARGIN
from .graph import (
    AVAILABLE_TIMEOUT,
    MAX_EXPIRATION,
    MIN_EXPIRATION,
    AppPresence,
    PreferredPresence,
)

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=10),
    timedelta(seconds=20),
    timedelta(seconds=30),
)
"""Waits between retries of a failed write while Graph is unreachable."""
THROTTLED_WITHOUT_RETRY_AFTER = RETRY_DELAYS[-1]
"""How long to wait after a 429 that did not say how long."""
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

    def settled(self, now: datetime) -> Wish:
        """Return the wish in force at ``now``: a hold past its deadline gives way."""
        if self.until is not None and now >= self.until:
            return Wish(self.after_hold)
        return self

    def as_dict(self) -> dict[str, Any]:
        """Serialize for the store."""
        return {
            "presence": self.presence,
            "until": self.until.isoformat() if self.until else None,
            "after_hold": self.after_hold,
            "expiration": self.expiration.total_seconds() if self.expiration else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Wish:
        """Deserialize from the store (``then`` is what version 0.1.0 called it)."""
        after_hold = data.get("after_hold") or data.get("then")
        return cls(
            presence=AppPresence(data["presence"]) if data.get("presence") else None,
            until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
            after_hold=AppPresence(after_hold) if after_hold else None,
            expiration=(
                timedelta(seconds=data["expiration"])
                if data.get("expiration")
                else None
            ),
        )


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
            datetime.fromisoformat(data["sent_at"]),
            datetime.fromisoformat(data["expires_at"]),
        )

    @property
    def refresh_due(self) -> datetime:
        """When to set it again so it neither fades (Available) nor expires."""
        lapses = self.expires_at
        if self.presence.times_out:
            lapses = min(lapses, self.sent_at + AVAILABLE_TIMEOUT)
        return lapses - REFRESH_MARGIN


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
        return cls(
            PreferredPresence(data["presence"]),
            datetime.fromisoformat(data["expires_at"]),
        )


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
            datetime.fromisoformat(data["expires_at"])
            if data.get("expires_at")
            else None,
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
    """One account's app session: the wish, what Graph holds, and Graph's limits."""

    def __init__(self, default_expiration: timedelta) -> None:
        """Keep sessions for ``default_expiration`` unless a wish asks otherwise."""
        self.default_expiration = default_expiration
        self.wish = Wish()
        self.session: AppSession | None = None
        self.preferred: PreferredState | None = None
        self.preferred_wish: PreferredWish | None = None
        """A user-preferred presence to send; ``None`` once Graph accepted it."""
        self.throttled_until: datetime | None = None
        self.failures = 0
        """Writes that failed in a row because Graph was unreachable."""
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
        after_hold = previous.after_hold if previous.until else previous.presence
        self.wish = wish = Wish(
            presence,
            until=until if presence is not None else None,
            after_hold=after_hold if until is not None else None,
            expiration=expiration,
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
        """Whether Graph holds the app session as wished (as far as we know)."""
        wished = self.wish.settled(now).presence
        if wished is None:
            return self.session is None
        return self.session is not None and self.session.presence is wished

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
        if self.closed or self.is_throttled(now):
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
        """When a request may next be due: a refresh, a hold's end, or a throttle's."""
        if self.closed:
            return None
        if self.is_throttled(now):
            return self.throttled_until
        wakes = [
            moment
            for moment in (
                self.session.refresh_due if self.session else None,
                self.wish.until,
            )
            if moment is not None
        ]
        return min(wakes) if wakes else None

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
        self.failures = 0
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

    def unreachable(self, now: datetime) -> datetime:
        """Count a write that failed for now (network, 5xx); return when to retry."""
        delay = RETRY_DELAYS[min(self.failures, len(RETRY_DELAYS) - 1)]
        self.failures += 1
        return now + delay

    def throttle(self, retry_after: float | None, now: datetime) -> datetime:
        """Graph answered 429: every request waits until the returned moment."""
        wait = (
            THROTTLED_WITHOUT_RETRY_AFTER
            if retry_after is None
            else timedelta(seconds=retry_after)
        )
        self.throttled_until = now + wait
        return self.throttled_until

    def is_throttled(self, now: datetime) -> bool:
        """Whether Graph asked this account to wait past ``now``."""
        return self.throttled_until is not None and now < self.throttled_until

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

    def restore(self, stored: dict[str, Any], now: datetime) -> None:
        """Load what ``as_dict`` saved; a hold that ended while down is over."""
        self.wish = Wish.from_dict(stored.get("wish") or {}).settled(now)
        if preferred := stored.get("preferred"):
            self.preferred = PreferredState.from_dict(preferred)
        if preferred_wish := stored.get("preferred_wish"):
            self.preferred_wish = PreferredWish.from_dict(preferred_wish)
        if session := stored.get("session"):
            self.session = AppSession.from_dict(session)
