"""Presence subscriptions and notifications, from the client's side, over loopback.

The emulator encrypts and signs as Microsoft documents it, the client decrypts and
checks as Microsoft documents it; a notification that Microsoft Graph itself
encrypted (``fixtures/microsoft_rich_notification.json``) keeps the two from drifting
apart together.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
import copy
from datetime import UTC, datetime, timedelta
import hashlib
import hmac
import json
from pathlib import Path
import time
from typing import Any

from aiohttp import ClientSession, web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
import jwt
import pytest

from custom_components.teams_presence_keeper.graph import (
    DEFAULT_SUBSCRIPTION_LIFETIME,
    SUBSCRIPTION_MAX_LIFETIME,
    Activity,
    Availability,
    GraphNotFoundError,
    GraphPermissionError,
    GraphServerError,
    GraphSubscriptionClient,
    GraphThrottledError,
    GraphValidationError,
    LifecycleEvent,
    LifecycleNotice,
    NotificationCertificate,
    NotificationReceiver,
    NotificationUrlError,
    PresenceChange,
    PresenceSnapshot,
    Rejected,
    RejectionReason,
    SigningKeys,
    SubscriptionConflictError,
    new_client_state,
    signing_keys_url,
    validation_token,
)
from custom_components.teams_presence_keeper.graph.encryption import (
    DecryptionError,
    DecryptionFailure,
    EncryptedContent,
)
from custom_components.teams_presence_keeper.graph.signing_keys import (
    SigningKeysUnavailableError,
)
from custom_components.teams_presence_keeper.remedies import Failure, classify
from graph_emulator import GraphEmulator
from graph_emulator.graph_api import GraphError as EmulatedGraphError
from graph_emulator.subscriptions import Subscriptions
from tests.webhook_receiver import WebhookReceiver, webhook_receiver

FIXTURE = Path(__file__).parent / "fixtures" / "microsoft_rich_notification.json"
CLIENT_STATE = "client-state-of-the-tests-1234567890abcdef"
"""Fixed, so test ids are the same in every process (pytest-xdist compares them)."""


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture
async def receiver(emulator: GraphEmulator) -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def certificate() -> NotificationCertificate:
    return NotificationCertificate.generate()


def make_client(
    emulator: GraphEmulator, http: ClientSession, token: str
) -> GraphSubscriptionClient:
    async def token_provider() -> str:
        return token

    return GraphSubscriptionClient(http, token_provider, base_url=emulator.graph_url)


@pytest.fixture
def client(emulator: GraphEmulator, http: ClientSession) -> GraphSubscriptionClient:
    """A client whose delegated token may read and subscribe to presence."""
    return make_client(
        emulator,
        http,
        emulator.issue_token(scopes=("Presence.ReadWrite", "Presence.Read.All")),
    )


@pytest.fixture
def notification_receiver(
    emulator: GraphEmulator, http: ClientSession
) -> NotificationReceiver:
    return NotificationReceiver(
        client_id=emulator.default_app.client_id,
        tenant_id=emulator.default_tenant_id,
        signing_keys=SigningKeys(http, signing_keys_url(emulator.graph_url)),
    )


async def subscribe(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate | None = None,
) -> Any:
    return await client.create_presence_subscription(
        emulator.default_user.id,
        receiver.url,
        client_state=CLIENT_STATE,
        lifecycle_notification_url=receiver.url,
        certificate=certificate,
    )


async def notified(emulator: GraphEmulator, receiver: WebhookReceiver) -> bytes:
    """Change the user's presence in Teams; return the body Graph posted about it."""
    emulator.set_client_session("teams", "Busy", "InACall")
    await emulator.subscriptions.settle()
    return receiver.received[-1].body


def within(moment: datetime, expected: datetime) -> bool:
    return abs(moment - expected) < timedelta(seconds=5)


