"""Change-notification subscriptions to presence: Graph's rules, deliveries, faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import json
import time
from typing import Any

import aiohttp
import jwt
import pytest
from yarl import URL

from custom_components.teams_presence_keeper.graph import NotificationCertificate
from custom_components.teams_presence_keeper.graph.encryption import EncryptedContent
from graph_emulator import GraphEmulator
from graph_emulator.delivery import EndpointState, Post, Reply
from graph_emulator.subscriptions import PUBLISHER_APP_ID, graph_time
from tests.webhook_receiver import WebhookReceiver, webhook_receiver

from .conftest import Answer, FakeClock, GraphClient

CLIENT_STATE = "a-secret-only-graph-and-we-know"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def watcher(session: aiohttp.ClientSession, emulator: GraphEmulator) -> GraphClient:
    """A Graph client whose delegated token may subscribe to presence, all day."""
    return GraphClient(
        session,
        emulator.issue_token(scopes=("Presence.Read.All",), lifetime=timedelta(days=1)),
    )


@pytest.fixture(scope="module")
def certificate() -> NotificationCertificate:
    return NotificationCertificate.generate()


def subscription_body(
    emulator: GraphEmulator, clock: FakeClock, url: str, **changes: Any
) -> dict[str, Any]:
    body = {
        "changeType": "updated",
        "notificationUrl": url,
        "lifecycleNotificationUrl": url,
        "resource": f"communications/presences/{emulator.default_user.id}",
        "expirationDateTime": graph_time(clock.now + timedelta(minutes=59)),
        "clientState": CLIENT_STATE,
    }
    return {key: value for key, value in (body | changes).items() if value is not None}


async def subscribe(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    **changes: Any,
) -> Answer:
    return await watcher.post(
        "/subscriptions", subscription_body(emulator, clock, receiver.url, **changes)
    )


def rich(certificate: NotificationCertificate) -> dict[str, Any]:
    return {
        "includeResourceData": True,
        "encryptionCertificate": certificate.public_base64,
        "encryptionCertificateId": certificate.id,
    }


async def change(emulator: GraphEmulator, availability: str, activity: str) -> None:
    """The user's Teams client shows a new state; wait until Graph has told."""
    emulator.set_client_session("teams", availability, activity)
    await emulator.subscriptions.settle()


async def renew(watcher: GraphClient, clock: FakeClock, subscription_id: str) -> Answer:
    return await watcher.request(
        "PATCH",
        f"/subscriptions/{subscription_id}",
        {"expirationDateTime": graph_time(clock.now + timedelta(minutes=59))},
    )


def decrypted(
    notification: dict[str, Any], certificate: NotificationCertificate
) -> dict[str, Any]:
    [item] = notification["value"]
    content = EncryptedContent.from_graph(item["encryptedContent"])
    result: dict[str, Any] = json.loads(certificate.decrypt(content))
    return result


