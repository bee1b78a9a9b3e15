"""What Graph pushes to an account's webhook, taken in and applied.

Checked (client state, tokens, signature) by the Graph layer's receiver, answered
with 202 at once, then applied, read for, or dropped as ``push_order.py`` decides,
a burst of reads coalesced into one. A change a read finds that no notification
announced within a minute trips a watchdog: push is then not trusted until a
notification of a new subscription arrives.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockRequest

from .const import DOMAIN, LOGGER
from .graph import (
    LifecycleEvent,
    LifecycleNotice,
    NotificationReceiver,
    PresenceChange,
    PresenceSnapshot,
    Rejected,
    validation_token,
)
from .policy import FAILURES
from .push_intake import Intake, async_read_body
from .push_order import WORST_DELIVERY_TIME, PushOrder, Verdict

if TYPE_CHECKING:
    from .push import PushManager


class NotificationInbox:
    """Takes notifications in for one account's push manager."""

    def __init__(self, push: PushManager, receiver: NotificationReceiver) -> None:
        """Receive for ``push``, checking each notification with ``receiver``."""
        self.push = push
        self.coordinator = push.coordinator
        self.receiver = receiver
        self._intake = Intake(push.hass, push.entry, self._async_receive)
        self.order = PushOrder()
        self.counts: Counter[str] = Counter()
        """Accepted; confirmed by a read, already shown, from an old subscription;
        tokens unchecked; coalesced reads; rejected (by reason); refused as too
        large, dropped while busy; lifecycle notices; watchdog fallbacks."""
        self.last_notification: datetime | None = None
        self.silent = False
        """A change went unannounced: polling until a notification arrives."""
        self._reading = False
        self._read_again = False
        self._unannounced: datetime | None = None
        self._watchdog_logged = False
        self._watchdog_timer: CALLBACK_TYPE | None = None

    def stop(self) -> None:
        """Take no more bodies; stop the watchdog."""
        self._intake.stop()
        self._calm_watchdog()

    def checked_read(
        self,
        previous: PresenceSnapshot | None,
        snapshot: PresenceSnapshot,
        started: datetime,
    ) -> PresenceSnapshot:
        """Keep a pushed change newer than a read; watch for changes none announced."""
        snapshot = self.order.on_read(snapshot, started)
        if (
            self.push.healthy
            and not self._reading
            and previous is not None
            and (previous.availability, previous.activity)
            != (snapshot.availability, snapshot.activity)
            and self._unannounced is None
        ):
            self._unannounced = started
            self._watchdog_timer = async_call_later(
                self.coordinator.hass, WORST_DELIVERY_TIME, self._watchdog
            )
        return snapshot

    async def async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request | MockRequest
    ) -> web.Response:
        """Answer Graph's handshake, or take a notification and answer 202 at once.

        Never raises: Home Assistant would log a traceback naming the webhook (its
        secret address) and answer 200. What is refused or dropped is counted.
        """
        if (token := validation_token(request.query)) is not None:
            return web.Response(text=token, content_type="text/plain")
        if (body := await async_read_body(request)) is None:
            self.counts["refused_too_large"] += 1
            return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        if not self._intake.take(body):
            self.counts["dropped_busy"] += 1
        return web.Response(status=HTTPStatus.ACCEPTED)

    async def _async_receive(self, body: bytes) -> None:
        """Apply a rich change at once, read for a basic one; count the rest.

        The subscription is reauthorized once per body, however often it asks.
        """
        push = self.push
        reauthorize = False
        for outcome in await self.receiver.receive(
            body, client_state=push.client_state, certificates=push.certificates
        ):
            match outcome:
                case Rejected(reason=why):
                    self.counts[f"rejected_{why}"] += 1
                case LifecycleNotice():
                    reauthorize |= self._lifecycle(outcome)
                case PresenceChange():
                    if outcome.tokens_unchecked:
                        self.counts["tokens_unchecked"] += 1
                    self._accept(outcome)
        if reauthorize:
            await self._async_reauthorize(push.subscription["id"])

    def _lifecycle(self, notice: LifecycleNotice) -> bool:
        """Do what a lifecycle notice asks; return whether to reauthorize.

        Only of the subscription Graph holds for us: one replaced since (a retry)
        or never ours has nothing left to answer.
        """
        if notice.subscription_id != self.push.subscription.get("id"):
            self.counts["lifecycle_other_subscription"] += 1
            return False
        match notice.event:
            case LifecycleEvent.MISSED:
                # What the missed notifications carried is read, not waited for.
                self.counts["lifecycle_missed"] += 1
                self.read_soon()
            case LifecycleEvent.SUBSCRIPTION_REMOVED:
                # A gap: a new subscription now, polling till then.
                self.counts["lifecycle_removed"] += 1
                self.push.set_healthy(False)
                self.push.keep_soon()
            case LifecycleEvent.REAUTHORIZATION_REQUIRED:
                return True
        return False

    def _accept(self, change: PresenceChange) -> None:
        """Do what the order rules say of a change; a trusted one shows push works."""
        now = self.last_notification = dt_util.utcnow()
        self.counts["accepted"] += 1
        coordinator = self.coordinator
        verdict = self.order.on_change(change, coordinator.data, now)
        if self.order.trusts(change.subscription_id):
            self._calm_watchdog()
            self.silent = False
            if not self.push.healthy:
                self.push.set_healthy(True)
        match verdict:
            case Verdict.APPLY if coordinator.data is not None:
                # Not async_set_updated_data: that would put off the safety read.
                coordinator.data = change.applied_to(coordinator.data)
                coordinator.async_update_listeners()
            case Verdict.READ:
                if change.presence is not None:
                    self.counts["confirmed_by_read"] += 1
                self.read_soon()
            case Verdict.ALREADY_SHOWN | Verdict.OLD_SUBSCRIPTION:
                self.counts[verdict.value] += 1

    @callback
    def subscribed(self, subscription_id: str) -> None:
        """Trust a new subscription's notifications; read what none announced.

        A change a read found unannounced was the old one's to announce; after a
        watchdog fallback, polling goes on until the new one notifies.
        """
        self._calm_watchdog()
        self.order.on_subscribed(subscription_id)
        self.read_soon()

    async def _async_reauthorize(self, subscription_id: str) -> None:
        try:
            await self.push.client.reauthorize_subscription(subscription_id)
        except FAILURES:
            self.push.keep_soon()  # a renewal reauthorizes too, with its own remedies

    @callback
    def read_soon(self) -> None:
        """Read once for a burst: notifications during a read ask for one more."""
        if self._reading:
            self.counts["coalesced"] += 1
            self._read_again = True
            return
        self._reading = True
        coordinator = self.coordinator
        coordinator.config_entry.async_create_background_task(
            coordinator.hass, self._async_read(), f"{DOMAIN} notified read"
        )

    async def _async_read(self) -> None:
        try:
            self._read_again = True
            while self._read_again:
                self._read_again = False
                await self.coordinator.async_refresh()
        finally:
            self._reading = False

    def _calm_watchdog(self) -> None:
        """Stop waiting for a notification (one came, or the account stops)."""
        self._unannounced = None
        if self._watchdog_timer is not None:
            self._watchdog_timer()
            self._watchdog_timer = None

    @callback
    def _watchdog(self, _now: datetime) -> None:
        self._watchdog_timer = None
        unannounced, self._unannounced = self._unannounced, None
        if unannounced is None or not self.push.healthy:
            return  # push was down meanwhile: its next subscription is a new one
        self.silent = True
        self.counts["watchdog_fallbacks"] += 1
        if not self._watchdog_logged:
            LOGGER.warning(
                "Graph did not announce a Teams presence change within a minute:"
                " reading presence at the Read interval until notifications arrive"
            )
            self._watchdog_logged = True
        self.push.set_healthy(False)
        self.push.keep_soon()  # a new subscription, as after any gap