async def test_create_renew_list_and_delete(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
) -> None:
    user_id = emulator.default_user.id
    created = await subscribe(client, emulator, receiver, certificate)
    body = emulator.graph_calls("subscriptions")[-1].body
    expiry = datetime.fromisoformat(body.pop("expirationDateTime"))
    assert within(expiry, datetime.now(UTC) + DEFAULT_SUBSCRIPTION_LIFETIME)
    assert body == {
        "changeType": "updated",
        "notificationUrl": receiver.url,
        "lifecycleNotificationUrl": receiver.url,
        "resource": f"communications/presences/{user_id}",
        "clientState": CLIENT_STATE,
        "includeResourceData": True,
        "encryptionCertificate": certificate.public_base64,
        "encryptionCertificateId": certificate.id,
    }
    assert created.is_for_presence_of(user_id)
    assert created.include_resource_data
    assert created.encryption_certificate_id == certificate.id
    assert (created.client_state, created.creator_id) == (CLIENT_STATE, user_id)
    assert within(created.expires_at, expiry)

    renewed = await client.renew_subscription(created.id, timedelta(minutes=50))
    [patch] = [r for r in emulator.requests if r.method == "PATCH"]
    assert list(patch.body) == ["expirationDateTime"]
    assert within(renewed.expires_at, datetime.now(UTC) + timedelta(minutes=50))

    assert await client.list_subscriptions() == [renewed]
    assert await client.find_presence_subscription(user_id) == renewed
    assert await client.find_presence_subscription("someone-else") is None
    await client.reauthorize_subscription(created.id)
    assert emulator.graph_calls("reauthorize")[-1].status == 204
    await client.delete_subscription(created.id)
    assert await client.list_subscriptions() == []
    with pytest.raises(GraphNotFoundError) as raised:
        await client.renew_subscription(created.id)
    assert classify(raised.value) is Failure.NOT_FOUND


def subscription_calls(emulator: GraphEmulator) -> list[tuple[str, int]]:
    """The method and status of every request about subscriptions, in order."""
    return [
        (call.method, call.status)
        for call in emulator.requests
        if call.server == "graph" and "/subscriptions" in call.path
    ]


async def test_what_is_gone_already_is_no_failure_to_renew_or_end(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
) -> None:
    """Graph forgot it: ``None`` to renew (create it again); ended, as wanted."""
    created = await subscribe(client, emulator, receiver)
    assert await client.renew_held_subscription(created.id) is not None
    await client.end_subscription(created.id)
    assert await client.list_subscriptions() == []
    assert await client.renew_held_subscription(created.id) is None
    await client.end_subscription(created.id)
    assert subscription_calls(emulator)[1:] == [
        ("PATCH", 200),
        ("DELETE", 204),
        ("GET", 200),
        ("PATCH", 404),
        ("DELETE", 404),
    ]


async def test_subscribing_replaces_the_one_graph_holds_for_the_app(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
) -> None:
    """409: the existing one (ours too) is deleted, and a new one made."""
    old = await subscribe(client, emulator, receiver)
    new = await client.subscribe_to_presence(
        emulator.default_user.id,
        receiver.url,
        client_state=CLIENT_STATE,
        certificate=certificate,
    )
    assert new.id != old.id
    assert new.include_resource_data
    assert await client.list_subscriptions() == [new]
    assert subscription_calls(emulator) == [
        ("POST", 201),
        ("POST", 409),
        ("GET", 200),
        ("DELETE", 204),
        ("POST", 201),
        ("GET", 200),
    ]


async def test_where_graph_refuses_rich_notifications_basic_ones(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object) -> None:
        raise EmulatedGraphError(
            400, "InvalidRequest", "includeResourceData is not supported."
        )

    monkeypatch.setattr(Subscriptions, "_encryption", refuse)
    created = await client.subscribe_to_presence(
        emulator.default_user.id,
        receiver.url,
        client_state=CLIENT_STATE,
        certificate=certificate,
    )
    assert not created.include_resource_data
    bodies = [call.body for call in emulator.graph_calls("subscriptions")]
    assert ["includeResourceData" in body for body in bodies] == [True, False]


async def test_renewal_moves_the_url_and_rotates_the_certificate(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
) -> None:
    created = await subscribe(client, emulator, receiver)
    async with webhook_receiver() as moved:
        renewed = await client.renew_subscription(
            created.id, notification_url=moved.url, certificate=certificate
        )
        assert len(moved.validations) == 1
    assert renewed.notification_url == moved.url
    assert renewed.encryption_certificate_id == certificate.id
    assert set(emulator.requests[-1].body) == {
        "expirationDateTime",
        "notificationUrl",
        "encryptionCertificate",
        "encryptionCertificateId",
    }


