"""The single writer of an account's presence: runs the keeper on Home Assistant.

The keeper (``keeper.py``) says which request is due and when to wake; the writer
sends it, tells the keeper how it ended, and keeps one timer for the next wake-up.
Every wish (app session or user-preferred presence) is recorded and stored before
it is sent, so throttling, outages and sign-in failures never drop it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .account_store import AccountStore
from .const import DOMAIN, LOGGER
from .graph import GraphPresenceClient
from .keeper import SessionKeeper
from .policy import FAILURES, FailurePolicy
from .problems import AccountProblems
from .remedies import Operation, Remedy
from .session_records import (
    ClearPreferred,
    EndSession,
    SessionRequest,
    SetPreferred,
    SetSession,
)
from .shown import PresenceView, acting_context, acting_for

UNLOAD_WAIT = timedelta(seconds=5)
"""How long unloading waits for a write on its way, so a reload's writes come after it."""
REMOVAL_WAIT = timedelta(seconds=10)
"""How long removing an account waits for its write on the way (Graph's timeout: 20 s)."""

WRITES_LANDING: HassKey[dict[AppSessionWriter, asyncio.Task[None]]] = HassKey(
    f"{DOMAIN}_writes_landing"
)
"""Writers of unloaded accounts with a write still on its way to Graph, each with
the task that ends once it has landed."""


