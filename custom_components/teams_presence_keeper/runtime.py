"""An account while it runs: its parts, assembled in ``async_setup_entry``.

Each part has the narrow collaborators it needs, not the coordinator; this is the
one place that knows them all. Entities, actions, diagnostics and the config flow
ask the account, never one part for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context
from homeassistant.util import dt as dt_util

from .account_store import AccountStore
from .actions import OneOffRequests
from .coordinator import TeamsPresenceCoordinator
from .graph import AppPresence, GraphSubscriptionClient, PreferredPresence
from .keeper import AppSession, SessionKeeper, Wish
from .people import PeopleCoordinator
from .policy import FailurePolicy
from .problems import AccountProblems
from .push import PushManager
from .push_freshness import PushFreshness
from .shown import acting_for
from .work_location import WorkLocationWriter
from .writer import AppSessionWriter

type TeamsPresenceConfigEntry = ConfigEntry[TeamsPresenceAccount]


@dataclass(slots=True)
class TeamsPresenceAccount:
    """One signed-in account's parts, for as long as its entry is loaded."""

    client: GraphSubscriptionClient
    keeper: SessionKeeper
    policy: FailurePolicy
    problems: AccountProblems
    store: AccountStore
    freshness: PushFreshness
    coordinator: TeamsPresenceCoordinator
    writer: AppSessionWriter
    requests: OneOffRequests
    work_location: WorkLocationWriter
    push: PushManager | None = None
    """Graph's change notifications, with the Instant updates option."""
    people: PeopleCoordinator | None = None
    """The people the account follows; ``None`` when it follows nobody."""

    @property
    def wish(self) -> Wish:
        """What the user wants of the app session now: a hold that ended gives way.

        Even while Graph asks to wait and the keeper has not sent what follows it.
        """
        return self.keeper.wish.settled(dt_util.utcnow())

    @property
    def session(self) -> AppSession | None:
        """The app session Graph accepted last."""
        return self.keeper.session

    @property
    def preferred_presence(self) -> PreferredPresence | None:
        """The user-preferred presence wished from here, while it lasts."""
        return self.keeper.preferred_presence(dt_util.utcnow())

    async def async_set_app_presence(
        self,
        presence: AppPresence | None,
        *,
        until: datetime | None = None,
        expiration: timedelta | None = None,
        context: Context | None = None,
    ) -> None:
        """Want ``presence`` (``None``: no app session), optionally until a deadline.

        Recorded (and stored) before it is sent, so an outage keeps it pending;
        ``context`` is the caller's, so the logbook names who changed the state.
        """
        undo = self.keeper.want(
            presence, dt_util.utcnow(), until=until, expiration=expiration
        )
        with acting_for(context):
            await self.writer.async_apply(undo)

    async def async_set_preferred_presence(
        self,
        presence: PreferredPresence | None,
        expiration: timedelta | None = None,
        context: Context | None = None,
    ) -> None:
        """Set or clear the user-level presence that overrides every session.

        Kept and sent like the app presence: an outage leaves it pending, not lost.
        """
        undo = self.keeper.prefer(presence, expiration, dt_util.utcnow())
        with acting_for(context):
            await self.writer.async_apply(undo, preferred=True)

    async def async_leave_app(self) -> None:
        """For a change of app: end what only this app's token may end.

        The app session (its id is the app's) and the subscription (only the app
        that made it may delete it).
        """
        await self.writer.async_end_session()
        if self.push is not None:
            await self.push.async_end_subscription()

    async def async_stop(self) -> None:
        """Send nothing more and store the wish; Graph's session stays (no flicker).

        A write still in flight lands first (nothing is scheduled after it): the
        entry that replaces this one (a reload) is the only writer from now on.
        """
        await self.writer.async_stop()
        if self.push is not None:
            await self.push.async_stop()
        await self.store.async_save_now()