async def test_a_second_subscription_is_a_conflict_to_adopt(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
) -> None:
    first = await subscribe(client, emulator, receiver)
    with pytest.raises(SubscriptionConflictError) as raised:
        await subscribe(client, emulator, receiver)
    assert raised.value.status == 409
    assert classify(raised.value) is Failure.REFUSED
    existing = await client.find_presence_subscription(emulator.default_user.id)
    assert existing is not None
    assert existing.id == first.id
    await client.renew_subscription(existing.id)


async def test_graph_refusals_are_typed(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    http: ClientSession,
    receiver: WebhookReceiver,
) -> None:
    emulator.fail(1)
    with pytest.raises(GraphServerError) as server_error:
        await subscribe(client, emulator, receiver)
    assert classify(server_error.value) is Failure.TRANSIENT
    emulator.throttle(1, retry_after=42)
    with pytest.raises(GraphThrottledError) as throttled:
        await subscribe(client, emulator, receiver)
    assert throttled.value.retry_after == 42
    without_consent = make_client(emulator, http, emulator.issue_token())
    with pytest.raises(GraphPermissionError) as forbidden:
        await subscribe(without_consent, emulator, receiver)
    assert classify(forbidden.value) is Failure.MISSING_PERMISSION
    receiver.validation_answer = "something else"
    with pytest.raises(NotificationUrlError) as refused:
        await subscribe(client, emulator, receiver)
    assert classify(refused.value) is Failure.REFUSED
    # Other refusals stay what they are.
    with pytest.raises(GraphValidationError) as invalid:
        await client.create_presence_subscription(
            "not-a-user-id", receiver.url, client_state=CLIENT_STATE
        )
    assert not isinstance(invalid.value, NotificationUrlError)


@pytest.mark.parametrize(
    ("lifetime", "client_state"),
    [
        (SUBSCRIPTION_MAX_LIFETIME + timedelta(seconds=1), CLIENT_STATE),
        (timedelta(0), CLIENT_STATE),
        (timedelta(minutes=59), ""),
        (timedelta(minutes=59), "x" * 129),
    ],
)
async def test_what_graph_would_refuse_is_refused_before_sending(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    lifetime: timedelta,
    client_state: str,
) -> None:
    with pytest.raises(GraphValidationError):
        await client.create_presence_subscription(
            emulator.default_user.id,
            "https://ha.example/api/webhook/x",
            client_state=client_state,
            lifetime=lifetime,
        )
    assert emulator.graph_calls("subscriptions") == []


async def test_a_rich_notification_round_trip(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
    notification_receiver: NotificationReceiver,
) -> None:
    created = await subscribe(client, emulator, receiver, certificate)
    body = await notified(emulator, receiver)
    [change] = await notification_receiver.receive(
        body, client_state=CLIENT_STATE, certificates=[certificate]
    )
    assert isinstance(change, PresenceChange)
    assert (change.subscription_id, change.user_id) == (
        created.id,
        emulator.default_user.id,
    )
    assert change.presence is not None
    assert (change.presence.availability, change.presence.activity) == (
        Availability.BUSY,
        Activity.IN_A_CALL,
    )
    last_read = PresenceSnapshot.from_graph(
        {
            "availability": "Available",
            "activity": "Available",
            "statusMessage": {"message": {"content": "Lunch", "contentType": "text"}},
        }
    )
    merged = change.applied_to(last_read)
    assert (merged.raw_availability, merged.raw_activity) == ("Busy", "InACall")
    assert merged.status_message == "Lunch"


async def test_a_basic_notification_says_only_that_presence_changed(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    notification_receiver: NotificationReceiver,
) -> None:
    created = await subscribe(client, emulator, receiver)
    body = await notified(emulator, receiver)
    [change] = await notification_receiver.receive(body, client_state=CLIENT_STATE)
    assert change == PresenceChange(created.id, emulator.default_user.id)
    assert isinstance(change, PresenceChange)
    snapshot = PresenceSnapshot.from_graph({"availability": "Away", "activity": "Away"})
    assert change.applied_to(snapshot) is snapshot


