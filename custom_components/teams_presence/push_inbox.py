"""What Graph pushes to an account's webhook, taken in and applied.

Checked (client state, tokens, signature) by the Graph layer's receiver, answered
with 202 at once, applied at once when the notification carries the presence
(rich) and cannot be an old one, or read for otherwise (basic, close behind
another, or while Graph may be retrying) with a burst coalesced into one read.
A change a read finds that no notification announced within a minute trips a
watchdog: push is then not trusted until a notification arrives again.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockRequest

from .const import DOMAIN, LOGGER
from .failures import FAILURES
from .graph import (
    LifecycleNotice,
    NotificationReceiver,
    PresenceChange,
    PresenceSnapshot,
    Rejected,
    validation_token,
)
from .push_intake import Intake, async_read_body

if TYPE_CHECKING:
    from .push import PushManager

WORST_DELIVERY_TIME = timedelta(minutes=1)
"""Graph's documented worst: a change a read found must be announced by then, and two
notifications that arrive closer together than this may have swapped places."""
GRAPH_RETRY_PERIOD = timedelta(hours=4)
"""How long Graph retries a delivery that failed: after a time push did not work
(a start, an outage), an old notification may still arrive this long."""


class NotificationInbox:
    """Takes notifications in for one account's push manager."""

    def __init__(self, push: PushManager, receiver: NotificationReceiver) -> None:
        """Receive for ``push``, checking each notification with ``receiver``."""
        self.push = push
        self.coordinator = push.coordinator
        self.receiver = receiver
        self._intake = Intake(push.hass, push.entry, self._async_receive)
        self.counts: Counter[str] = Counter()
        """Accepted, confirmed by a read, coalesced, rejected (by reason), watchdog fallbacks."""
        self.last_notification: datetime | None = None
        self._retries_until = dt_util.utcnow() + GRAPH_RETRY_PERIOD
        self.silent = False
        """A change went unannounced: polling until a notification arrives."""
        self._reading = False
        self._read_again = False
        self._pushed: tuple[datetime, PresenceChange] | None = None
        self._unannounced: datetime | None = None
        self._watchdog_logged = False
        self._watchdog_timer: CALLBACK_TYPE | None = None

    def stop(self) -> None:
        """Stop the watchdog."""
        self._intake.stop()
        if self._watchdog_timer is not None:
            self._watchdog_timer()
            self._watchdog_timer = None

    def checked_read(
        self,
        previous: PresenceSnapshot | None,
        snapshot: PresenceSnapshot,
        started: datetime,
    ) -> PresenceSnapshot:
        """Keep a pushed change newer than a read; watch for changes none announced."""
        if self._pushed is not None and self._pushed[0] > started:
            return self._pushed[1].applied_to(snapshot)
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

        A subscription is reauthorized once per body, however often it asks.
        """
        push = self.push
        reauthorize: dict[str, None] = {}
        for outcome in await self.receiver.receive(
            body, client_state=push.client_state, certificates=push.certificates
        ):
            match outcome:
                case Rejected(reason=why):
                    self.counts[f"rejected_{why}"] += 1
                case LifecycleNotice():
                    reauthorize[outcome.subscription_id] = None
                case PresenceChange():
                    if outcome.tokens_unchecked:
                        self.counts["tokens_unchecked"] += 1
                    self._accept(outcome)
        for subscription_id in reauthorize:
            await self._async_reauthorize(subscription_id)

    def _accept(self, change: PresenceChange) -> None:
        """Apply a rich change whose order is sure; read for any other.

        A rich notification carries no sequence number. It is applied as it stands
        only when it cannot be an old one: push has worked for longer than Graph
        retries failed deliveries, and nothing else arrived within Graph's worst
        delivery time before it. Otherwise a read, which carries the sequence number,
        says what is current.
        """
        now = dt_util.utcnow()
        previous, self.last_notification = self.last_notification, now
        self.counts["accepted"] += 1
        self._unannounced = None
        self.silent = False
        if self.push.subscription and not self.push.healthy:
            self.push.set_healthy(True)  # from now on, Graph may retry old ones
        in_order = (
            self.push.healthy
            and now >= self._retries_until
            and (previous is None or now - previous >= WORST_DELIVERY_TIME)
        )
        coordinator = self.coordinator
        if change.presence is None or coordinator.data is None:
            self.read_soon()
        elif not in_order:
            self.counts["confirmed_by_read"] += 1
            self.read_soon()
        else:
            self._pushed = (now, change)
            # Not async_set_updated_data: that would put off the safety read.
            coordinator.data = change.applied_to(coordinator.data)
            coordinator.async_update_listeners()

    @callback
    def expect_retries(self) -> None:
        """Push works again: Graph may still retry what failed to arrive meanwhile."""
        self._retries_until = dt_util.utcnow() + GRAPH_RETRY_PERIOD

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

    @callback
    def _watchdog(self, _now: datetime) -> None:
        self._watchdog_timer = None
        if self._unannounced is None or not self.push.healthy:
            return
        self._unannounced = None
        self.silent = True
        self.counts["watchdog_fallbacks"] += 1
        if not self._watchdog_logged:
            LOGGER.warning(
                "Graph did not announce a Teams presence change within a minute:"
                " reading presence at the Read interval until notifications arrive"
            )
            self._watchdog_logged = True
        self.push.set_healthy(False)
