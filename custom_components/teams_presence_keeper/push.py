"""Instant updates: Graph posts each presence change to a Home Assistant webhook.

One subscription per account, renewed every 30 minutes, at a cloudhook when Home
Assistant Cloud is active, otherwise at the external HTTPS address. Graph holds one
presence subscription per user and app, so the people the account follows share
it: with people it names the account and each of them (the bulk form), otherwise
the account alone. A change of people reloads the entry, and a start always makes
a new subscription: the old one is deleted, then one for the new set created, and
everyone read once. What arrives
is handed to the coordinator; whether push is healthy, and how often presence is
read meanwhile, ``push_freshness.py`` decides, told of each subscription made and
each failure.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components import webhook
from homeassistant.const import EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .auth.entry import lacks_instant_updates_consent
from .const import CONF_TENANT_ID, CONF_USER_ID, DOMAIN, LOGGER, STORAGE_VERSION
from .graph import (
    MAX_PRESENCE_IDS,
    GraphSubscriptionClient,
    Notification,
    NotificationCertificate,
    NotificationReceiver,
    SigningKeys,
    Subscription,
    new_client_state,
    signing_keys_url,
)
from .policy import FAILURES, FailurePolicy
from .problems import AccountProblems
from .push_address import (
    CloudhookUnavailable,
    UpdateMode,
    async_push_address,
    cloud_component,
)
from .push_certificates import CertificateRing
from .push_freshness import PUSHED_PEOPLE_AT_MOST, PushFreshness, pushes_everyone
from .push_inbox import NotificationInbox
from .push_intake import max_body_bytes
from .remedies import Failure, Operation, Remedy

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from .coordinator import TeamsPresenceCoordinator

RENEW_EVERY = timedelta(minutes=30)


def push_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Where the webhook id, its secret, the certificate and the subscription live."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.push")


class PushManager:
    """Keeps one account's subscription and its webhook, and says how they fare."""

    def __init__(
        self,
        coordinator: TeamsPresenceCoordinator,
        client: GraphSubscriptionClient,
        problems: AccountProblems,
        freshness: PushFreshness,
        *,
        client_id: str,
        login_url: str,
        people: Sequence[str] = (),
    ) -> None:
        """Subscribe with ``client``; tokens must name the app ``client_id``.

        ``people``: the object ids of those the account follows, subscribed to with it.

        What push brings goes to ``coordinator``; ``problems`` carries out failures;
        ``freshness`` (the coordinator's rules) says whether push is healthy.
        """
        self._freshness = freshness
        self.hass = hass = coordinator.hass
        self.coordinator = coordinator
        self._problems = problems
        self._policy = problems.policy
        self.entry = entry = coordinator.config_entry
        self.client = client
        self._user_id: str = entry.data[CONF_USER_ID]
        # Graph names at most 650 ids in a subscription: the account's, then people.
        self._people = tuple(people)[:PUSHED_PEOPLE_AT_MOST]
        self.carries_all_people = pushes_everyone(len(people))
        """Whether the subscription names everyone followed; if not, all are polled."""
        if not self.carries_all_people:
            LOGGER.warning(
                "Graph pushes at most %s people in one subscription, %s's own"
                " presence included: the %s people followed are read at the Read"
                " interval, the first %s pushed too",
                MAX_PRESENCE_IDS,
                entry.title,
                len(people),
                len(self._people),
            )
        self._store = push_store(hass, entry)
        self._receiver = NotificationReceiver(
            client_id=client_id,
            tenant_id=entry.data[CONF_TENANT_ID],
            signing_keys=SigningKeys(
                async_get_clientsession(hass), signing_keys_url(login_url)
            ),
        )
        self.inbox = NotificationInbox(
            hass,
            entry,
            self._async_check,
            coordinator.async_pushed,
            max_bytes=max_body_bytes(1 + len(self._people)),
        )
        self.webhook_id = ""
        self.client_state = ""
        self._ring = CertificateRing()
        self.subscription: dict[str, Any] = {}
        """id, url, expires (ISO) and certificate_id of the subscription Graph holds."""
        self.address = UpdateMode.POLLING
        self._rich = True
        self._paused = False
        """A failure was logged: the next ones are not, until push works again."""
        self.unreachable = False
        """The last attempt failed for now (network, 5xx): a read that ends an
        outage of reads retries at once; while reads work, the back-off decides."""
        self._lock = asyncio.Lock()
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._timer: CALLBACK_TYPE | None = None

    @property
    def counts(self) -> Counter[str]:
        """What the webhook took in, by outcome: refused by the inbox, or decided."""
        return self.inbox.counts + self._freshness.counts

    @property
    def last_notification(self) -> datetime | None:
        """When the last notification of a change was accepted."""
        return self._freshness.last_notification

    @property
    def mode(self) -> UpdateMode:
        """Push by which address, or polling while push is not healthy."""
        return self.address if self._freshness.healthy else UpdateMode.POLLING

    @property
    def subscription_id(self) -> str | None:
        """The subscription Graph holds for us, if any."""
        held: str | None = self.subscription.get("id")
        return held

    async def _async_check(self, body: bytes) -> Sequence[Notification]:
        """Check a body with our client state and certificates, as they are now."""
        return await self._receiver.receive(
            body, client_state=self.client_state, certificates=self.certificates
        )

    @property
    def certificates(self) -> list[NotificationCertificate]:
        """The certificates notifications may be encrypted for, newest first."""
        return self._ring.certificates

    async def async_start(self) -> None:
        """Load or make the webhook, its secret and certificate; subscribe soon."""
        stored = await self._store.async_load() or {}
        self.webhook_id = stored.get("webhook_id") or webhook.async_generate_id()
        self.client_state = stored.get("client_state") or new_client_state()
        self.subscription = stored.get("subscription") or {}
        await self._ring.async_load(self.hass, stored)
        webhook.async_register(
            self.hass,
            DOMAIN,
            f"Teams Presence Keeper {self.entry.title}",
            self.webhook_id,
            self.inbox.async_handle,
            local_only=False,
            allowed_methods=["POST"],
        )
        # At once as the unload begins: it may then wait for a write in flight, and
        # a body checked meanwhile ran in a task started after the entry's were
        # cancelled, outliving the entry. Still registered: answered, dropped.
        self.entry.async_on_unload(self.inbox.stop)
        keep = callback(lambda *_: self.keep_soon())
        self._unsubscribe.append(
            self.hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, keep)
        )
        if (cloud := cloud_component(self.hass)) is not None:
            self._unsubscribe.append(
                cloud.async_listen_connection_change(self.hass, self._cloud_changed)
            )
        self._save()
        self.keep_soon()

    async def async_stop(self) -> None:
        """Stop receiving; Graph keeps the subscription until the next start replaces it."""
        webhook.async_unregister(self.hass, self.webhook_id)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.inbox.stop()
        self._cancel_timer()
        await self._store.async_save(self._as_dict())

    # The subscription's life

    async def async_end_subscription(self) -> None:
        """End the subscription with this app's token, for a change of app.

        Only the app that made a subscription may delete it: the next app's token
        would get 404, and Graph would deliver to the old one until it expires.
        """
        async with self._lock:
            self._cancel_timer()
            if self.subscription:
                await _async_end_subscription(self.client, self.subscription["id"])
                self.subscription = {}
                self._save()

    @callback
    def keep_soon(self) -> None:
        """Create or renew the subscription in the background."""
        self.entry.async_create_background_task(
            self.hass, self._async_keep(), f"{DOMAIN} subscription"
        )

    async def _async_keep(self) -> None:
        """Create or renew the subscription; whatever fails, polling carries on."""
        async with self._lock:
            self._cancel_timer()
            policy = self._policy
            now = dt_util.utcnow()
            if (held := policy.held(Operation.SUBSCRIBE, now)) is not None:
                self._schedule(held.retry_at)
                return
            if lacks_instant_updates_consent(self.entry):
                self._consent_missing(policy.consent_missing(), None)
                return
            try:
                address = await async_push_address(
                    self.hass, self._problems, self.webhook_id
                )
            except CloudhookUnavailable as err:
                self.coordinator.push_failed()
                self._log_pause(
                    "Home Assistant Cloud could not create the cloudhook"
                    f" ({type(err.__cause__).__name__})"
                )
                self._schedule(policy.subscription_back_off(dt_util.utcnow()))
                return
            if address is None:
                self.coordinator.push_failed()
                return
            try:
                await self._async_subscribe(*address)
            except FAILURES as err:
                self._schedule(self._after_failure(err, *address))
                return
            if self._paused:
                LOGGER.info("Instant updates work again")
            policy.succeeded(Operation.SUBSCRIBE)
            self._paused = self.unreachable = False
            self._problems.instant_updates_work()
            self.coordinator.push_working()
            self._schedule(now + RENEW_EVERY)

    async def _async_subscribe(self, mode: UpdateMode, url: str) -> None:
        """Renew, or create (also to move to ``url``); 404: create again and read once.

        Graph cannot change a subscription's lifecycle URL, so a subscription moves
        to a new address by being deleted and created again there. After a gap (a
        start, an outage) the held one is replaced too: Graph may retry into it what
        failed to arrive meanwhile, see ``push_freshness.py``.
        """
        certificate, changed = await self._ring.async_current(self.hass)
        if changed:
            self._save()
        held = self.subscription
        wants_new = self._freshness.wants_new_subscription
        if held and (held["url"] != url or wants_new):
            await self._async_delete_held()
        elif held:
            renewed = await self.client.renew_held_subscription(
                held["id"],
                certificate=certificate
                if held["certificate_id"] not in (None, certificate.id)
                else None,
            )
            if renewed is not None:
                self._remember(renewed, mode)
                return
        created = await self.client.subscribe_to_presence(
            self._user_id,
            url,
            client_state=self.client_state,
            certificate=self._ring.newest if self._rich else None,
            people=self._people,
        )
        self._rich = created.include_resource_data
        self._remember(created, mode)
        self.coordinator.push_subscribed(created.id)

    async def _async_delete_held(self) -> None:
        """End the subscription Graph holds (gone already is as good)."""
        await self.client.end_subscription(self.subscription["id"])
        self.subscription = {}
        self._save()

    def _remember(self, subscription: Subscription, mode: UpdateMode) -> None:
        self.address = mode
        self.subscription = {
            "id": subscription.id,
            "url": subscription.notification_url,
            "expires": subscription.expires_at.isoformat(),
            "certificate_id": subscription.encryption_certificate_id,
        }
        self._ring.subscription_uses(subscription.encryption_certificate_id)
        self._save()

    def _after_failure(
        self, err: Exception, mode: UpdateMode, url: str
    ) -> datetime | None:
        """Fall back to polling, carry out the policy's remedy, say when to try again."""
        self.coordinator.push_failed()
        remedy = self._policy.failed(
            err,
            Operation.SUBSCRIBE_EXTERNAL
            if mode is UpdateMode.PUSH_EXTERNAL
            else Operation.SUBSCRIBE,
            dt_util.utcnow(),
        )
        if remedy.failure is Failure.MISSING_PERMISSION:
            self._consent_missing(remedy, err)
        else:
            self._log_pause(remedy.reason)
            self._problems.carry_out(
                remedy,
                err,
                url=url.removesuffix(webhook.async_generate_path(self.webhook_id)),
            )
            self.unreachable = remedy.failure is Failure.TRANSIENT
        return remedy.retry_at

    def _log_pause(self, why: str) -> None:
        """Warn once when push stops working; the retries that fail too, at debug."""
        if self._paused:
            LOGGER.debug("Instant updates still paused: %s", why)
            return
        self._paused = True
        LOGGER.warning("Instant updates paused, presence is read instead: %s", why)

    def _consent_missing(self, remedy: Remedy, err: BaseException | None) -> None:
        """Poll, and carry out the remedy: sign in again for the new consent.

        Its repair says what an administrator must grant if it is refused.
        """
        self.coordinator.push_failed()
        self._problems.carry_out(remedy, err)

    # Health

    async def _cloud_changed(self, _state: object) -> None:
        """Move the subscription to the cloudhook, or away from it; poll meanwhile."""
        if self.address is UpdateMode.PUSH_CLOUDHOOK:
            self.coordinator.push_failed()
        self.keep_soon()

    async def async_reauthorize(self) -> None:
        """Answer Graph's reauthorization request for the subscription it holds."""
        if (held := self.subscription_id) is None:
            return
        try:
            await self.client.reauthorize_subscription(held)
        except FAILURES:
            self.keep_soon()  # a renewal reauthorizes too, with its own remedies

    def _schedule(self, when: datetime | None) -> None:
        self._cancel_timer()
        if when is not None:
            self._timer = async_call_later(
                self.hass,
                max(when - dt_util.utcnow(), timedelta(0)),
                callback(lambda _now: self.keep_soon()),
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
            "client_state": self.client_state,
            **self._ring.as_dict(),
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
            subscriptions = await client()
        except (*FAILURES, HomeAssistantError) as err:  # the sign-in failed
            _log_not_ended(err)
        else:
            await _async_end_subscription(subscriptions, subscription["id"])
    if (cloud := cloud_component(hass)) is not None and cloud.async_is_logged_in(hass):
        try:
            await cloud.async_delete_cloudhook(hass, stored["webhook_id"])
        except (HomeAssistantError, ValueError):  # ValueError: it never had one
            LOGGER.debug("No cloudhook to delete")
    await store.async_remove()


async def _async_end_subscription(
    client: GraphSubscriptionClient, subscription_id: str
) -> None:
    """End a subscription; a failure is logged: Graph ends it at expiry anyway."""
    try:
        await client.end_subscription(subscription_id)
    except FAILURES as err:
        _log_not_ended(err)


def _log_not_ended(err: BaseException) -> None:
    """Say that a subscription stays until it expires, unless it was gone already."""
    remedy = FailurePolicy().failed(err, Operation.CLEAN_UP, dt_util.utcnow())
    if not remedy.done:
        LOGGER.warning("Could not end the presence subscription: %s", remedy.reason)