async def test_reauthorization_required_is_a_lifecycle_notice(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    notification_receiver: NotificationReceiver,
) -> None:
    created = await subscribe(client, emulator, receiver)
    emulator.subscriptions.require_reauthorization()
    await emulator.subscriptions.settle()
    assert await notification_receiver.receive(
        receiver.received[-1].body, client_state=CLIENT_STATE
    ) == [LifecycleNotice(created.id, LifecycleEvent.REAUTHORIZATION_REQUIRED)]
    await client.reauthorize_subscription(created.id)
    body = await notified(emulator, receiver)
    assert "resourceData" in json.loads(body)["value"][0]


def tampered(body: bytes, change: Any) -> bytes:
    payload = json.loads(body)
    change(payload)
    return json.dumps(payload).encode()


def _flip_data(payload: dict[str, Any]) -> None:
    content = payload["value"][0]["encryptedContent"]
    data = bytearray(base64.b64decode(content["data"]))
    data[0] ^= 1
    content["data"] = base64.b64encode(bytes(data)).decode()


def _other_signature(payload: dict[str, Any]) -> None:
    payload["value"][0]["encryptedContent"]["dataSignature"] = base64.b64encode(
        bytes(32)
    ).decode()


def _other_client_state(payload: dict[str, Any]) -> None:
    payload["value"][0]["clientState"] = "guessed"


def _no_tokens(payload: dict[str, Any]) -> None:
    del payload["validationTokens"]


def _other_certificate(payload: dict[str, Any]) -> None:
    payload["value"][0]["encryptedContent"]["encryptionCertificateId"] = "old-one"


def _other_user(payload: dict[str, Any]) -> None:
    payload["value"][0]["resourceData"]["id"] = "someone-else"


def _no_data_key(payload: dict[str, Any]) -> None:
    del payload["value"][0]["encryptedContent"]["dataKey"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_flip_data, RejectionReason.DATA_SIGNATURE),
        (_other_signature, RejectionReason.DATA_SIGNATURE),
        (_other_client_state, RejectionReason.CLIENT_STATE),
        (_no_tokens, RejectionReason.JWT_MISSING),
        (_other_certificate, RejectionReason.UNKNOWN_CERTIFICATE),
        (_other_user, RejectionReason.MALFORMED_PRESENCE),
        (_no_data_key, RejectionReason.MALFORMED),
    ],
)
async def test_a_tampered_notification_is_rejected(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
    notification_receiver: NotificationReceiver,
    change: Any,
    reason: RejectionReason,
) -> None:
    created = await subscribe(client, emulator, receiver, certificate)
    body = tampered(await notified(emulator, receiver), change)
    assert await notification_receiver.receive(
        body, client_state=CLIENT_STATE, certificates=[certificate]
    ) == [Rejected(reason, created.id)]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, RejectionReason.JWT_LIFETIME),
        ({"nbf": int(time.time()) + 3600}, RejectionReason.JWT_LIFETIME),
        ({"aud": "22222222-2222-2222-2222-222222222222"}, RejectionReason.JWT_AUDIENCE),
        (
            {"iss": "https://sts.windows.net/bbbbcccc-1111-dddd-2222-eeee3333ffff/"},
            RejectionReason.JWT_ISSUER,
        ),
        (
            {"iss": "http://sts.windows.net/aaaabbbb-0000-cccc-1111-dddd2222eeee/"},
            RejectionReason.JWT_ISSUER,
        ),
        (
            {"appid": "11111111-1111-1111-1111-111111111111"},
            RejectionReason.JWT_PUBLISHER,
        ),
        ({"exp": "tomorrow"}, RejectionReason.JWT_INVALID),
        ({"iss": None}, RejectionReason.JWT_INVALID),
        ({"iss": "https://[::1"}, RejectionReason.JWT_ISSUER),
    ],
)
async def test_a_validation_token_that_fails_a_check_is_rejected(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
    notification_receiver: NotificationReceiver,
    claims: dict[str, Any],
    reason: RejectionReason,
) -> None:
    created = await subscribe(client, emulator, receiver, certificate)
    emulator.subscriptions.validation_token_claims = claims
    body = await notified(emulator, receiver)
    assert await notification_receiver.receive(
        body, client_state=CLIENT_STATE, certificates=[certificate]
    ) == [Rejected(reason, created.id)]


