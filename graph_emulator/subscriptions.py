"""Graph's change-notification subscriptions to presence, and what they send.

The rules are Graph's for presence ("Get change notifications for presence updates",
"Create subscription", "Update subscription", "Reduce missing subscriptions"):
delegated `Presence.Read.All` only; resource `communications/presences/{user id}`
or, for up to 650 people, `communications/presences?$filter=id in ('{id}', ...)`,
change type `updated`; one subscription per user and app (a second answers 409);
a lifetime of at most 60 minutes, shorter requests raised to 45; notification URLs
on https (the emulator also takes http on loopback, for tests and the demo), each
validated before the subscription exists; a subscription ends at its expiry and
is then unknown (404). Every change of a subscribed user's availability or activity
is notified, one item per person who changed: basic notifications name the user, rich ones (`includeResourceData`)
carry the new presence encrypted for the subscriber's certificate, with validation
tokens signed by Entra ID's key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import ipaddress
import re
from typing import Any
import uuid

from aiohttp import web
from cryptography import x509
from yarl import URL

from ._http import read_body
from .delivery import Deliveries, Sleep
from .graph_api import GraphApi, GraphError, Permission
from .notification_crypto import SigningKey, encrypt_resource, load_certificate
from .presence import Clock, User
from .tokens import AccessToken, AppRegistration, Directory

SUBSCRIBE_TO_PRESENCE = Permission(frozenset({"Presence.Read.All"}), frozenset())
MAX_LIFETIME = timedelta(minutes=60)
MIN_LIFETIME = timedelta(minutes=45)
MAX_CLIENT_STATE_LENGTH = 128
MAX_CERTIFICATE_ID_LENGTH = 128
PUBLISHER_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"
"""Graph's change-notification publisher, the `appid` of every validation token."""
VALIDATION_TOKEN_LIFETIME = timedelta(hours=8)
"""As in Microsoft's example token (issued 1565046813, expiring 1565075913)."""
TICK = 1.0
"""Seconds between looks at presence that changed with time alone (a fade)."""
MAX_PRESENCE_IDS = 650
"""People one presence subscription may name."""
_GUID = r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
_RESOURCE = re.compile(rf"/?communications/presences/(?P<id>{_GUID})", re.IGNORECASE)
_BULK_RESOURCE = re.compile(
    r"/?communications/presences\?\$filter=id\s+in\s*\((?P<ids>[^)]*)\)",
    re.IGNORECASE,
)
_QUOTED_ID = re.compile(rf"\s*'(?P<id>{_GUID})'\s*", re.IGNORECASE)
_PATCHABLE = frozenset(
    {
        "expirationDateTime",
        "notificationUrl",
        "encryptionCertificate",
        "encryptionCertificateId",
    }
)
_CONFLICT = (
    "Operation: Create; Exception: [Status Code: Conflict; Reason: A subscripton"
    " already exists. It must be deleted before a another can be made.]"
)


def graph_time(moment: datetime) -> str:
    """Format as Graph's subscriptions do: UTC, seven fractional digits."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}0Z"


@dataclass(eq=False)
class Subscription:
    """A subscription to people's presence; `shown` is what was last notified of each."""

    id: str
    users: list[User]
    creator: User
    app: AppRegistration
    resource: str
    notification_url: str
    lifecycle_url: str | None
    expires_at: datetime
    client_state: str | None
    shown: dict[str, tuple[str, str]]
    """By user id."""
    certificate: x509.Certificate | None = None
    certificate_text: str | None = None
    certificate_id: str | None = None
    paused_from: datetime | None = None
    """Set by a reauthorization challenge: no notifications from then until answered."""

    def json(self) -> dict[str, Any]:
        """Render as Graph's `subscription` resource."""
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.app.client_id,
            "changeType": "updated",
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": graph_time(self.expires_at),
            "creatorId": self.creator.id,
            "includeResourceData": self.certificate is not None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": self.certificate_text,
            "encryptionCertificateId": self.certificate_id,
            "notificationUrlAppId": None,
        }


