"""One per account: reads presence, runs the one-off actions, and owns the keeper.

The session's rules live in ``keeper.py`` and its writer in ``writer.py``; what to
do about a failure in ``policy.py``, carried out by ``problems.py``. This is what is left of an account on the
Home Assistant side: the read schedule, the Store and the one-off requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import (
    CONF_EXPIRATION,
    CONF_READ_INTERVAL,
    DEFAULT_EXPIRATION_MINUTES,
    DEFAULT_READ_INTERVAL,
    DOMAIN,
    LOGGER,
    STORAGE_VERSION,
)
from .graph import (
    AppPresence,
    GraphPresenceClient,
    LifecycleNotice,
    PreferredPresence,
    PresenceChange,
    PresenceSnapshot,
    WorkLocationType,
)
from .keeper import AppSession, SessionKeeper, Wish
from .policy import FAILURES, FailurePolicy, Operation, Remedy
from .problems import AccountProblems
from .push import PushManager
from .push_freshness import Lifecycle, PushFreshness, Verdict
from .push_inbox import Pushed
from .work_location import WorkLocationWriter
from .writer import AppSessionWriter

type TeamsPresenceConfigEntry = ConfigEntry[TeamsPresenceCoordinator]

_ACTING_FOR: ContextVar[tuple[asyncio.Task[Any] | None, Context | None]] = ContextVar(
    f"{DOMAIN}_acting_for", default=(None, None)
)
"""The task carrying out a caller's action or choice, and the caller's context."""


MAX_UNKNOWN_VALUES_LOGGED = 10
"""How many unknown values are logged (each once): Graph adds a few words, and one
that sends a new word every read must not log every read, nor be remembered all."""


class TeamsPresenceCoordinator(DataUpdateCoordinator[PresenceSnapshot]):
    """Reads one account's presence and keeps its app session as wished."""

    config_entry: TeamsPresenceConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: TeamsPresenceConfigEntry,
        client: GraphPresenceClient,
        client_id: str,
    ) -> None:
        """Read ``entry``'s presence; its app session's id is the app's ``client_id``."""
        self.freshness = PushFreshness(
            timedelta(
                seconds=entry.options.get(CONF_READ_INTERVAL, DEFAULT_READ_INTERVAL)
            )
        )
        """Whether pushed presence is fresh; told everything push brings."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=self.freshness.read_interval,
            always_update=False,
        )
        self.client = client
        self.keeper = SessionKeeper(
            timedelta(
                minutes=entry.options.get(CONF_EXPIRATION, DEFAULT_EXPIRATION_MINUTES)
            )
        )
        self.policy = FailurePolicy()
        self.problems = AccountProblems(hass, entry, client_id, self.save)
        self.writer = AppSessionWriter(self, client_id)
        self._unknown_values_logged: set[tuple[str, str]] = set()
        self.work_location = WorkLocationWriter(self)
        self._store = wish_store(hass, entry)
        self.push: PushManager | None = None
        """Graph's change notifications, with the Instant updates option."""
        self._watchdog: CALLBACK_TYPE | None = None

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

    async def _async_setup(self) -> None:
        """Load the wish kept across restarts; a hold that ended while down is over."""
        stored = await self._store.async_load() or {}
        self.keeper.restore(stored, now := dt_util.utcnow())
        self.policy.restore(stored, now)

    async def async_shutdown(self) -> None:
        """Stop the keep-alive and store the wish; Graph's session stays (no flicker).

        A write still in flight lands first (nothing is scheduled after it): the
        entry that replaces this one (a reload) is the only writer from now on.
        """
        await self.writer.async_stop()
        if self.push is not None:
            await self.push.async_stop()
        self._calm_watchdog()
        await self._store.async_save(self._stored())
        await super().async_shutdown()

    async def async_set_app_presence(
        self,
        presence: AppPresence | None,
        *,
        until: datetime | None = None,
        expiration: timedelta | None = None,
        context: Context | None = None,
    ) -> None:
        """Want ``presence`` (``None``: no app session), optionally until a deadline.

        ``context`` is the caller's, so the logbook names who changed the state.
        """
        undo = self.keeper.want(
            presence, dt_util.utcnow(), until=until, expiration=expiration
        )
        with self.acting_for(context):
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
        with self.acting_for(context):
            await self.writer.async_apply(undo, preferred=True)

    async def async_set_status_message(
        self,
        message: str | None,
        expires_at: datetime | None = None,
        context: Context | None = None,
    ) -> None:
        """Publish or (``None``) clear the status message."""
        with self.acting_for(context):
            if message is None:
                await self.async_call(self.client.clear_status_message)
            else:
                await self.async_call(
                    partial(self.client.set_status_message, message, expires_at)
                )
            await self.async_refresh()

    @property
    def context(self) -> Context | None:
        """The context of the caller the running task acts for, if any.

        Carried with the call, not parked on the coordinator: callers that overlap
        each see their own. Tasks and timers started meanwhile inherit the variable
        but act for nobody (a keep-alive, the next read), so they see none.
        """
        task, context = _ACTING_FOR.get()
        return context if task is not None and task is asyncio.current_task() else None

    @contextmanager
    def acting_for(self, context: Context | None) -> Iterator[None]:
        """Let the states this task changes meanwhile carry ``context``."""
        token = _ACTING_FOR.set((asyncio.current_task(), context))
        try:
            yield
        finally:
            _ACTING_FOR.reset(token)

    async def async_call(
        self,
        request: Callable[[], Awaitable[None]],
        operation: Operation = Operation.ACTION,
        noted: Callable[[Remedy], None] | None = None,
    ) -> None:
        """Send a one-off request; any failure is the caller's to see, translated.

        While Graph asked this account to wait, nothing is sent; a 429 here makes
        every other request of the account wait too. ``noted`` learns the remedy
        of a failure before the caller sees its error.
        """
        if (held := self.policy.held(operation, dt_util.utcnow())) is not None:
            raise self.problems.error(held)
        try:
            await request()
        except FAILURES as err:
            remedy = self.note_failure(err, operation)
            if noted is not None:
                noted(remedy)
            raise self.problems.error(remedy) from err

    async def _async_update_data(self) -> PresenceSnapshot:
        """Read the aggregated presence, unless Graph asked us to wait.

        A wait that outlived a reload or a restart holds the first read too: the
        entry is set up once it is over.
        """
        started = dt_util.utcnow()
        if (held := self.policy.held(Operation.READ, started)) is not None:
            return self._read_failed(held)
        try:
            snapshot = await self.client.get_presence()
        except FAILURES as err:
            return self._read_failed(self.note_failure(err, Operation.READ), err)
        self.problems.resolved(wrote=False)
        if self.policy.writes_failing:
            # Graph is back: re-establish the session now, not at the next retry.
            self.writer.sync_in_background(name="reconnect")
        if (
            self.push is not None
            and self.push.unreachable
            and not self.last_update_success
        ):
            # The same for the subscription, when reads failed too: not after its
            # doubled back-off. Its own outage, while reads work, keeps the back-off.
            self.push.keep_soon()
        if self.data is not None and snapshot.is_older_than(self.data):
            LOGGER.debug("A read older than the last one arrived late; kept the last")
            return self.data
        read = self.freshness.on_read(self.data, snapshot, started, dt_util.utcnow())
        if read.watch_until is not None:
            self._watch(read.watch_until)
        return read.shown

    # What push brings: the webhook's one way in, and the subscription's news

    async def async_pushed(self, pushed: Sequence[Pushed]) -> None:
        """Take in what one body posted to the webhook held, checked, in order.

        Each change is applied, read for or dropped as the freshness rules say;
        Graph's reauthorization request is answered once per body.
        """
        reauthorize = False
        for item in pushed:
            match item:
                case PresenceChange():
                    self._take_change(item)
                case LifecycleNotice():
                    reauthorize |= self._take_notice(item)
        if reauthorize and self.push is not None:
            await self.push.async_reauthorize()

    def _take_change(self, change: PresenceChange) -> None:
        was_healthy = self.freshness.healthy
        verdict = self.freshness.on_change(change, self.data, dt_util.utcnow())
        self._follow_push(was_healthy)
        if verdict is Verdict.APPLY:
            # Not async_set_updated_data: that would put off the safety read.
            self.data = change.applied_to(self.data)
        if verdict is Verdict.APPLY or self.freshness.healthy != was_healthy:
            self.async_update_listeners()
        if verdict is Verdict.READ:
            self._read_for_push()

    def _take_notice(self, notice: LifecycleNotice) -> bool:
        """Do what a lifecycle notice asks; return whether to reauthorize."""
        held = self.push.subscription_id if self.push is not None else None
        was_healthy = self.freshness.healthy
        match self.freshness.on_lifecycle(notice, held):
            case Lifecycle.READ:
                self._read_for_push()
            case Lifecycle.GAP:
                self._follow_push(was_healthy)
                self.async_update_listeners()
                self._keep_subscription()
            case Lifecycle.REAUTHORIZE:
                return True
        return False

    @callback
    def push_subscribed(self, subscription_id: str) -> None:
        """Trust a new subscription's notifications; read what none announced."""
        self.freshness.on_subscribed(subscription_id)
        self._calm_watchdog()
        self._read_for_push()

    @callback
    def push_working(self) -> None:
        """Note that the subscription was made or renewed."""
        was_healthy = self.freshness.healthy
        self.freshness.on_working()
        self._follow_push(was_healthy)
        self.async_update_listeners()  # the mode shown: healthy, or a new address

    @callback
    def push_failed(self) -> None:
        """Push stopped working (a failure, no address, the cloud gone): poll."""
        self._follow_push(self.freshness.on_failure())
        self.async_update_listeners()

    def _follow_push(self, was_healthy: bool) -> None:
        """Poll as fast as push's health asks; read at once when it just failed.

        The one place the polling interval is set.
        """
        self.update_interval = self.freshness.read_interval
        if self.freshness.watch_until is None:
            self._calm_watchdog()
        if was_healthy and not self.freshness.healthy:
            self.config_entry.async_create_background_task(
                self.hass, self.async_request_refresh(), f"{DOMAIN} poll"
            )

    def _keep_subscription(self) -> None:
        if self.push is not None:
            self.push.keep_soon()

    @callback
    def _read_for_push(self) -> None:
        """Read once for a burst: notifications during a read ask for one more."""
        if self.freshness.want_read():
            self.config_entry.async_create_background_task(
                self.hass, self._async_read_for_push(), f"{DOMAIN} notified read"
            )

    async def _async_read_for_push(self) -> None:
        try:
            while self.freshness.read_again():
                await self.async_refresh()
        finally:
            self.freshness.reads_done()

    def _watch(self, until: datetime) -> None:
        """Fall back to polling at ``until`` unless a notification comes first."""
        self._calm_watchdog()
        self._watchdog = async_track_point_in_utc_time(
            self.hass, self._watchdog_alarm, until
        )

    def _calm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog()
            self._watchdog = None

    @callback
    def _watchdog_alarm(self, _now: datetime) -> None:
        self._watchdog = None
        if not self.freshness.on_watchdog():
            return
        if self.freshness.counts["watchdog_fallbacks"] == 1:
            LOGGER.warning(
                "Graph did not announce a Teams presence change within a minute:"
                " reading presence at the Read interval until notifications arrive"
            )
        self._follow_push(was_healthy=True)
        self.async_update_listeners()
        self._keep_subscription()  # a new subscription, as after any gap

    def _read_failed(
        self, remedy: Remedy, err: Exception | None = None
    ) -> PresenceSnapshot:
        """Keep what was read if the remedy says so; else fail as Home Assistant wants."""
        if remedy.keeps_data and self.data is not None:
            return self.data
        raise self.problems.error(remedy) from err

    def note_failure(
        self,
        err: Exception,
        operation: Operation,
        *,
        next_due: datetime | None = None,
        **placeholders: str,
    ) -> Remedy:
        """Ask the policy what a failure of ``operation`` calls for, and carry it out.

        ``next_due`` and ``placeholders``: see `FailurePolicy.failed` and
        `AccountProblems.carry_out`.
        """
        remedy = self.policy.failed(err, operation, dt_util.utcnow(), next_due=next_due)
        return self.problems.carry_out(remedy, err, **placeholders)

    @callback
    def save(self) -> None:
        """Store the wish soon; a burst of changes writes once.

        Not after unload (a write that lands late): the unload stored it last, and
        the Store is the next entry's, or removed with the account.
        """
        if not self.keeper.closed:
            self._store.async_delay_save(self._stored, 1)

    def _stored(self) -> dict[str, Any]:
        """Return what outlives a restart: the keeper's state and Graph's wait."""
        return {**self.keeper.as_dict(), **self.policy.as_dict()}

    @callback
    def async_update_listeners(self) -> None:
        """Update the entities; first log what Graph sent that this version does not know.

        Here, so a value that arrives by push is logged as one that was read.
        """
        if self.data is not None:
            self._log_unknown_values(self.data)
        super().async_update_listeners()

    def _log_unknown_values(self, snapshot: PresenceSnapshot) -> None:
        """Log once per value that Graph sent and this version does not know."""
        for kind, text in (
            ("availability", snapshot.unknown_availability),
            ("activity", snapshot.unknown_activity),
        ):
            if (
                text is not None
                and (kind, text) not in self._unknown_values_logged
                and len(self._unknown_values_logged) < MAX_UNKNOWN_VALUES_LOGGED
            ):
                self._unknown_values_logged.add((kind, text))
                LOGGER.info(
                    "Graph sent an unknown %s %r; shown as unknown, the text in the"
                    " graph_value attribute",
                    kind,
                    text,
                )
        location = snapshot.work_location
        unknown_location = ("work location", WorkLocationType.UNKNOWN.value)
        if (
            location is not None
            and location.location_type is WorkLocationType.UNKNOWN
            and unknown_location not in self._unknown_values_logged
        ):
            self._unknown_values_logged.add(unknown_location)
            LOGGER.info("Graph sent an unknown work location type; shown as unknown")


def wish_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Where an entry's wish, session and preferred presence outlive restarts."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")
