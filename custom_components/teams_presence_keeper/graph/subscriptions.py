"""Subscriptions to presence changes: create, renew, reauthorize, list, delete, replace.

One user's presence (``communications/presences/{id}``) or up to 650 people's
(``communications/presences?$filter=id in ('{id}', ...)``).

Graph's rules for presence ("Get change notifications for presence updates"): the
delegated ``Presence.Read.All`` permission only, one subscription per user and app
(a second answers 409), a lifetime of at most 60 minutes (shorter requests are raised
to 45), and a validation handshake with each URL before creation succeeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import contextlib
from datetime import UTC, datetime, timedelta
from functools import partial
from http import HTTPStatus
import logging
from typing import Any, Final
from urllib.parse import quote

from .client import GraphPresenceClient
from .encryption import NotificationCertificate
from .errors import (
    GraphError,
    GraphNotFoundError,
    GraphServerError,
    GraphValidationError,
)
from .subscription_model import Subscription, presence_resource, presences_resource

_LOGGER = logging.getLogger(__name__)

SUBSCRIPTION_MAX_LIFETIME: Final = timedelta(minutes=60)
"""The longest a presence subscription lives; renew before it ends."""
SUBSCRIPTION_MIN_LIFETIME: Final = timedelta(minutes=45)
"""Graph raises a shorter requested lifetime to this."""
DEFAULT_SUBSCRIPTION_LIFETIME: Final = timedelta(minutes=55)
"""Asked for at creation and renewal. Graph refuses an expiry more than 60 minutes
after its own now: this leaves room for a clock up to 5 minutes ahead of Graph's,
the skew tolerated for tokens too."""
MAX_CLIENT_STATE_LENGTH: Final = 128
UPDATED: Final = "updated"
"""The only change type presence subscriptions support."""


class SubscriptionConflictError(GraphError):
    """409 on creation: this user already has a presence subscription for this app.

    ``find_presence_subscription`` returns it: renew it to adopt it, or delete it
    and create again.
    """


class NotificationUrlError(GraphValidationError):
    """400: Graph's validation request to a notification URL failed.

    The webhook could not be reached from the internet, answered too late (Graph
    waits 10 seconds) or answered something else than the token.
    """


_VALIDATION_FAILED = "Subscription validation request"
"""How Graph's messages begin when a notification URL failed its handshake."""