async def test_create_validates_the_urls_and_answers_the_subscription(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    answer = await subscribe(watcher, emulator, clock, receiver)
    assert answer.status == 201
    user = emulator.default_user
    assert answer.body | {"id": "?", "@odata.context": "?"} == {
        "@odata.context": "?",
        "id": "?",
        "resource": f"communications/presences/{user.id}",
        "applicationId": emulator.default_app.client_id,
        "changeType": "updated",
        "clientState": CLIENT_STATE,
        "notificationUrl": receiver.url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": receiver.url,
        "expirationDateTime": graph_time(clock.now + timedelta(minutes=59)),
        "creatorId": user.id,
        "includeResourceData": False,
        "latestSupportedTlsVersion": "v1_2",
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
    }
    # The same URL twice: one handshake for each role, as Graph does.
    first, second = receiver.validations
    assert first.content_type == second.content_type == "text/plain"
    assert first.body == b""
    assert first.query["validationToken"].startswith("Validation: Testing client")
    assert first.query["validationToken"] != second.query["validationToken"]


async def test_a_lifetime_under_45_minutes_is_raised_and_over_60_refused(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    for minutes in (61, -1):
        too_long = await subscribe(
            watcher,
            emulator,
            clock,
            receiver,
            expirationDateTime=graph_time(clock.now + timedelta(minutes=minutes)),
        )
        assert too_long.status == 400
        assert too_long.body["error"]["code"] == "InvalidRequest"
    short = await subscribe(
        watcher,
        emulator,
        clock,
        receiver,
        expirationDateTime=graph_time(clock.now + timedelta(minutes=10)),
    )
    assert short.body["expirationDateTime"] == graph_time(
        clock.now + timedelta(minutes=45)
    )


@pytest.mark.parametrize(
    ("scopes", "app_only"),
    [(("Presence.ReadWrite", "Presence.Read", "User.Read"), False), ((), True)],
)
async def test_only_delegated_presence_read_all_may_subscribe(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    scopes: tuple[str, ...],
    app_only: bool,
) -> None:
    token = (
        emulator.issue_app_token(roles=("Presence.Read.All", "Presence.ReadWrite.All"))
        if app_only
        else emulator.issue_token(scopes=scopes)
    )
    answer = await subscribe(GraphClient(session, token), emulator, clock, receiver)
    assert answer.status == 403
    assert answer.body["error"]["code"] == "Forbidden"
    assert set(answer.body["error"]["innerError"]) == {
        "date",
        "request-id",
        "client-request-id",
    }
    assert receiver.received == []
    assert (await GraphClient(session, token).get("/subscriptions")).status == 403


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"changeType": "created"}, 400),
        ({"resource": "/me/presence"}, 400),
        (
            {
                "resource": "communications/presences/"
                + "0" * 8
                + "-0000" * 3
                + "-"
                + "0" * 12
            },
            404,
        ),
        ({"clientState": "x" * 129}, 400),
        ({"notificationUrl": "http://webhook.example/api"}, 400),
        ({"lifecycleNotificationUrl": "ftp://127.0.0.1/api"}, 400),
        ({"notificationUrl": None}, 400),
        ({"expirationDateTime": "2025-06-02T09:30:00"}, 400),
        ({"includeResourceData": True}, 400),
        (
            {
                "includeResourceData": True,
                "encryptionCertificate": "bm90IGEgY2VydGlmaWNhdGU=",
                "encryptionCertificateId": "mine",
            },
            400,
        ),
    ],
)
async def test_create_refuses_what_graph_refuses(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    changes: dict[str, Any],
    status: int,
) -> None:
    answer = await subscribe(watcher, emulator, clock, receiver, **changes)
    assert answer.status == status
    assert emulator.subscriptions.all() == []