class AppSessionWriter:
    """Sends what the keeper says is due, one request at a time, and sets its timer."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        *,
        client: GraphPresenceClient,
        keeper: SessionKeeper,
        problems: AccountProblems,
        store: AccountStore,
        view: PresenceView,
        session_id: str,
    ) -> None:
        """Write the app session ``session_id`` (the app's client id) of an account.

        What the keeper says is due goes through ``client``; ``problems`` carries
        out each failure's remedy; ``view`` shows what Graph accepted.
        """
        self.hass = hass
        self.entry_id = entry_id
        self.client = client
        self.keeper = keeper
        self.policy: FailurePolicy = problems.policy
        self._problems = problems
        self._store = store
        self._view = view
        self.session_id = session_id
        self.next_sync: datetime | None = None
        self.last_write: datetime | None = None
        self._refusal_logged = False
        self._lock = asyncio.Lock()
        self._timer: CALLBACK_TYPE | None = None
        self._wished_by: dict[bool, tuple[object, Context]] = {}
        """Who made the wish Graph has not had yet, by whether it is a preferred one."""
        self._end_on_landing = False

    @callback
    def async_start(self) -> None:
        """Re-assert the wish in the background, without clearing first (no flicker).

        Setup does not wait for it: a slow Graph must not hold up Home Assistant.
        """
        self.sync_in_background(force=True, name="start")

    async def async_stop(self) -> None:
        """Send nothing more; give the write in flight a moment to land.

        The keeper is closed and the timer cancelled. A write on its way is waited
        for up to ``UNLOAD_WAIT``, so it reaches Graph before what the entry that
        replaces this one (a reload) sends, which would leave Teams showing the
        older choice. Unload never waits longer: a slower write lands later, and
        until it has, a removal finds this writer (`async_end_sessions_landing`).
        """
        self.keeper.close()
        self._cancel_timer()
        if not self._lock.locked():
            return
        try:
            async with asyncio.timeout(UNLOAD_WAIT.total_seconds()), self._lock:
                return
        except TimeoutError:
            pass
        hass = self.hass
        hass.data.setdefault(WRITES_LANDING, {})[self] = (
            hass.async_create_background_task(
                self._async_after_landing(), f"{DOMAIN} write landing"
            )
        )

    @callback
    def end_session_on_landing(self) -> None:
        """For a removal: end the session the write on its way makes, once it lands."""
        self._end_on_landing = True

    async def _async_after_landing(self) -> None:
        """Once the write on its way has ended: end its session if the account is gone."""
        async with self._lock:
            if self._end_on_landing:
                await self._async_end()
        del self.hass.data[WRITES_LANDING][self]

    async def async_apply(
        self, undo: Callable[[], None], *, preferred: bool = False
    ) -> None:
        """Send a wish the keeper just recorded for the caller this task acts for.

        Graph's refusal undoes it (``undo``) and raises; an unreachable or throttling
        Graph keeps the wish, shown as pending, and the writer retries on its own.
        What Graph's acceptance changes names the caller, whoever sends it: a burst
        of choices is sent by the first caller's task.
        """
        wish = self.keeper.preferred_wish if preferred else self.keeper.wish
        if (context := acting_context()) is not None:
            self._wished_by[preferred] = (wish, context)
        else:
            self._wished_by.pop(preferred, None)
        self._view.async_update_listeners()
        try:
            await self.async_sync()
        except HomeAssistantError:
            undo()
            self._view.async_update_listeners()
            raise
        finally:
            self._store.save()

    async def async_end_session(self) -> None:
        """End the app session in Graph, keeping the wish for whoever writes next.

        For a change of app: the session id is the app's, and only this app's token
        may end it. A failure is logged, not raised: Graph ends it at expiry anyway.
        """
        async with self._lock:
            if self.keeper.session is not None and await self._async_end():
                self.keeper.session_ended()
                self._store.save()

    async def _async_end(self) -> bool:
        """End the app session in Graph; a failure is logged and ``False``.

        After a removal, a refreshed token cannot be stored in the entry any more
        (Home Assistant's error, not a failure of Graph's): logged as well.
        """
        try:
            await self._async_send(EndSession())
        except (*FAILURES, HomeAssistantError) as err:
            remedy = self.policy.failed(err, Operation.CLEAN_UP, dt_util.utcnow())
            if not remedy.done:
                LOGGER.warning(
                    "Could not end the Teams app presence: %s", remedy.reason
                )
            return remedy.done
        return True

    async def async_sync(self, *, force: bool = False) -> None:
        """Make Graph match the wishes, one due request after another.

        ``force`` sets the wished session even if Graph should still hold it. Raises
        a translated error only for refusals a retry cannot fix.
        """
        changed = False
        wisher: Context | None = None
        try:
            async with self._lock:
                self._cancel_timer()
                failed: Remedy | None = None
                while request := self._due(now := dt_util.utcnow(), force=force):
                    wish = self._wish_sent_by(request)
                    try:
                        await self._async_send(request)
                    except FAILURES as err:
                        failed = self._retry_after_failure(err, request, now)
                        if failed is not None:
                            break
                    self.policy.succeeded(Operation.WRITE)
                    changed |= self.keeper.accepted(request, now)
                    credit = self._credit(wish)
                    wisher = credit or wisher
                    with acting_for(credit):
                        self._view.async_update_listeners()
                    force = force and isinstance(
                        request, (SetPreferred, ClearPreferred)
                    )
                    self.last_write = now
                    self._store.save()
                    self._problems.resolved(wrote=True)
                    if self._refusal_logged:
                        LOGGER.info("Graph accepts the Teams presence again")
                        self._refusal_logged = False
                self._schedule(self._next_wake(failed, now))
        finally:
            # A refusal too: what is shown may have changed by itself (a hold's end).
            self._view.async_update_listeners()
        if changed:
            with acting_for(wisher):
                await self._view.async_refresh()

    def _next_wake(self, failed: Remedy | None, now: datetime) -> datetime | None:
        """Return the next wake-up, or after a failure its retry.

        Unless what is shown changes by itself first (an override's or a hold's end).
        """
        shown = self.keeper.next_shown_change(now)
        if failed is not None:
            return failed.wake(shown)
        return self.policy.next_wake(now, self.keeper.next_wake(now), shown)

    def _due(self, now: datetime, *, force: bool) -> SessionRequest | None:
        """Return the keeper's due request, unless Graph asked to wait."""
        if self.policy.is_throttled(now):
            return None
        return self.keeper.due(now, force=force)

    def _wish_sent_by(self, request: SessionRequest) -> tuple[bool, object]:
        """Return the wish ``request`` serves: before sending, as a new one may come."""
        if isinstance(request, (SetPreferred, ClearPreferred)):
            return True, request.wish
        return False, self.keeper.wish

    def _credit(self, sent: tuple[bool, object]) -> Context | None:
        """Return who made the wish Graph just accepted; once: a keep-alive names nobody."""
        preferred, wish = sent
        wished = self._wished_by.get(preferred)
        if wished is None or wished[0] is not wish:
            return None
        del self._wished_by[preferred]
        return wished[1]

    def _retry_after_failure(
        self, err: Exception, request: SessionRequest, now: datetime
    ) -> Remedy | None:
        """Carry out the policy's remedy of a failed write; ``None``: as if accepted.

        Raises the caller's translated error where a retry cannot help by itself,
        once the timer is set for the retry, if any, or for what is shown to
        change by itself (a hold's end).
        """
        remedy = self._problems.failed(
            err,
            Operation.END_SESSION
            if isinstance(request, EndSession)
            else Operation.WRITE,
            next_due=self.keeper.next_wake(now),
        )
        if remedy.done:
            LOGGER.debug("App session was already gone")
            return None
        if remedy.error_key is not None:
            self._schedule(self._next_wake(remedy, now))
            raise self._problems.error(remedy) from err
        return remedy

    @callback
    def sync_in_background(self, *, force: bool = False, name: str) -> None:
        """Sync where no caller waits (start, timer, reconnect).

        Not the entry's task: an unload would cut its request off, which Graph may
        still carry out, unseen. It lands like a caller's, and nothing follows it.
        """
        self.hass.async_create_background_task(
            self._async_sync_logged(force), f"{DOMAIN} {name}"
        )

    async def _async_sync_logged(self, force: bool) -> None:
        """Sync; a refusal is logged once (it repeats every retry), the wish is kept."""
        try:
            await self.async_sync(force=force)
        except HomeAssistantError as err:
            if not self._refusal_logged:
                LOGGER.warning("Could not keep the Teams presence: %s", err)
                self._refusal_logged = True

    async def _async_send(self, request: SessionRequest) -> None:
        """Send one request of the keeper's to Graph."""
        client = self.client
        match request:
            case SetSession(presence, expiration):
                await client.set_presence(self.session_id, presence, expiration)
            case SetPreferred(presence, expiration):
                await client.set_preferred_presence(presence, expiration)
            case ClearPreferred():
                await client.clear_preferred_presence()
            case EndSession():
                await client.clear_presence(self.session_id)

    def _schedule(self, when: datetime | None) -> None:
        self._cancel_timer()
        self.next_sync = None if self.keeper.closed else when
        if self.next_sync is not None:
            self._timer = async_track_point_in_utc_time(
                self.hass, self._handle_timer, self.next_sync
            )

    @callback
    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None

    @callback
    def _handle_timer(self, _now: datetime) -> None:
        self._timer = None
        self.sync_in_background(name="keep-alive")


async def async_end_sessions_landing(hass: HomeAssistant, entry_id: str) -> bool:
    """For a removal: end the session each write still on its way makes as it lands.

    Returns whether any was on its way. With the unload's wait, waits for them at
    most `REMOVAL_WAIT` in all: one that lands later is ended then, with no entry
    left to do it.
    """
    landing = {
        writer: landed
        for writer, landed in hass.data.get(WRITES_LANDING, {}).items()
        if writer.entry_id == entry_id
    }
    for writer in landing:
        writer.end_session_on_landing()
    if landing:
        await asyncio.wait(
            landing.values(), timeout=(REMOVAL_WAIT - UNLOAD_WAIT).total_seconds()
        )
    return bool(landing)