def _url(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    """Return a notification URL: https, or http to this machine (tests, the demo)."""
    value = body.get(name)
    if value is None and not required:
        return None
    try:
        url = URL(value) if isinstance(value, str) else None
    except ValueError:
        url = None
    if url is None or not url.is_absolute() or url.scheme not in ("http", "https"):
        raise GraphError(400, "InvalidRequest", f"{name} must be an absolute URL.")
    if url.scheme == "http" and not _is_loopback(url.host or ""):
        raise GraphError(400, "InvalidRequest", f"The {name} must be https.")
    return str(value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _optional_text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise GraphError(
            400,
            "InvalidRequest",
            f"{name} must be a string of 1 to {limit} characters.",
        )
    return value


class Subscriptions:
    """The subscriptions Graph holds, and the notifications they send.

    Knobs a test turns (the delivery ones are on `delivery`, see `Deliveries`):

    - `silent`: subscriptions are created and renewed as usual but notify nothing
      (as reported: renewed every minute, silent for days).
    - `require_reauthorization(...)`: send `reauthorizationRequired` to the
      lifecycle URL; notifications pause until `/reauthorize` or a renewal.
    - `validation_token_claims`: claims that replace, add to (or, set to None,
      remove from) every validation token's: an `exp` in the past, another `aud`,
      to test the subscriber's checks.
    - `outage`: a status (503...) every subscription request answers while presence
      reads and writes work, as in an outage of Graph's subscription service alone.
    - Expiry needs no knob: at `expirationDateTime` on the emulator's clock
      notifications stop and the subscription is gone (404).

    Changes are noticed after every Graph request, after the emulator's own
    presence changes, and every `TICK` seconds (presence that fades with time);
    `settle()` waits until every notification due has been sent.
    """

    def __init__(
        self, clock: Clock, directory: Directory, signing_key: SigningKey, sleep: Sleep
    ) -> None:
        """Notify through a `Deliveries` whose delays wait through `sleep`."""
        self._clock = clock
        self._directory = directory
        self._signing_key = signing_key
        self._sleep = sleep
        self.delivery = Deliveries(clock, sleep)
        self.silent = False
        self.validation_token_claims: dict[str, Any] = {}
        self.outage: int | None = None
        self._subscriptions: dict[str, Subscription] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._graph: GraphApi | None = None

    def all(self) -> list[Subscription]:
        """Return the subscriptions that have not expired."""
        now = self._clock()
        for expired in [s for s in self._subscriptions.values() if now >= s.expires_at]:
            del self._subscriptions[expired.id]
        return list(self._subscriptions.values())

    def notice_changes(self) -> None:
        """Notify every subscription whose user's availability or activity changed."""
        now = self._clock()
        for subscription in self.all():
            changed: list[tuple[User, tuple[str, str]]] = []
            for user in subscription.users:
                if user not in self._directory.users:
                    continue  # left the directory: nothing more is told of them
                shown = user.presence.aggregate()
                if shown != subscription.shown[user.id]:
                    subscription.shown[user.id] = shown
                    # A version of its own, as Graph stamps every change, read or not.
                    user.presence.sequence_number()
                    changed.append((user, shown))
            paused = subscription.paused_from
            if not changed or self.silent or (paused is not None and now >= paused):
                continue  # lost, as Graph loses changes while a subscription pauses
            self.delivery.send(
                subscription.notification_url,
                self._notification(subscription, changed),
                alive=self._alive(subscription),
            )

    def require_reauthorization(
        self,
        subscription: Subscription | None = None,
        *,
        grace: timedelta = timedelta(0),
    ) -> None:
        """Challenge `subscription` (default: all) with `reauthorizationRequired`.

        Notifications go on for `grace`, then pause until the app reauthorizes or
        renews; the challenge goes to the lifecycle URL, if the subscription has one.
        """
        now = self._clock()
        for target in [subscription] if subscription else self.all():
            target.paused_from = now + grace
            if target.lifecycle_url is not None:
                self.delivery.send(
                    target.lifecycle_url,
                    {
                        "value": [
                            {
                                **self._about(target),
                                "lifecycleEvent": "reauthorizationRequired",
                            }
                        ]
                    },
                    alive=self._alive(target),
                    faults=False,
                )

    async def settle(self) -> None:
        """Notice changes, then wait until every notification due has been sent."""
        self.notice_changes()
        await self.delivery.settle()

    async def stop(self) -> None:
        """Stop looking for changes and sending."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        await self.delivery.stop()

    # Notifications

    def _alive(self, subscription: Subscription) -> Callable[[], bool]:
        return lambda: subscription in self.all()

    def _about(self, subscription: Subscription) -> dict[str, Any]:
        """Return what every notification of a subscription says about it."""
        return {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": graph_time(subscription.expires_at),
            "tenantId": subscription.creator.tenant_id,
            "clientState": subscription.client_state,
        }

    def _notification(
        self, subscription: Subscription, changed: list[tuple[User, tuple[str, str]]]
    ) -> dict[str, Any]:
        """Return the body of a change notification, basic or rich: one item each."""
        items = [self._item(subscription, user, shown) for user, shown in changed]
        if subscription.certificate is None:
            return {"value": items}
        return {
            "value": items,
            "validationTokens": [self._validation_token(subscription)],
        }

    def _item(
        self, subscription: Subscription, user: User, shown: tuple[str, str]
    ) -> dict[str, Any]:
        """Return the item about one person's change, encrypted when rich."""
        resource_data = {
            "@odata.id": f"users/{user.id}/presence",
            "@odata.type": "#microsoft.graph.presence",
            "id": user.id,
        }
        item: dict[str, Any] = {
            **self._about(subscription),
            "changeType": "updated",
            "resource": subscription.resource,
            "resourceData": resource_data,
            "organizationId": user.tenant_id,
        }
        certificate, certificate_id = (
            subscription.certificate,
            subscription.certificate_id,
        )
        if certificate is None or certificate_id is None:
            return item
        availability, activity = shown
        item["encryptedContent"] = encrypt_resource(
            {**resource_data, "availability": availability, "activity": activity},
            certificate,
            certificate_id,
        )
        return item

    def _validation_token(self, subscription: Subscription) -> str:
        """Return a token for the subscribing app and tenant, as Graph's publisher gets it."""
        issued = int(self._clock().timestamp())
        tenant = subscription.creator.tenant_id
        issuer = f"https://sts.windows.net/{tenant}/"
        claims = {
            "aud": subscription.app.client_id,
            "iss": issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(VALIDATION_TOKEN_LIFETIME.total_seconds()),
            "appid": PUBLISHER_APP_ID,
            "appidacr": "2",
            "idp": issuer,
            "tid": tenant,
            "uti": uuid.uuid4().hex,
            "ver": "1.0",
        }
        claims |= self.validation_token_claims
        return self._signing_key.sign(
            {name: value for name, value in claims.items() if value is not None}
        )

    async def _tick(self) -> None:
        """Notice presence that changed with time alone, and send what is due."""
        while True:
            await self._sleep(TICK)
            self.notice_changes()
            self.delivery.release_due()

    # Routes

    def routes(self, graph: GraphApi) -> list[web.RouteDef]:
        """Return the /subscriptions routes, authorized and answering as `graph` does."""
        self._graph = graph
        one = "/v1.0/subscriptions/{id}"
        return [
            web.post("/v1.0/subscriptions", graph.answering(self._create)),
            web.get("/v1.0/subscriptions", graph.answering(self._list)),
            web.get(one, graph.answering(self._get)),
            web.patch(one, graph.answering(self._update)),
            web.delete(one, graph.answering(self._delete)),
            web.post(f"{one}/reauthorize", graph.answering(self._reauthorize)),
        ]

    def _caller(self, request: web.Request) -> tuple[AccessToken, User]:
        if self._graph is None:
            raise RuntimeError("routes() gives the subscriptions their Graph")
        if self.outage is not None:
            status = HTTPStatus(self.outage)
            raise GraphError(
                status, status.phrase.replace(" ", ""), f"{status.phrase}."
            )
        token = self._graph.authorize(request, SUBSCRIBE_TO_PRESENCE)
        if token.user is None:  # only delegated scopes can grant the permission
            raise GraphError(403, "Forbidden", "")
        return token, token.user

    def _own(self, request: web.Request) -> Subscription:
        """Return the subscription the path names, if the caller's user and app made it."""
        token, user = self._caller(request)
        subscription_id = request.match_info["id"]
        subscription = next((s for s in self.all() if s.id == subscription_id), None)
        if subscription is None or (subscription.creator, subscription.app) != (
            user,
            token.app,
        ):
            raise GraphError(
                404,
                "ResourceNotFound",
                f"The subscription '{subscription_id}' does not exist.",
            )
        return subscription

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        body = await read_body(request)
        if not isinstance(body, dict):
            raise GraphError(
                400, "BadRequest", "The request body must be a JSON object."
            )
        return body

    def _expiry(self, body: dict[str, Any]) -> datetime:
        """Return the expiry asked for, raised to 45 minutes, refused beyond 60."""
        value = body.get("expirationDateTime")
        try:
            expiry = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            expiry = None
        if expiry is None or expiry.tzinfo is None:
            raise GraphError(
                400,
                "InvalidRequest",
                "expirationDateTime must be a date and time with its offset.",
            )
        now = self._clock()
        if expiry <= now:
            raise GraphError(
                400, "InvalidRequest", "Subscription expiration must be in the future."
            )
        if expiry > now + MAX_LIFETIME:
            raise GraphError(
                400,
                "InvalidRequest",
                "Subscription expiration can only be 60 minutes in the future.",
            )
        return max(expiry, now + MIN_LIFETIME)

    def _encryption(self, body: dict[str, Any]) -> tuple[x509.Certificate, str, str]:
        """Return the certificate, its base64 text and its id, which come together."""
        text = body.get("encryptionCertificate")
        certificate_id = _optional_text(
            body, "encryptionCertificateId", MAX_CERTIFICATE_ID_LENGTH
        )
        if not isinstance(text, str) or certificate_id is None:
            raise GraphError(
                400,
                "InvalidRequest",
                "encryptionCertificate and encryptionCertificateId are required"
                " when includeResourceData is true.",
            )
        try:
            return load_certificate(text), text, certificate_id
        except ValueError as err:
            raise GraphError(400, "InvalidRequest", str(err)) from err

    async def _validate(self, *urls: str | None) -> None:
        """Run the handshake with each URL given; 400 if one fails."""
        for url in urls:
            if (
                url is not None
                and (failure := await self.delivery.validate(url)) is not None
            ):
                raise GraphError(400, "InvalidRequest", failure)

    def _check_conflict(self, user: User, app: AppRegistration) -> None:
        if any((s.creator, s.app) == (user, app) for s in self.all()):
            raise GraphError(409, "ExtensionError", _CONFLICT)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        token, creator = self._caller(request)
        body = await self._body(request)
        if body.get("changeType") != "updated":
            raise GraphError(
                400,
                "InvalidRequest",
                "Presence subscriptions support the change type 'updated' only.",
            )
        resource = body.get("resource")
        users = self._subscribed_users(resource, creator)
        expiry = self._expiry(body)
        client_state = _optional_text(body, "clientState", MAX_CLIENT_STATE_LENGTH)
        notification_url = _url(body, "notificationUrl", required=True)
        lifecycle_url = _url(body, "lifecycleNotificationUrl", required=False)
        encryption = (
            self._encryption(body) if body.get("includeResourceData") is True else None
        )
        self._check_conflict(creator, token.app)
        await self._validate(notification_url, lifecycle_url)
        self._check_conflict(creator, token.app)  # one may have come meanwhile
        subscription = Subscription(
            id=str(uuid.uuid4()),
            users=users,
            creator=creator,
            app=token.app,
            resource=str(resource),
            notification_url=str(notification_url),
            lifecycle_url=lifecycle_url,
            expires_at=expiry,
            client_state=client_state,
            shown={user.id: user.presence.aggregate() for user in users},
        )
        if encryption is not None:
            (
                subscription.certificate,
                subscription.certificate_text,
                subscription.certificate_id,
            ) = encryption
        self._subscriptions[subscription.id] = subscription
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return web.json_response(
            {
                "@odata.context": f"{request.url.origin()}/v1.0/$metadata#subscriptions/$entity",
                **subscription.json(),
            },
            status=201,
        )

    def _subscribed_users(self, resource: object, creator: User) -> list[User]:
        """Return the people a presence resource names: 1, or up to 650 in a filter.

        Each must be a user of the creator's tenant, else 404 as for one user.
        """
        text = resource if isinstance(resource, str) else ""
        if one := _RESOURCE.fullmatch(text):
            ids = [one["id"]]
        elif bulk := _BULK_RESOURCE.fullmatch(text):
            quoted = [_QUOTED_ID.fullmatch(part) for part in bulk["ids"].split(",")]
            if not all(quoted):
                raise GraphError(
                    400,
                    "InvalidRequest",
                    f"The filter of '{text}' must list quoted user ids.",
                )
            ids = list(dict.fromkeys(m["id"].lower() for m in quoted if m))
            if len(ids) > MAX_PRESENCE_IDS:
                raise GraphError(
                    400,
                    "InvalidRequest",
                    f"A presence subscription takes at most {MAX_PRESENCE_IDS}"
                    f" user ids, got {len(ids)}.",
                )
        else:
            raise GraphError(
                400,
                "InvalidRequest",
                f"The resource '{resource}' is not communications/presences/{{id}}"
                " nor communications/presences?$filter=id in ('{id}', ...).",
            )
        users = []
        for user_id in ids:
            user = self._directory.find_user(user_id)
            if user is None or user.tenant_id != creator.tenant_id:
                raise GraphError(
                    404, "ResourceNotFound", f"The user '{user_id}' does not exist."
                )
            users.append(user)
        return users

    async def _list(self, request: web.Request) -> web.StreamResponse:
        token, user = self._caller(request)
        return web.json_response(
            {
                "@odata.context": f"{request.url.origin()}/v1.0/$metadata#subscriptions",
                "value": [
                    s.json()
                    for s in self.all()
                    if (s.creator, s.app) == (user, token.app)
                ],
            }
        )

    async def _get(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._own(request).json())

    async def _update(self, request: web.Request) -> web.StreamResponse:
        """Renew (which also reauthorizes), move to a new URL, or change certificate."""
        subscription = self._own(request)
        body = await self._body(request)
        if unknown := set(body) - _PATCHABLE:
            raise GraphError(
                400,
                "InvalidRequest",
                f"These properties cannot be updated: {', '.join(sorted(unknown))}.",
            )
        expiry = self._expiry(body) if "expirationDateTime" in body else None
        notification_url = _url(body, "notificationUrl", required=False)
        encryption = (
            self._encryption(body)
            if {"encryptionCertificate", "encryptionCertificateId"} & set(body)
            else None
        )
        await self._validate(notification_url)
        if expiry is not None:
            subscription.expires_at = expiry
            subscription.paused_from = None
        if notification_url is not None:
            subscription.notification_url = notification_url
        if encryption is not None:
            (
                subscription.certificate,
                subscription.certificate_text,
                subscription.certificate_id,
            ) = encryption
        return web.json_response(subscription.json())

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        del self._subscriptions[self._own(request).id]
        return web.Response(status=204)

    async def _reauthorize(self, request: web.Request) -> web.StreamResponse:
        self._own(request).paused_from = None
        return web.Response(status=204)