async def test_https_notification_urls_are_taken(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    """A public https URL works; the transport stands in for the internet here."""
    posted: list[Post] = []

    async def internet(post: Post) -> Reply:
        posted.append(post)
        token = URL(post.url).query["validationToken"]
        return Reply(200, "text/plain", token)

    emulator.subscriptions.delivery.transport = internet
    answer = await subscribe(
        watcher,
        emulator,
        clock,
        receiver,
        notificationUrl="https://ha.example/api/webhook/abc",
        lifecycleNotificationUrl=None,
    )
    assert answer.status == 201
    assert [post.url.split("?")[0] for post in posted] == [
        "https://ha.example/api/webhook/abc"
    ]


@pytest.mark.parametrize(
    ("validation_answer", "answer_after", "message"),
    [
        ("not the token", 0.0, "must exactly match validationToken"),
        (None, 0.5, "timed out"),
    ],
)
async def test_a_failed_handshake_fails_the_creation(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    validation_answer: str | None,
    answer_after: float,
    message: str,
) -> None:
    receiver.validation_answer = validation_answer
    receiver.answer_after = answer_after
    emulator.subscriptions.delivery.validation_timeout = 0.2  # Graph waits 10 s
    answer = await subscribe(watcher, emulator, clock, receiver)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert message in answer.body["error"]["message"]
    assert emulator.subscriptions.all() == []


async def test_an_unreachable_url_fails_the_creation(
    watcher: GraphClient, emulator: GraphEmulator, clock: FakeClock
) -> None:
    async with webhook_receiver() as gone:
        url = gone.url
    answer = await watcher.post(
        "/subscriptions", subscription_body(emulator, clock, url)
    )
    assert answer.status == 400
    assert "must respond with 200 OK" in answer.body["error"]["message"]


async def test_one_subscription_per_user_and_app(
    watcher: GraphClient,
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    assert (await subscribe(watcher, emulator, clock, receiver)).status == 201
    second = await subscribe(watcher, emulator, clock, receiver)
    assert second.status == 409
    assert "A subscripton already exists" in second.body["error"]["message"]
    other_app = emulator.add_app(client_id="22222222-2222-2222-2222-222222222222")
    other = GraphClient(
        session, emulator.issue_token(scopes=("Presence.Read.All",), app=other_app)
    )
    assert (await subscribe(other, emulator, clock, receiver)).status == 201
    listed = (await watcher.get("/subscriptions")).body["value"]
    assert [item["applicationId"] for item in listed] == [
        emulator.default_app.client_id
    ]


async def test_every_change_is_notified(
    watcher: GraphClient,
    graph: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    created = (await subscribe(watcher, emulator, clock, receiver)).body
    await change(emulator, "Busy", "InACall")
    # A change through Graph itself is noticed as the request is answered.
    app = emulator.default_app.client_id
    await graph.post(
        "/me/presence/setUserPreferredPresence",
        {"availability": "DoNotDisturb", "activity": "DoNotDisturb"},
    )
    await emulator.subscriptions.settle()
    # Nothing changed: nothing to say.
    await graph.post(
        "/me/presence/setPresence",
        {"sessionId": app, "availability": "Away", "activity": "Away"},
    )
    await emulator.subscriptions.settle()
    user = emulator.default_user
    expected = {
        "value": [
            {
                "subscriptionId": created["id"],
                "subscriptionExpirationDateTime": created["expirationDateTime"],
                "tenantId": user.tenant_id,
                "clientState": CLIENT_STATE,
                "changeType": "updated",
                "resource": f"communications/presences/{user.id}",
                "resourceData": {
                    "@odata.id": f"users/{user.id}/presence",
                    "@odata.type": "#microsoft.graph.presence",
                    "id": user.id,
                },
                "organizationId": user.tenant_id,
            }
        ]
    }
    assert receiver.notifications == [expected, expected]
    assert {entry.content_type for entry in receiver.received[2:]} == {
        "application/json"
    }


async def test_presence_that_fades_with_time_is_notified(
    watcher: GraphClient,
    graph: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
) -> None:
    await graph.post(
        "/me/presence/setPresence",
        {
            "sessionId": emulator.default_app.client_id,
            "availability": "Available",
            "activity": "Available",
            "expirationDuration": "PT1H",
        },
    )
    await subscribe(watcher, emulator, clock, receiver, **rich(certificate))
    clock.advance(minutes=5)
    await emulator.subscriptions.settle()
    [notification] = receiver.notifications
    assert decrypted(notification, certificate)["activity"] == "AvailableInactive"


async def test_rich_notifications_carry_the_presence_encrypted_and_signed_tokens(
    watcher: GraphClient,
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
) -> None:
    created = await subscribe(watcher, emulator, clock, receiver, **rich(certificate))
    assert created.body["includeResourceData"] is True
    assert created.body["encryptionCertificateId"] == certificate.id
    await change(emulator, "Busy", "InAMeeting")
    [notification] = receiver.notifications
    [item] = notification["value"]
    assert item["encryptedContent"]["encryptionCertificateThumbprint"] == (
        certificate.thumbprint
    )
    user = emulator.default_user
    assert decrypted(notification, certificate) == {
        "@odata.id": f"users/{user.id}/presence",
        "@odata.type": "#microsoft.graph.presence",
        "id": user.id,
        "availability": "Busy",
        "activity": "InAMeeting",
    }
    [token] = notification["validationTokens"]
    async with session.get("/common/discovery/v2.0/keys") as response:
        keys = jwt.PyJWKSet.from_dict(await response.json())
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=emulator.default_app.client_id,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    issued = int(clock.now.timestamp())
    assert claims | {"uti": "?"} == {
        "aud": emulator.default_app.client_id,
        "iss": f"https://sts.windows.net/{user.tenant_id}/",
        "iat": issued,
        "nbf": issued,
        "exp": issued + 8 * 3600,
        "appid": PUBLISHER_APP_ID,
        "appidacr": "2",
        "idp": f"https://sts.windows.net/{user.tenant_id}/",
        "tid": user.tenant_id,
        "uti": "?",
        "ver": "1.0",
    }


async def test_renew_move_and_delete(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    path = f"/subscriptions/{subscription_id}"
    clock.advance(minutes=30)
    renewed = await renew(watcher, clock, subscription_id)
    assert renewed.status == 200
    assert renewed.body["expirationDateTime"] == graph_time(
        clock.now + timedelta(minutes=59)
    )
    refused = await watcher.request(
        "PATCH", path, {"lifecycleNotificationUrl": receiver.url}
    )
    assert refused.status == 400
    async with webhook_receiver() as moved:
        answer = await watcher.request("PATCH", path, {"notificationUrl": moved.url})
        assert answer.status == 200
        assert len(moved.validations) == 1
        await change(emulator, "Away", "Away")
        assert len(moved.notifications) == 1
    assert receiver.notifications == []
    assert (await watcher.get(path)).body["notificationUrl"] == moved.url
    deleted = await watcher.request("DELETE", path)
    assert (deleted.status, deleted.body) == (204, None)
    for method in ("GET", "PATCH", "DELETE"):
        gone = await watcher.request(method, path, {})
        assert gone.status == 404
        assert gone.body["error"]["code"] == "ResourceNotFound"


async def test_a_subscription_ends_at_its_expiry(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    clock.advance(minutes=59)
    await change(emulator, "Busy", "InACall")
    assert receiver.notifications == []
    assert (await watcher.get("/subscriptions")).body["value"] == []
    renewal = await renew(watcher, clock, subscription_id)
    assert renewal.status == 404
    # Expired, it no longer counts against the one-per-user rule.
    assert (await subscribe(watcher, emulator, clock, receiver)).status == 201


async def test_other_users_cannot_see_or_touch_a_subscription(
    watcher: GraphClient,
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    colleague = emulator.add_user(
        display_name="Alex Wilber", upn="alexw@contoso.example"
    )
    other = GraphClient(
        session, emulator.issue_token(colleague, scopes=("Presence.Read.All",))
    )
    assert (await other.get("/subscriptions")).body["value"] == []
    assert (
        await other.request("DELETE", f"/subscriptions/{subscription_id}")
    ).status == 404
    # Presence.Read.All reads anyone's presence: a colleague may subscribe to Adele's.
    assert (await subscribe(other, emulator, clock, receiver)).status == 201


async def test_graph_faults_apply_to_subscription_requests(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    emulator.fail(1)
    emulator.throttle(1, retry_after=30)
    assert (await subscribe(watcher, emulator, clock, receiver)).status == 500
    throttled = await subscribe(watcher, emulator, clock, receiver)
    assert (throttled.status, throttled.headers["Retry-After"]) == (429, "30")
    assert (await subscribe(watcher, emulator, clock, receiver)).status == 201


async def test_an_outage_of_subscriptions_alone(
    watcher: GraphClient,
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    emulator.subscriptions.outage = 503
    refused = await renew(watcher, clock, subscription_id)
    assert (refused.status, refused.body["error"]["code"]) == (
        503,
        "ServiceUnavailable",
    )
    assert (await subscribe(watcher, emulator, clock, receiver)).status == 503
    reader = GraphClient(session, emulator.issue_token())
    assert (await reader.get("/me/presence")).status == 200
    emulator.subscriptions.outage = None
    assert (await renew(watcher, clock, subscription_id)).status == 200


# Delivery faults


async def test_delivery_delay(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    await subscribe(watcher, emulator, clock, receiver)
    emulator.subscriptions.delivery.delay = 0.3
    emulator.subscriptions.delivery.delay_next(1, 0.2)
    started = time.perf_counter()
    emulator.set_client_session("teams", "Busy", "InACall")
    emulator.set_client_session("teams", "Away", "Away")
    await receiver.wait_for_notifications(1)
    first = time.perf_counter() - started
    await receiver.wait_for_notifications(2)
    second = time.perf_counter() - started
    # The second waits only its own delay, but never overtakes the first.
    assert 0.5 <= first < second < first + 0.2


async def test_dropped_and_duplicated_notifications(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    await subscribe(watcher, emulator, clock, receiver)
    emulator.subscriptions.delivery.drop(1)
    emulator.subscriptions.delivery.duplicate(1)
    await change(emulator, "Busy", "InACall")
    assert receiver.notifications == []
    await change(emulator, "Away", "Away")
    first, second = receiver.notifications
    assert first == second


async def test_overtaken_notifications_arrive_out_of_order(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    certificate: NotificationCertificate,
) -> None:
    await subscribe(watcher, emulator, clock, receiver, **rich(certificate))
    emulator.subscriptions.delivery.overtake(1)
    await change(emulator, "Busy", "InACall")
    assert receiver.notifications == []  # waits for one to overtake it
    await change(emulator, "Away", "Away")
    await change(emulator, "DoNotDisturb", "Presenting")
    assert [
        decrypted(notification, certificate)["activity"]
        for notification in receiver.notifications
    ] == ["Away", "InACall", "Presenting"]


async def test_silent_subscriptions_notify_nothing(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    emulator.subscriptions.silent = True
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    await change(emulator, "Busy", "InACall")
    renewal = await renew(watcher, clock, subscription_id)
    assert renewal.status == 200
    assert receiver.notifications == []
    emulator.subscriptions.silent = False
    await change(emulator, "Away", "Away")
    assert len(receiver.notifications) == 1


async def test_unacknowledged_notifications_are_retried(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    delivery = emulator.subscriptions.delivery
    receiver.status = 500
    await change(emulator, "Busy", "InACall")
    receiver.status = 202
    delivery.acknowledge_timeout = 0.1  # Graph waits 3 s
    receiver.answer_after = 0.3
    clock.advance(minutes=1)
    await delivery.settle()
    receiver.answer_after = 0
    clock.advance(minutes=1)
    await delivery.settle()
    assert len(receiver.notifications) == 2  # not yet: the next try is 2 minutes on
    clock.advance(minutes=1)
    await delivery.settle()
    assert [entry.status for entry in delivery.sent[2:]] == [500, 0, 202]
    assert len(set(map(json.dumps, receiver.notifications))) == 1
    # Retries stop 4 hours after the first try.
    receiver.status = 503
    await change(emulator, "Away", "Away")
    for minute in range(5 * 60):
        if minute % 30 == 0:
            await renew(watcher, clock, subscription_id)
        clock.advance(minutes=1)
        await delivery.settle()
    # Tries 1, 2, 4, ... 128 minutes apart; the next, 255 minutes on, is too late.
    assert len(receiver.notifications) == 3 + 8


async def test_slow_answers_get_an_endpoint_delayed_then_dropped(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    delivery = emulator.subscriptions.delivery
    delivery.slow_answer = 0.02  # Graph counts answers over 2.9 s as slow
    receiver.answer_after = 0.05
    states = ("Busy", "InACall"), ("Away", "Away")
    for index in range(10):
        await change(emulator, *states[index % 2])
    assert len(receiver.notifications) == 10
    assert delivery.state(receiver.url) is EndpointState.DELAYED
    for index in range(5):
        await change(emulator, *states[index % 2])
    assert len(receiver.notifications) == 10
    clock.advance(minutes=10)
    await delivery.settle()
    assert len(receiver.notifications) == 15
    assert delivery.state(receiver.url) is EndpointState.DROPPED
    await change(emulator, "DoNotDisturb", "Presenting")
    clock.advance(minutes=10)
    await delivery.settle()
    assert len(receiver.notifications) == 15
    # An hour on, the slow answers no longer count.
    await renew(watcher, clock, subscription_id)
    clock.advance(minutes=50)
    receiver.answer_after = 0
    await change(emulator, "Busy", "InACall")
    assert len(receiver.notifications) == 16
    assert delivery.state(receiver.url) is EndpointState.HEALTHY


@pytest.mark.parametrize("answer", ["reauthorize", "renew"])
async def test_reauthorization_required_pauses_until_answered(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    answer: str,
) -> None:
    created = (await subscribe(watcher, emulator, clock, receiver)).body
    path = f"/subscriptions/{created['id']}"
    emulator.subscriptions.require_reauthorization(grace=timedelta(minutes=1))
    await change(emulator, "Busy", "InACall")  # within the grace: still notified
    clock.advance(minutes=1)
    await change(emulator, "Away", "Away")  # paused: lost
    challenge, notified = receiver.notifications
    assert challenge == {
        "value": [
            {
                "subscriptionId": created["id"],
                "subscriptionExpirationDateTime": created["expirationDateTime"],
                "tenantId": emulator.default_user.tenant_id,
                "clientState": CLIENT_STATE,
                "lifecycleEvent": "reauthorizationRequired",
            }
        ]
    }
    assert "resourceData" in notified["value"][0]
    if answer == "reauthorize":
        reply = await watcher.post(f"{path}/reauthorize")
        assert (reply.status, reply.body) == (204, None)
    else:
        reply = await renew(watcher, clock, created["id"])
        assert reply.status == 200
    await change(emulator, "DoNotDisturb", "Presenting")
    assert len(receiver.notifications) == 3


async def test_no_lifecycle_url_no_challenge(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    await subscribe(watcher, emulator, clock, receiver, lifecycleNotificationUrl=None)
    [subscription] = emulator.subscriptions.all()
    emulator.subscriptions.require_reauthorization(subscription)
    await change(emulator, "Busy", "InACall")
    assert receiver.notifications == []
    assert len(receiver.validations) == 1


async def test_retries_outlive_the_subscription(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    """Graph does not say it drops a retry when its subscription ends: it may not."""
    subscription_id = (await subscribe(watcher, emulator, clock, receiver)).body["id"]
    receiver.status = 503
    await change(emulator, "Busy", "InACall")
    deleted = await watcher.request("DELETE", f"/subscriptions/{subscription_id}")
    assert deleted.status == 204
    receiver.status = 202
    await change(emulator, "Away", "Away")  # after the end: never notified
    clock.advance(minutes=1)
    await emulator.subscriptions.settle()
    retried, first = receiver.notifications
    assert retried == first
    assert retried["value"][0]["subscriptionId"] == subscription_id
    assert [entry.status for entry in emulator.subscriptions.delivery.sent[2:]] == [
        503,
        202,
    ]


async def test_a_notified_change_has_a_sequence_number_of_its_own(
    watcher: GraphClient,
    graph: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    """A read after a change and its undoing is a newer version than the one before."""
    await subscribe(watcher, emulator, clock, receiver)
    before = (await graph.get("/me/presence")).body
    await change(emulator, "Busy", "InACall")
    await change(emulator, before["availability"], before["activity"])
    after = (await graph.get("/me/presence")).body
    assert len(receiver.notifications) == 2
    assert (after["availability"], after["activity"]) == (
        before["availability"],
        before["activity"],
    )
    assert after["sequenceNumber"] > before["sequenceNumber"]
