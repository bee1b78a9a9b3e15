"""Instant updates: Graph posts each presence change to a Home Assistant webhook.

One subscription per account, renewed every 30 minutes, at a cloudhook when Home
Assistant Cloud is active, otherwise at the external HTTPS address. Push is never
the only source: while it is healthy presence is still read every 15 minutes, and
at the Read interval as soon as it is not (a failed renewal, the cloud gone, or a
change that no notification announced).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from types import ModuleType
from typing import TYPE_CHECKING, Any

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.const import EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .auth import lacks_instant_updates_consent
from .const import CONF_TENANT_ID, CONF_USER_ID, DOMAIN, LOGGER, STORAGE_VERSION
from .failures import FAILURES, Failure, classify, reason
from .graph import (
    GraphNotFoundError,
    GraphSubscriptionClient,
    GraphValidationError,
    LifecycleNotice,
    NotificationCertificate,
    NotificationReceiver,
    NotificationUrlError,
    PresenceChange,
    PresenceSnapshot,
    Rejected,
    SigningKeys,
    Subscription,
    SubscriptionConflictError,
    new_client_state,
    signing_keys_url,
    validation_token,
)
from .problems import ISSUE_INSTANT_UPDATES_ADDRESS, ISSUE_INSTANT_UPDATES_CONSENT

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .coordinator import TeamsPresenceCoordinator

RENEW_EVERY = timedelta(minutes=30)
SAFETY_READ_INTERVAL = timedelta(minutes=15)
"""Reads while push is healthy: status message and work location may not notify."""
WATCHDOG_GRACE = timedelta(minutes=1)
"""Graph's documented worst delivery time: a change a read found must be announced by then."""
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(minutes=30)


class UpdateMode(StrEnum):
    """How the presence sensors learn of a change."""

    POLLING = "polling"
    PUSH_CLOUDHOOK = "push_cloudhook"
    PUSH_EXTERNAL = "push_external"


def push_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Where the webhook id, its secret, the certificate and the subscription live."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.push")


def _cloud(hass: HomeAssistant) -> ModuleType | None:
    """Home Assistant Cloud, where it is set up (it pulls in Alexa, cameras...)."""
    if "cloud" not in hass.config.components:
        return None
    from homeassistant.components import cloud  # noqa: PLC0415

    return cloud


def _certificate(stored: dict[str, str] | None) -> NotificationCertificate:
    """In the executor: the stored certificate, or a new one if none or expiring."""
    if stored:
        try:
            certificate = NotificationCertificate.from_storage(stored)
        except ValueError:
            LOGGER.warning("The stored notification certificate is unreadable")
        else:
            if not certificate.needs_rotation(datetime.now(UTC)):
                return certificate
    return NotificationCertificate.generate()