async def test_version_2_tokens_name_the_publisher_azp(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
    notification_receiver: NotificationReceiver,
) -> None:
    await subscribe(client, emulator, receiver, certificate)
    tenant = emulator.default_tenant_id
    emulator.subscriptions.validation_token_claims = {
        "ver": "2.0",
        "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "appid": None,
        "azp": "0bf30f3b-4a52-48df-9a82-234910c4a086",
    }
    body = await notified(emulator, receiver)
    token = json.loads(body)["validationTokens"][0]
    assert "appid" not in jwt.decode(token, options={"verify_signature": False})
    [change] = await notification_receiver.receive(
        body, client_state=CLIENT_STATE, certificates=[certificate]
    )
    assert isinstance(change, PresenceChange)


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _signed_by_another_key(token: str, key: rsa.RSAPrivateKey) -> str:
    """The same claims, naming Entra ID's key but signed with another."""
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.encode(_claims(token), key, algorithm="RS256", headers={"kid": kid})


def _naming_an_unknown_key(token: str, key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(_claims(token), key, algorithm="RS256", headers={"kid": "mine"})


def _unsigned(token: str, key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(_claims(token), "", algorithm="none")


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (_signed_by_another_key, RejectionReason.JWT_SIGNATURE),
        (_naming_an_unknown_key, RejectionReason.JWT_SIGNATURE),
        (_unsigned, RejectionReason.JWT_INVALID),
    ],
)
async def test_a_token_not_signed_by_entra_is_rejected(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
    notification_receiver: NotificationReceiver,
    forge: Any,
    reason: RejectionReason,
) -> None:
    created = await subscribe(client, emulator, receiver, certificate)
    payload = json.loads(await notified(emulator, receiver))
    [token] = payload["validationTokens"]
    payload["validationTokens"] = [forge(token, certificate.private_key)]
    assert await notification_receiver.receive(
        json.dumps(payload), client_state=CLIENT_STATE, certificates=[certificate]
    ) == [Rejected(reason, created.id)]


async def test_no_signing_keys_a_basic_notification(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    http: ClientSession,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
) -> None:
    created = await subscribe(client, emulator, receiver, certificate)
    body = await notified(emulator, receiver)
    async with webhook_receiver() as gone:
        unreachable = gone.url
    checker = NotificationReceiver(
        client_id=emulator.default_app.client_id,
        tenant_id=emulator.default_tenant_id,
        signing_keys=SigningKeys(http, unreachable),
    )
    assert await checker.receive(
        body, client_state=CLIENT_STATE, certificates=[certificate]
    ) == [PresenceChange(created.id, emulator.default_user.id, tokens_unchecked=True)]


class FakeClock:
    """A clock that moves only when the test moves it."""

    def __init__(self) -> None:
        """Start now."""
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_signing_keys_are_cached_and_fetched_again_when_needed(
    emulator: GraphEmulator, http: ClientSession
) -> None:
    clock = FakeClock()
    keys = SigningKeys(http, signing_keys_url(emulator.graph_url), clock=clock)

    def fetches() -> int:
        return sum(r.path.endswith("/discovery/v2.0/keys") for r in emulator.requests)

    kid = emulator.signing_key.key_id
    assert (await keys.get(kid)) is not None
    assert (await keys.get(kid)) is not None
    assert await keys.get("unknown") is None  # just fetched: not again yet
    assert fetches() == 1
    clock.now += timedelta(minutes=5)
    assert await keys.get("unknown") is None
    assert fetches() == 2
    clock.now += timedelta(hours=6)
    await keys.get(kid)
    assert fetches() == 3
    # When Entra ID cannot be reached, the keys already known still serve.
    await emulator.refuse_connections()
    clock.now += timedelta(hours=6)
    assert (await keys.get(kid)) is not None
    await emulator.accept_connections()
    assert fetches() == 3


async def test_without_signing_keys_fetching_waits_between_tries(
    emulator: GraphEmulator, http: ClientSession
) -> None:
    clock = FakeClock()
    keys = SigningKeys(http, signing_keys_url(emulator.graph_url), clock=clock)
    kid = emulator.signing_key.key_id
    await emulator.refuse_connections()
    with pytest.raises(SigningKeysUnavailableError):
        await keys.get(kid)
    await emulator.accept_connections()
    with pytest.raises(SigningKeysUnavailableError):
        await keys.get(kid)  # tried moments ago: not again yet
    clock.now += timedelta(minutes=5)
    assert await keys.get(kid) is not None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"value": []}',
        b'{"value": ["x"]}',
        json.dumps({"value": [{"clientState": CLIENT_STATE}]}).encode(),
    ],
)
async def test_what_is_not_a_notification_is_rejected(
    notification_receiver: NotificationReceiver, body: bytes
) -> None:
    [outcome] = await notification_receiver.receive(body, client_state=CLIENT_STATE)
    assert outcome == Rejected(RejectionReason.MALFORMED)