class GraphSubscriptionClient(GraphPresenceClient):
    """The presence client, plus subscriptions to presence changes.

    Subscriptions need a delegated token with ``Presence.Read.All``. Failures are
    the client's typed errors, for ``remedies.classify()``: 404 (the subscription
    has expired or was removed: create it again), 5xx (Graph can answer 500 a few
    times right after a delete: retry with backoff), 429 with ``retry_after``,
    ``SubscriptionConflictError`` for a 409 at creation and ``NotificationUrlError``
    when the webhook failed Graph's validation request.
    """

    async def create_presence_subscription(
        self,
        user_id: str,
        notification_url: str,
        *,
        client_state: str,
        lifetime: timedelta = DEFAULT_SUBSCRIPTION_LIFETIME,
        lifecycle_notification_url: str | None = None,
        certificate: NotificationCertificate | None = None,
    ) -> Subscription:
        """Subscribe to the presence of ``user_id`` (an object id, not ``me``).

        Graph validates ``notification_url`` (and ``lifecycle_notification_url``,
        settable only here) before it answers: the webhook must already answer the
        handshake (see ``notifications.validation_token``). With ``certificate``,
        notifications carry the new presence, encrypted for it (rich
        notifications); without, they only say that it changed.
        """
        return await self._create(
            presence_resource(user_id),
            notification_url,
            client_state=client_state,
            lifetime=lifetime,
            lifecycle_notification_url=lifecycle_notification_url,
            certificate=certificate,
        )

    async def create_presences_subscription(
        self,
        user_ids: Iterable[str],
        notification_url: str,
        *,
        client_state: str,
        lifetime: timedelta = DEFAULT_SUBSCRIPTION_LIFETIME,
        lifecycle_notification_url: str | None = None,
        certificate: NotificationCertificate | None = None,
    ) -> Subscription:
        """Subscribe to the presence of up to 650 people (object ids) at once.

        It counts as the user's one presence subscription for this app, as a
        single-user one does: the signed-in user's own id goes among the others.
        Each notification names the person it is about (``PresenceChange.user_id``).
        """
        return await self._create(
            presences_resource(user_ids),
            notification_url,
            client_state=client_state,
            lifetime=lifetime,
            lifecycle_notification_url=lifecycle_notification_url,
            certificate=certificate,
        )

    async def resubscribe(
        self,
        old: Subscription,
        user_ids: Iterable[str],
        *,
        certificate: NotificationCertificate | None = None,
        lifetime: timedelta = DEFAULT_SUBSCRIPTION_LIFETIME,
    ) -> Subscription:
        """Replace a presence subscription with one for another set of people.

        Graph updates only a subscription's expiry, URL and certificate, never its
        resource, and holds one presence subscription per user and app (a second
        answers 409): the old one is deleted first (already gone is fine), then
        one created with its URLs and clientState, rich when ``certificate`` is
        given. Changes between the two are not notified: read everyone once the
        new one exists. Creating right after a delete can answer 500 a few times:
        the caller retries with backoff, as at creation.
        """
        resource = presences_resource(user_ids)
        # Expired or removed already (404): nothing is left to replace.
        with contextlib.suppress(GraphNotFoundError):
            await self.delete_subscription(old.id)
        return await self._create(
            resource,
            old.notification_url,
            client_state=old.client_state or "",
            lifetime=lifetime,
            lifecycle_notification_url=old.lifecycle_notification_url,
            certificate=certificate,
        )

    async def _create(
        self,
        resource: str,
        notification_url: str,
        *,
        client_state: str,
        lifetime: timedelta,
        lifecycle_notification_url: str | None,
        certificate: NotificationCertificate | None,
    ) -> Subscription:
        """Create a subscription to ``resource``, checked as Graph would."""
        if not client_state or len(client_state) > MAX_CLIENT_STATE_LENGTH:
            raise GraphValidationError(
                "invalid_client_state",
                f"clientState needs 1 to {MAX_CLIENT_STATE_LENGTH} characters",
            )
        body: dict[str, Any] = {
            "changeType": UPDATED,
            "notificationUrl": notification_url,
            "resource": resource,
            "expirationDateTime": _expiry(lifetime),
            "clientState": client_state,
        }
        if lifecycle_notification_url is not None:
            body["lifecycleNotificationUrl"] = lifecycle_notification_url
        if certificate is not None:
            body["includeResourceData"] = True
            body |= _certificate_fields(certificate)
        return await self._subscription("POST", "/subscriptions", body)

    async def renew_subscription(
        self,
        subscription_id: str,
        lifetime: timedelta = DEFAULT_SUBSCRIPTION_LIFETIME,
        *,
        notification_url: str | None = None,
        certificate: NotificationCertificate | None = None,
    ) -> Subscription:
        """Extend a subscription; this also reauthorizes it.

        ``notification_url`` moves it to a new address (validated like at
        creation); ``certificate`` replaces the one rich notifications are
        encrypted for (keep the old one's key until its notifications stop).
        """
        body: dict[str, Any] = {"expirationDateTime": _expiry(lifetime)}
        if notification_url is not None:
            body["notificationUrl"] = notification_url
        if certificate is not None:
            body |= _certificate_fields(certificate)
        return await self._subscription(
            "PATCH", _subscription_path(subscription_id), body
        )

    async def renew_held_subscription(
        self,
        subscription_id: str,
        *,
        certificate: NotificationCertificate | None = None,
    ) -> Subscription | None:
        """Renew a subscription (see `renew_subscription`); ``None``: Graph forgot it.

        A 404 means it expired or was removed: create it again.
        """
        try:
            return await self.renew_subscription(
                subscription_id, certificate=certificate
            )
        except GraphNotFoundError:
            _LOGGER.info("Graph forgot the presence subscription: subscribing again")
            return None

    async def end_subscription(self, subscription_id: str) -> None:
        """End a subscription; one Graph no longer has is what was wanted."""
        try:
            await self.delete_subscription(subscription_id)
        except GraphNotFoundError:
            _LOGGER.debug("The presence subscription had already ended")

    async def subscribe_to_presence(
        self,
        user_id: str,
        url: str,
        *,
        client_state: str,
        certificate: NotificationCertificate | None,
        people: Sequence[str] = (),
    ) -> Subscription:
        """Subscribe to ``user_id``'s presence at ``url``, rich if ``certificate`` is given.

        With ``people`` (object ids the user follows) it is the one bulk
        subscription for the user and everyone followed: Graph holds one presence
        subscription per user and app. On 409 the existing one, for one person or
        many, is replaced, even if it is ours (its client state): Graph may retry
        into it what failed to arrive before; where Graph refuses rich
        notifications, basic ones (and a read each). ``url`` takes the lifecycle
        notifications too.
        """
        resource = (
            presences_resource([user_id, *people])
            if people
            else presence_resource(user_id)
        )
        create = partial(
            self._subscribe_rich_or_basic, resource, url, client_state, certificate
        )
        try:
            return await create()
        except SubscriptionConflictError:
            existing = await self.find_any_presence_subscription()
            if existing is not None:
                await self.delete_subscription(existing.id)
            return await create()

    async def _subscribe_rich_or_basic(
        self,
        resource: str,
        url: str,
        client_state: str,
        certificate: NotificationCertificate | None,
    ) -> Subscription:
        """Create a subscription; rich refused (but not the URL), a basic one."""
        try:
            return await self._create(
                resource,
                url,
                client_state=client_state,
                lifetime=DEFAULT_SUBSCRIPTION_LIFETIME,
                lifecycle_notification_url=url,
                certificate=certificate,
            )
        except GraphValidationError as err:
            if certificate is None or isinstance(err, NotificationUrlError):
                raise
            _LOGGER.info(
                "Graph refused rich notifications (%s): basic ones", err.reason
            )
            return await self._subscribe_rich_or_basic(
                resource, url, client_state, None
            )

    async def reauthorize_subscription(self, subscription_id: str) -> None:
        """Answer ``reauthorizationRequired`` without changing the expiry."""
        await self._request(
            "POST", f"{_subscription_path(subscription_id)}/reauthorize", {}
        )

    async def delete_subscription(self, subscription_id: str) -> None:
        """End a subscription (404 when it no longer exists)."""
        await self._request("DELETE", _subscription_path(subscription_id))

    async def list_subscriptions(self) -> list[Subscription]:
        """Return the subscriptions this app holds for the signed-in user."""
        data = await self._request("GET", "/subscriptions")
        items = data.get("value")
        if not isinstance(items, list):
            raise GraphServerError(
                "malformed_subscriptions", "No list of subscriptions"
            )
        return [_parsed(item) for item in items]

    async def find_presence_subscription(self, user_id: str) -> Subscription | None:
        """Return the existing subscription to ``user_id``'s presence, if any."""
        return next(
            (
                subscription
                for subscription in await self.list_subscriptions()
                if subscription.is_for_presence_of(user_id)
            ),
            None,
        )

    async def find_any_presence_subscription(self) -> Subscription | None:
        """Return the user's presence subscription for this app, one person or many.

        Graph holds one per user and app whatever people it names: after a 409
        this is the one in the way, to adopt (``presence_ids`` says whom it
        carries) or to ``resubscribe`` from.
        """
        return next(
            (s for s in await self.list_subscriptions() if s.presence_ids), None
        )

    async def _subscription(
        self, method: str, path: str, body: dict[str, Any]
    ) -> Subscription:
        """Send a creation or an update; its refusals typed by what to do next."""
        try:
            return _parsed(await self._request(method, path, body))
        except GraphError as err:
            if type(err) is GraphError and err.status == HTTPStatus.CONFLICT:
                raise SubscriptionConflictError(
                    err.code, err.message, status=err.status
                ) from err
            if isinstance(err, GraphValidationError) and (err.message or "").startswith(
                _VALIDATION_FAILED
            ):
                raise NotificationUrlError(
                    err.code, err.message, status=err.status
                ) from err
            raise


def _parsed(data: object) -> Subscription:
    """Read a subscription from Graph's answer; a malformed one is Graph's failure."""
    try:
        return Subscription.from_graph(data)
    except ValueError as err:
        raise GraphServerError(
            "malformed_subscription",
            f"Graph sent a subscription of the wrong shape: {err}",
        ) from err


def _subscription_path(subscription_id: str) -> str:
    return f"/subscriptions/{quote(subscription_id, safe='')}"


def _expiry(lifetime: timedelta) -> str:
    """Return the expirationDateTime ``lifetime`` from now, refused beyond Graph's limit."""
    if not timedelta(0) < lifetime <= SUBSCRIPTION_MAX_LIFETIME:
        raise GraphValidationError(
            "subscription_lifetime_out_of_range",
            f"A presence subscription lives at most 60 minutes, got {lifetime}",
        )
    return f"{datetime.now(UTC) + lifetime:%Y-%m-%dT%H:%M:%S.%fZ}"


def _certificate_fields(certificate: NotificationCertificate) -> dict[str, str]:
    return {
        "encryptionCertificate": certificate.public_base64,
        "encryptionCertificateId": certificate.id,
    }
