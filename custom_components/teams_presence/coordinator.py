"""One per account: reads presence, and runs the keeper of its app session.

The rules (what is due, when, backoff, Retry-After) live in ``keeper.py``; this is
the Home Assistant side: the read schedule, the keeper's timer, the Store, repair
issues and translated errors. Writes have a single writer, ``_async_sync``: every
wish is recorded first (and stored, so it survives restarts), then sent. Throttling,
outages and sign-in failures never drop the wish.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .auth import AppRegistrationError
from .const import (
    CONF_EXPIRATION,
    CONF_READ_INTERVAL,
    DEFAULT_EXPIRATION_MINUTES,
    DEFAULT_READ_INTERVAL,
    DOMAIN,
    LOGGER,
    STORAGE_VERSION,
)
from .failures import FAILURES, Failure, classify, reason, retry_after
from .graph import (
    Activity,
    AppPresence,
    Availability,
    GraphNotFoundError,
    GraphPresenceClient,
    PreferredPresence,
    PresenceSnapshot,
)
from .keeper import (
    AppSession,
    EndSession,
    SessionKeeper,
    SessionRequest,
    SetSession,
    Wish,
)

type TeamsPresenceConfigEntry = ConfigEntry[TeamsPresenceCoordinator]

REFUSED_RETRY = timedelta(minutes=5)
"""When Graph refuses a keep-alive (say, a permission was removed), ask again this late."""
RECENT_ERRORS = 10
ISSUE_MISSING_PERMISSION = "missing_permission"
ISSUE_APP_REGISTRATION = "app_registration"
ISSUE_LEARN_MORE = {
    ISSUE_MISSING_PERMISSION: (
        "https://learn.microsoft.com/graph/api/presence-setpresence#permissions"
    ),
    "public_client_disabled": (
        "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code"
    ),
}
"""Microsoft's page on each repair issue's fix, by the issue's translation key."""