@pytest.mark.parametrize(
    ("item", "tokens", "reason"),
    [
        ({"lifecycleEvent": "somethingNew"}, [], RejectionReason.MALFORMED),
        ({"resourceData": {}}, [], RejectionReason.MALFORMED),
        ({"encryptedContent": {}}, ["x.y.z"], RejectionReason.JWT_INVALID),
        ({"encryptedContent": {}}, [42], RejectionReason.JWT_INVALID),
        ({"encryptedContent": {}}, [], RejectionReason.JWT_MISSING),
    ],
)
async def test_items_without_their_parts_are_rejected(
    notification_receiver: NotificationReceiver,
    item: dict[str, Any],
    tokens: list[Any],
    reason: RejectionReason,
) -> None:
    body = {
        "value": [
            {
                "subscriptionId": "s",
                "clientState": CLIENT_STATE,
                "resourceData": {"id": "u"},
            }
            | item
        ],
        "validationTokens": tokens,
    }
    assert await notification_receiver.receive(
        json.dumps(body), client_state=CLIENT_STATE
    ) == [Rejected(reason, "s")]


async def test_signing_keys_other_than_rsa_are_passed_over(
    emulator: GraphEmulator, http: ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = emulator.signing_key.jwks()
    [rsa_key] = published["keys"]
    others = [
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "broken", "n": 42},
        "not a key",
    ]
    monkeypatch.setattr(
        emulator.signing_key, "jwks", lambda: {"keys": [*others, rsa_key]}
    )
    keys = SigningKeys(http, signing_keys_url(emulator.graph_url))
    assert await keys.get("ec") is None
    assert await keys.get("broken") is None
    assert await keys.get(rsa_key["kid"]) is not None


async def test_a_subscription_of_the_wrong_shape_is_graph_s_failure(
    http: ClientSession, socket_enabled: None
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"value": "none"} if request.method == "GET" else [])

    app = web.Application()
    app.router.add_route("*", "/v1.0/subscriptions", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:

        async def token() -> str:
            return "token"

        client = GraphSubscriptionClient(
            http, token, base_url=f"http://127.0.0.1:{runner.addresses[0][1]}"
        )
        with pytest.raises(GraphServerError):
            await client.list_subscriptions()
        with pytest.raises(GraphServerError):
            await client.create_presence_subscription(
                "user", "https://ha.example/hook", client_state=CLIENT_STATE
            )
    finally:
        await runner.cleanup()


def test_the_validation_request_is_recognised() -> None:
    assert validation_token({"validationToken": "Validation: a b"}) == "Validation: a b"
    assert validation_token({}) is None
    assert new_client_state() != new_client_state()
    assert len(new_client_state()) <= 128
    assert (
        signing_keys_url("https://login.microsoftonline.com/")
        == "https://login.microsoftonline.com/common/discovery/v2.0/keys"
    )


# The certificate


def test_the_certificate_round_trips_through_storage(
    certificate: NotificationCertificate,
) -> None:
    stored = json.loads(json.dumps(certificate.to_storage()))
    loaded = NotificationCertificate.from_storage(stored)
    assert loaded.id == certificate.id
    assert loaded.public_base64 == certificate.public_base64
    assert loaded.thumbprint == certificate.thumbprint
    assert loaded.private_key.key_size == 2048
    der = base64.b64decode(certificate.public_base64)
    assert b"PRIVATE" not in der


def test_a_certificate_says_when_to_rotate() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fresh = NotificationCertificate.generate(lifetime=timedelta(days=365), now=start)
    assert fresh.expires_at == start + timedelta(days=365)
    assert not fresh.needs_rotation(start + timedelta(days=334))
    assert fresh.needs_rotation(start + timedelta(days=335))


@pytest.mark.parametrize(
    "change",
    [
        lambda stored: stored.pop("private_key"),
        lambda stored: stored.update(private_key="garbage"),
        lambda stored: stored.update(
            private_key=NotificationCertificate.generate().to_storage()["private_key"]
        ),
    ],
)
def test_a_damaged_stored_certificate_is_refused(
    certificate: NotificationCertificate, change: Any
) -> None:
    stored = certificate.to_storage()
    change(stored)
    with pytest.raises(ValueError, match=r"."):
        NotificationCertificate.from_storage(stored)


def crafted(
    certificate: NotificationCertificate,
    *,
    key: bytes = bytes(range(32)),
    data: bytes = bytes(16),
    data_key: str | None = None,
    data_text: str | None = None,
) -> EncryptedContent:
    """Content encrypted for ``certificate`` with chosen parts, signed with ``key``."""
    wrapped = certificate.certificate.public_key().encrypt(  # type: ignore[union-attr]
        key,
        padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 - as documented
            algorithm=hashes.SHA1(),  # noqa: S303
            label=None,
        ),
    )
    return EncryptedContent(
        data=data_text or base64.b64encode(data).decode(),
        data_key=data_key or base64.b64encode(wrapped).decode(),
        data_signature=base64.b64encode(
            hmac.new(key, data, hashlib.sha256).digest()
        ).decode(),
        certificate_id=certificate.id,
        certificate_thumbprint=None,
    )