class PushManager:
    """Keeps one account's subscription and applies what its notifications say."""

    def __init__(
        self,
        coordinator: TeamsPresenceCoordinator,
        client: GraphSubscriptionClient,
        *,
        client_id: str,
        login_url: str,
        read_interval: timedelta,
    ) -> None:
        """Subscribe with ``client``; tokens must name the app ``client_id``."""
        self.hass = hass = coordinator.hass
        self.coordinator = coordinator
        self.entry = entry = coordinator.config_entry
        self.client = client
        self.read_interval = read_interval
        self._user_id: str = entry.data[CONF_USER_ID]
        self._store = push_store(hass, entry)
        self._receiver = NotificationReceiver(
            client_id=client_id,
            tenant_id=entry.data[CONF_TENANT_ID],
            signing_keys=SigningKeys(
                async_get_clientsession(hass), signing_keys_url(login_url)
            ),
        )
        self.webhook_id = ""
        self._client_state = ""
        self._certificates: list[NotificationCertificate] = []
        """The newest first; the one before stays while notifications use it."""
        self.subscription: dict[str, Any] = {}
        """id, url, expires (ISO) and certificate_id of the subscription Graph holds."""
        self.address = UpdateMode.POLLING
        self.healthy = False
        self.last_notification: datetime | None = None
        self.counts: Counter[str] = Counter()
        self._rich = True
        self._retry = FIRST_RETRY
        self._reading = False
        self._read_again = False
        self._pushed: tuple[datetime, PresenceChange] | None = None
        self._unannounced: datetime | None = None
        self._silent = False
        """A change went unannounced: polling until a notification arrives."""
        self._watchdog_logged = False
        self._lock = asyncio.Lock()
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._timer: CALLBACK_TYPE | None = None
        self._watchdog_timer: CALLBACK_TYPE | None = None

    @property
    def mode(self) -> UpdateMode:
        """Push by which address, or polling while push is not healthy."""
        return self.address if self.healthy else UpdateMode.POLLING

    async def async_start(self) -> None:
        """Load or make the webhook, its secret and certificate; subscribe soon."""
        stored = await self._store.async_load() or {}
        self.webhook_id = stored.get("webhook_id") or webhook.async_generate_id()
        self._client_state = stored.get("client_state") or new_client_state()
        self.subscription = stored.get("subscription") or {}
        self._certificates = [
            await self.hass.async_add_executor_job(
                _certificate, stored.get("certificate")
            )
        ]
        webhook.async_register(
            self.hass,
            DOMAIN,
            f"Teams Presence {self.entry.title}",
            self.webhook_id,
            self._async_handle,
            local_only=False,
            allowed_methods=["POST"],
        )
        keep = callback(lambda *_: self._keep_soon())
        self._unsubscribe.append(
            self.hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, keep)
        )
        if (cloud := _cloud(self.hass)) is not None:
            self._unsubscribe.append(
                cloud.async_listen_connection_change(self.hass, self._cloud_changed)
            )
        self._save()
        self._keep_soon()

    async def async_stop(self) -> None:
        """Stop receiving; Graph keeps the subscription for the next start."""
        webhook.async_unregister(self.hass, self.webhook_id)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._watchdog_timer is not None:
            self._watchdog_timer()
        self._cancel_timer()
        await self._store.async_save(self._as_dict())

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
            self.healthy
            and not self._reading
            and previous is not None
            and (previous.availability, previous.activity)
            != (snapshot.availability, snapshot.activity)
            and self._unannounced is None
        ):
            self._unannounced = started
            self._watchdog_timer = async_call_later(
                self.hass, WATCHDOG_GRACE, self._watchdog
            )
        return snapshot

    # The subscription's life

    @callback
    def _keep_soon(self) -> None:
        self.entry.async_create_background_task(
            self.hass, self._async_keep(), f"{DOMAIN} subscription"
        )

    async def _async_keep(self) -> None:
        """Create or renew the subscription; whatever fails, polling carries on."""
        async with self._lock:
            self._cancel_timer()
            keeper = self.coordinator.keeper
            if keeper.is_throttled(now := dt_util.utcnow()):
                self._schedule(keeper.throttled_until)
                return
            if lacks_instant_updates_consent(self.entry):
                self._consent_missing()
                return
            if (address := await self._async_address()) is None:
                self._set_healthy(False)
                return
            try:
                await self._async_subscribe(*address)
            except FAILURES as err:
                self._schedule(self._after_failure(err))
                return
            self._retry = FIRST_RETRY
            self.coordinator.problems.instant_updates_work()
            # Renewed, but silent since the watchdog tripped: a notification decides.
            self._set_healthy(not self._silent)
            self._schedule(now + RENEW_EVERY)

    async def _async_address(self) -> tuple[UpdateMode, str] | None:
        """Return a cloudhook, else the external HTTPS address; None: say what is missing."""
        cloud = _cloud(self.hass)
        if cloud is not None and cloud.async_active_subscription(self.hass):
            try:
                url = await cloud.async_get_or_create_cloudhook(
                    self.hass, self.webhook_id
                )
            except HomeAssistantError:
                LOGGER.debug("Home Assistant Cloud is not connected now")
            else:
                return UpdateMode.PUSH_CLOUDHOOK, url
        try:
            base = get_url(
                self.hass,
                allow_internal=False,
                allow_cloud=False,
                require_ssl=True,
                prefer_external=True,
            )
        except NoURLAvailableError:
            if cloud is None or not cloud.async_active_subscription(self.hass):
                self.coordinator.problems.instant_updates_blocked(
                    ISSUE_INSTANT_UPDATES_ADDRESS
                )
            return None
        return UpdateMode.PUSH_EXTERNAL, base + webhook.async_generate_path(
            self.webhook_id
        )

    async def _async_subscribe(self, mode: UpdateMode, url: str) -> None:
        """Renew (moving it to ``url``), or create; 404: create again and read once."""
        certificate = await self._async_current_certificate()
        held = self.subscription
        if held:
            try:
                renewed = await self.client.renew_subscription(
                    held["id"],
                    notification_url=url if url != held["url"] else None,
                    certificate=certificate
                    if held["certificate_id"] not in (None, certificate.id)
                    else None,
                )
            except GraphNotFoundError:
                LOGGER.info("Graph forgot the presence subscription: subscribing again")
            else:
                self._remember(renewed, mode)
                return
        self._remember(await self._async_create(url), mode)
        # A new subscription: the watchdog's doubt was about the old one.
        self._silent = False
        if held:
            self._read_soon()  # changes made while it was gone were never notified

    async def _async_create(self, url: str) -> Subscription:
        """Create; on 409 adopt the existing one if it is ours, else replace it."""
        try:
            return await self._create(url)
        except SubscriptionConflictError:
            existing = await self.client.find_presence_subscription(self._user_id)
            if existing is None:
                return await self._create(url)
            if existing.client_state == self._client_state:
                return await self.client.renew_subscription(
                    existing.id, notification_url=url
                )
            await self.client.delete_subscription(existing.id)
            return await self._create(url)

    async def _create(self, url: str) -> Subscription:
        """Rich notifications first; basic ones (and a read each) where refused."""
        certificate = self._certificates[0] if self._rich else None
        try:
            return await self.client.create_presence_subscription(
                self._user_id,
                url,
                client_state=self._client_state,
                lifecycle_notification_url=url,
                certificate=certificate,
            )
        except GraphValidationError as err:
            if certificate is None or isinstance(err, NotificationUrlError):
                raise
            LOGGER.info(
                "Graph refused rich notifications (%s): basic ones", reason(err)
            )
            self._rich = False
            return await self._create(url)

    async def _async_current_certificate(self) -> NotificationCertificate:
        """Rotate the certificate before it expires; keep the old one for a while."""
        if self._certificates[0].needs_rotation(dt_util.utcnow()):
            new = await self.hass.async_add_executor_job(_certificate, None)
            self._certificates = [new, self._certificates[0]]
        return self._certificates[0]

    def _remember(self, subscription: Subscription, mode: UpdateMode) -> None:
        self.address = mode
        self.subscription = {
            "id": subscription.id,
            "url": subscription.notification_url,
            "expires": subscription.expires_at.isoformat(),
            "certificate_id": subscription.encryption_certificate_id,
        }
        self._save()

    def _after_failure(self, err: Exception) -> datetime:
        """Fall back to polling, do the failure's remedy, and say when to try again."""
        self._set_healthy(False)
        failure = classify(err)
        if failure is Failure.MISSING_PERMISSION:
            self._consent_missing()
            return dt_util.utcnow() + LAST_RETRY
        self.coordinator.note_failure(err)
        LOGGER.warning(
            "Instant updates paused, presence is read instead: %s", reason(err)
        )
        if failure is Failure.SIGN_IN:
            self.entry.async_start_reauth(self.hass)
        if failure is Failure.THROTTLED and self.coordinator.keeper.throttled_until:
            return self.coordinator.keeper.throttled_until
        wait, self._retry = self._retry, min(self._retry * 2, LAST_RETRY)
        return dt_util.utcnow() + wait

    def _consent_missing(self) -> None:
        """Ask for the new consent; say what an administrator must grant if refused."""
        self._set_healthy(False)
        self.coordinator.problems.instant_updates_blocked(ISSUE_INSTANT_UPDATES_CONSENT)
        self.entry.async_start_reauth(self.hass)

    # Receiving

    async def _async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """Answer Graph's handshake, or take a notification and answer 202 at once."""
        if (token := validation_token(request.query)) is not None:
            return web.Response(text=token, content_type="text/plain")
        body = await request.read()
        self.entry.async_create_background_task(
            hass, self._async_receive(body), f"{DOMAIN} notification"
        )
        return web.Response(status=HTTPStatus.ACCEPTED)

    async def _async_receive(self, body: bytes) -> None:
        """Apply a rich change at once, read for a basic one; count the rest."""
        for outcome in await self._receiver.receive(
            body, client_state=self._client_state, certificates=self._certificates
        ):
            match outcome:
                case Rejected(reason=why):
                    self.counts[f"rejected_{why}"] += 1
                case LifecycleNotice():
                    await self._async_reauthorize(outcome.subscription_id)
                case PresenceChange():
                    self._accept(outcome)

    def _accept(self, change: PresenceChange) -> None:
        now = self.last_notification = dt_util.utcnow()
        self.counts["accepted"] += 1
        self._unannounced = None
        self._silent = False
        if self.subscription and not self.healthy:
            self._set_healthy(True)
        if change.presence is not None and self.coordinator.data is not None:
            self._pushed = (now, change)
            # Not async_set_updated_data: that would put off the safety read.
            self.coordinator.data = change.applied_to(self.coordinator.data)
            self.coordinator.async_update_listeners()
        else:
            self._read_soon()

    async def _async_reauthorize(self, subscription_id: str) -> None:
        try:
            await self.client.reauthorize_subscription(subscription_id)
        except FAILURES:
            self._keep_soon()  # a renewal reauthorizes too, with its own remedies

    @callback
    def _read_soon(self) -> None:
        """Read once for a burst: notifications during a read ask for one more."""
        if self._reading:
            self.counts["coalesced"] += 1
            self._read_again = True
            return
        self._reading = True
        self.entry.async_create_background_task(
            self.hass, self._async_read(), f"{DOMAIN} notified read"
        )

    async def _async_read(self) -> None:
        try:
            self._read_again = True
            while self._read_again:
                self._read_again = False
                await self.coordinator.async_refresh()
        finally:
            self._reading = False

    # Health

    @callback
    def _watchdog(self, _now: datetime) -> None:
        self._watchdog_timer = None
        if self._unannounced is None or not self.healthy:
            return
        self._unannounced = None
        self._silent = True
        self.counts["watchdog_fallbacks"] += 1
        if not self._watchdog_logged:
            LOGGER.warning(
                "Graph did not announce a Teams presence change within a minute:"
                " reading presence at the Read interval until notifications arrive"
            )
            self._watchdog_logged = True
        self._set_healthy(False)

    async def _cloud_changed(self, _state: object) -> None:
        """Move the subscription to the cloudhook, or away from it; poll meanwhile."""
        if self.address is UpdateMode.PUSH_CLOUDHOOK:
            self._set_healthy(False)
        self._keep_soon()

    def _set_healthy(self, healthy: bool) -> None:
        """Read every 15 minutes while push works, at the Read interval at once if not."""
        was, self.healthy = self.healthy, healthy
        self.coordinator.update_interval = (
            SAFETY_READ_INTERVAL if healthy else self.read_interval
        )
        if was and not healthy:
            self.entry.async_create_background_task(
                self.hass, self.coordinator.async_request_refresh(), f"{DOMAIN} poll"
            )
        self.coordinator.async_update_listeners()

    def _schedule(self, when: datetime | None) -> None:
        self._cancel_timer()
        if when is not None:
            self._timer = async_call_later(
                self.hass,
                max(when - dt_util.utcnow(), timedelta(0)),
                callback(lambda _now: self._keep_soon()),
            )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None

    def _save(self) -> None:
        self._store.async_delay_save(self._as_dict, 1)

    def _as_dict(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "client_state": self._client_state,
            "certificate": self._certificates[0].to_storage(),
            "subscription": self.subscription,
        }


async def async_end_push(
    hass: HomeAssistant,
    entry: ConfigEntry,
    client: Callable[[], Awaitable[GraphSubscriptionClient]],
) -> None:
    """Delete the subscription and the cloudhook an entry left, if any (option off, removal)."""
    store = push_store(hass, entry)
    if not (stored := await store.async_load()):
        return
    if subscription := stored.get("subscription"):
        try:
            await (await client()).delete_subscription(subscription["id"])
        except (*FAILURES, HomeAssistantError) as err:
            if classify(err) is not Failure.NOT_FOUND:
                LOGGER.warning(
                    "Could not end the presence subscription: %s", reason(err)
                )
    if (cloud := _cloud(hass)) is not None and cloud.async_is_logged_in(hass):
        try:
            await cloud.async_delete_cloudhook(hass, stored["webhook_id"])
        except HomeAssistantError:
            LOGGER.debug("No cloudhook to delete")
    await store.async_remove()