class TeamsPresenceCoordinator(DataUpdateCoordinator[PresenceSnapshot]):
    """Reads one account's presence and keeps its app session as wished."""

    config_entry: TeamsPresenceConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: TeamsPresenceConfigEntry,
        client: GraphPresenceClient,
        session_id: str,
    ) -> None:
        """Keep the app session ``session_id`` (the application id) for ``entry``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=timedelta(
                seconds=entry.options.get(CONF_READ_INTERVAL, DEFAULT_READ_INTERVAL)
            ),
            always_update=False,
        )
        self.client = client
        self.session_id = session_id
        self.keeper = SessionKeeper(
            timedelta(
                minutes=entry.options.get(CONF_EXPIRATION, DEFAULT_EXPIRATION_MINUTES)
            )
        )
        self.next_sync: datetime | None = None
        self.last_write: datetime | None = None
        self.recent_errors: deque[str] = deque(maxlen=RECENT_ERRORS)
        self._refusal_logged = False
        self._write_lock = asyncio.Lock()
        self._timer: CALLBACK_TYPE | None = None
        self._unknown_values_logged: set[str] = set()
        self._store = wish_store(hass, entry)

    @property
    def wish(self) -> Wish:
        """What the user wants of the app session."""
        return self.keeper.wish

    @property
    def session(self) -> AppSession | None:
        """The app session Graph accepted last."""
        return self.keeper.session

    @property
    def preferred_presence(self) -> PreferredPresence | None:
        """The user-preferred presence set from here, while it lasts."""
        return self.keeper.preferred_presence(dt_util.utcnow())

    async def _async_setup(self) -> None:
        """Load the wish kept across restarts; a hold that ended while down is over."""
        self.keeper.restore(await self._store.async_load() or {}, dt_util.utcnow())

    @callback
    def async_start(self) -> None:
        """Re-assert the wish in the background, without clearing first (no flicker).

        Setup does not wait for it: a slow Graph must not hold up Home Assistant.
        """
        self.config_entry.async_create_background_task(
            self.hass, self._async_sync_in_background(force=True), f"{DOMAIN} start"
        )

    async def async_shutdown(self) -> None:
        """Stop the keep-alive and store the wish; Graph's session stays (no flicker).

        A write still in flight may land, but nothing is scheduled after it: the
        entry that replaces this one (a reload) is the only writer from now on.
        """
        self.keeper.close()
        self._cancel_timer()
        await self._store.async_save(self.keeper.as_dict())
        await super().async_shutdown()

    async def async_set_app_presence(
        self,
        presence: AppPresence | None,
        *,
        until: datetime | None = None,
        expiration: timedelta | None = None,
    ) -> None:
        """Want ``presence`` (``None``: no app session), optionally until a deadline.

        Graph's refusal restores the previous wish and raises; an unreachable or
        throttling Graph keeps the new wish and the writer retries on its own.
        """
        previous = self.keeper.want(
            presence, dt_util.utcnow(), until=until, expiration=expiration
        )
        wish = self.keeper.wish
        self.async_update_listeners()
        try:
            await self._async_sync()
        except HomeAssistantError:
            if self.keeper.wish is wish:
                self.keeper.wish = previous
                self.async_update_listeners()
            raise
        finally:
            self._save()

    async def async_end_app_session(self) -> None:
        """End the app session in Graph, keeping the wish for whoever writes next.

        For a change of app: the session id is the app's, and only this app's token
        may end it. A failure is logged, not raised: Graph ends it at expiry anyway.
        """
        async with self._write_lock:
            if self.session is None:
                return
            try:
                await self._async_send(EndSession())
            except FAILURES as err:
                LOGGER.warning(
                    "Could not end the old app's Teams presence session: %s", err
                )
                return
            self.keeper.session_ended()
            self._save()

    async def async_set_preferred_presence(
        self, presence: PreferredPresence | None, expiration: timedelta | None = None
    ) -> None:
        """Set or clear the user-level presence that overrides every session."""
        if presence is None:
            await self._async_call(self.client.clear_preferred_presence)
        else:
            await self._async_call(
                partial(self.client.set_preferred_presence, presence, expiration)
            )
        self.keeper.prefer(presence, expiration, dt_util.utcnow())
        self._save()
        self.async_update_listeners()
        await self.async_refresh()

    async def async_set_status_message(
        self, message: str | None, expires_at: datetime | None = None
    ) -> None:
        """Publish or (``None``) clear the status message."""
        if message is None:
            await self._async_call(self.client.clear_status_message)
        else:
            await self._async_call(
                partial(self.client.set_status_message, message, expires_at)
            )
        await self.async_refresh()

    async def _async_call(self, request: Callable[[], Awaitable[None]]) -> None:
        """Send a one-off request; any failure is the caller's to see, translated.

        While Graph asked this account to wait, nothing is sent; a 429 here makes
        every other request of the account wait too.
        """
        if self.keeper.is_throttled(dt_util.utcnow()):
            raise self._throttled_error()
        try:
            await request()
        except FAILURES as err:
            if self._record_error(err) is Failure.THROTTLED:
                raise self._throttled_error() from err
            raise self._caller_error(err) from err

    def _throttled_error(self) -> HomeAssistantError:
        until = self.keeper.throttled_until or dt_util.utcnow()
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="throttled_until",
            translation_placeholders={
                "time": dt_util.as_local(until).strftime("%H:%M:%S")
            },
        )

    async def _async_update_data(self) -> PresenceSnapshot:
        """Read the aggregated presence, unless Graph asked us to wait."""
        if self.keeper.is_throttled(dt_util.utcnow()) and self.data is not None:
            return self.data
        try:
            snapshot = await self.client.get_presence()
        except FAILURES as err:
            failure = self._record_error(err)
            if failure is Failure.THROTTLED:
                if self.data is not None:
                    return self.data
                raise UpdateFailed(
                    translation_domain=DOMAIN, translation_key="throttled"
                ) from err
            if failure is Failure.SIGN_IN:
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN, translation_key="sign_in_required"
                ) from err
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="read_failed",
                translation_placeholders={"reason": reason(err)},
            ) from err
        self._record_success()
        self._log_unknown_values(snapshot)
        if self.keeper.failures:
            # Graph is back: re-establish the session now, not at the next retry.
            self.config_entry.async_create_background_task(
                self.hass, self._async_sync_in_background(), f"{DOMAIN} reconnect"
            )
        return snapshot

    async def _async_sync(self, *, force: bool = False) -> None:
        """Make Graph's app session match the wish: the only writer of the session.

        ``force`` sets the wished state even if Graph should still hold it. Raises a
        translated error only for refusals a retry cannot fix.
        """
        async with self._write_lock:
            self._cancel_timer()
            now = dt_util.utcnow()
            request = self.keeper.due(now, force=force)
            if request is None:
                self._schedule(self.keeper.next_wake(now))
                return
            try:
                await self._async_send(request)
            except FAILURES as err:
                failure = self._record_error(err)
                if failure is Failure.THROTTLED:
                    self._schedule(self.keeper.throttled_until)
                    return
                if failure in (Failure.TRANSIENT, Failure.APP_REGISTRATION):
                    # From the failure, not the attempt: a timeout takes 20 s.
                    self._schedule(self.keeper.unreachable(dt_util.utcnow()))
                    return
                if failure is Failure.SIGN_IN:
                    self.config_entry.async_start_reauth(self.hass)
                else:
                    # Refused: Graph keeps the session it had, and so the keep-alive.
                    self._schedule(self.keeper.next_wake(now))
                raise self._caller_error(err) from err
            changed = self.keeper.accepted(request, now)
            self.last_write = now
            self._save()
            self._record_success(wrote=True)
            self._schedule(self.keeper.next_wake(now))
        self.async_update_listeners()
        if changed:
            await self.async_refresh()

    async def _async_send(self, request: SessionRequest) -> None:
        """Send one request of the keeper's to Graph."""
        if isinstance(request, SetSession):
            await self.client.set_presence(
                self.session_id, request.presence, request.expiration
            )
            return
        try:
            await self.client.clear_presence(self.session_id)
        except GraphNotFoundError:  # ended already: what was wanted
            LOGGER.debug("App session was already gone")

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
        self.config_entry.async_create_background_task(
            self.hass, self._async_sync_in_background(), f"{DOMAIN} keep-alive"
        )

    async def _async_sync_in_background(self, *, force: bool = False) -> None:
        """Sync where no caller waits: refusals are logged, the wish is kept."""
        try:
            await self._async_sync(force=force)
        except HomeAssistantError as err:
            # Once, until Graph accepts a write again: a refusal repeats every retry.
            if not self._refusal_logged:
                LOGGER.warning("Could not keep the Teams app presence: %s", err)
                self._refusal_logged = True
            if classify(err.__cause__ or err) is not Failure.SIGN_IN:
                self._schedule(dt_util.utcnow() + REFUSED_RETRY)

    def _record_error(self, err: Exception) -> Failure:
        """Note a failure: for diagnostics, Graph's throttle, and repair issues.

        Returns its kind. A repair is raised only for what the user can fix.
        """
        failure = classify(err)
        self.recent_errors.append(
            f"{dt_util.utcnow().isoformat()} {type(err).__name__}: {reason(err)}"
        )
        if failure is Failure.THROTTLED:
            self.keeper.throttle(retry_after(err), dt_util.utcnow())
        elif failure is Failure.MISSING_PERMISSION:
            self._raise_issue(ISSUE_MISSING_PERMISSION, ISSUE_MISSING_PERMISSION)
        elif isinstance(err, AppRegistrationError):
            self._raise_issue(
                ISSUE_APP_REGISTRATION, err.problem, client_id=self.session_id
            )
        return failure

    def _raise_issue(
        self, kind: str, translation_key: str, **placeholders: str
    ) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id(kind, self.config_entry),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=translation_key,
            translation_placeholders={
                "account": self.config_entry.title,
                **placeholders,
            },
            learn_more_url=ISSUE_LEARN_MORE[translation_key],
        )

    @callback
    def _record_success(self, *, wrote: bool = False) -> None:
        """Graph accepted a request, so sign-in works: its repair is fixed.

        The missing permission is fixed only when Graph accepts a write: a read
        needs less. Deleted even if another coordinator (before a reload or a
        retried setup) raised them.
        """
        kinds = [ISSUE_APP_REGISTRATION]
        if wrote:
            kinds.append(ISSUE_MISSING_PERMISSION)
            if self._refusal_logged:
                LOGGER.info("Graph accepts the Teams app presence again")
            self._refusal_logged = False
        for kind in kinds:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(kind, self.config_entry))

    def _caller_error(self, err: Exception) -> HomeAssistantError:
        """Translate a failure for whoever asked."""
        key = _CALLER_ERRORS.get(classify(err), "graph_rejected")
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders={"reason": reason(err)},
        )

    def _log_unknown_values(self, snapshot: PresenceSnapshot) -> None:
        """Log once per value that Graph sent and this version does not know."""
        for kind, raw, parsed in (
            ("availability", snapshot.raw_availability, snapshot.availability),
            ("activity", snapshot.raw_activity, snapshot.activity),
        ):
            if (
                parsed in (Availability.PRESENCE_UNKNOWN, Activity.PRESENCE_UNKNOWN)
                and raw != parsed.value
                and raw not in self._unknown_values_logged
            ):
                self._unknown_values_logged.add(raw)
                LOGGER.info("Graph sent an unknown %s %r; shown as unknown", kind, raw)

    def _save(self) -> None:
        """Store the wish soon; a burst of changes writes once."""
        self._store.async_delay_save(self.keeper.as_dict, 1)


def issue_id(kind: str, entry: ConfigEntry) -> str:
    """Name an entry's repair issue of one kind."""
    return f"{kind}_{entry.entry_id}"


@callback
def async_delete_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove an entry's repair issues: a removed account has nothing to fix."""
    for kind in (ISSUE_MISSING_PERMISSION, ISSUE_APP_REGISTRATION):
        ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry))


def wish_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Where an entry's wish, session and preferred presence outlive restarts."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")


_CALLER_ERRORS = {
    Failure.SIGN_IN: "sign_in_required",
    Failure.THROTTLED: "graph_unreachable",
    Failure.TRANSIENT: "graph_unreachable",
    Failure.APP_REGISTRATION: "graph_unreachable",
}
"""The translated error a caller sees, by kind; any other is Graph's refusal."""
