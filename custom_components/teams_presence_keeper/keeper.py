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
from datetime import datetime, timedelta
import math
from typing import Any

from .const import REFRESH_MARGIN
from .graph import MAX_EXPIRATION, MIN_EXPIRATION, AppPresence, PreferredPresence
from .session_records import (
    AppSession,
    ClearPreferred,
    EndSession,
    PreferredState,
    PreferredWish,
    SessionRequest,
    SetPreferred,
    SetSession,
    Wish,
    restored,
)

EXPIRATION_ROUNDING = timedelta(minutes=1)
"""Graph takes whole minutes: a held session may outlive the ask by this much."""


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
        wish = restored(parts, "wish", Wish.from_dict)
        self.wish = (wish or Wish()).settled(now)
        self.preferred = restored(parts, "preferred", PreferredState.from_dict)
        self.preferred_wish = restored(parts, "preferred_wish", PreferredWish.from_dict)
        self.session = restored(parts, "session", AppSession.from_dict)