@pytest.mark.parametrize(
    ("parts", "failure"),
    [
        ({"data_key": "not base64!"}, DecryptionFailure.DATA_KEY),
        ({"key": bytes(16)}, DecryptionFailure.DATA_KEY),
        ({"data_text": "not base64!"}, DecryptionFailure.DATA_SIGNATURE),
        ({"data": bytes(15)}, DecryptionFailure.DECRYPTION),
        ({"data": bytes(16)}, DecryptionFailure.DECRYPTION),
    ],
)
def test_content_that_fails_a_step_names_it(
    certificate: NotificationCertificate,
    parts: dict[str, Any],
    failure: DecryptionFailure,
) -> None:
    with pytest.raises(DecryptionError) as raised:
        certificate.decrypt(crafted(certificate, **parts))
    assert raised.value.failure is failure


# What Microsoft Graph itself encrypted


@pytest.fixture(scope="module")
def microsoft() -> tuple[NotificationCertificate, EncryptedContent, dict[str, Any]]:
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    key, certificate, _ = pkcs12.load_key_and_certificates(
        base64.b64decode(fixture["pkcs12"]), fixture["pkcs12_password"].encode()
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    assert certificate is not None
    content = EncryptedContent.from_graph(fixture["encryptedContent"])
    return (
        NotificationCertificate(content.certificate_id, certificate, key),
        content,
        fixture["decrypted"],
    )


def test_a_notification_microsoft_graph_encrypted_decrypts(
    microsoft: tuple[NotificationCertificate, EncryptedContent, dict[str, Any]],
) -> None:
    certificate, content, expected = microsoft
    assert certificate.thumbprint == content.certificate_thumbprint
    resource = json.loads(certificate.decrypt(content))
    assert {key: resource[key] for key in expected} == expected


def test_microsoft_graph_s_notification_tampered_is_refused(
    microsoft: tuple[NotificationCertificate, EncryptedContent, dict[str, Any]],
    certificate: NotificationCertificate,
) -> None:
    theirs, content, _ = microsoft
    data = bytearray(base64.b64decode(content.data))
    data[-1] ^= 1
    flipped = copy.replace(content, data=base64.b64encode(bytes(data)).decode())
    with pytest.raises(DecryptionError) as raised:
        theirs.decrypt(flipped)
    assert raised.value.failure is DecryptionFailure.DATA_SIGNATURE
    # Our own key cannot unwrap a key wrapped for theirs.
    ours = NotificationCertificate(
        content.certificate_id, certificate.certificate, certificate.private_key
    )
    with pytest.raises(DecryptionError) as raised:
        ours.decrypt(copy.replace(content, certificate_thumbprint=None))
    assert raised.value.failure is DecryptionFailure.DATA_KEY
    with pytest.raises(DecryptionError) as raised:
        ours.decrypt(content)
    assert raised.value.failure is DecryptionFailure.UNKNOWN_CERTIFICATE
