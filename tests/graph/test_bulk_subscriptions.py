"""One subscription for several people, from the client's side, over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
import uuid

from aiohttp import ClientSession
import pytest

from custom_components.teams_presence_keeper.graph import (
    Activity,
    Availability,
    GraphSubscriptionClient,
    GraphValidationError,
    NotificationCertificate,
    NotificationReceiver,
    PresenceChange,
    SigningKeys,
    Subscription,
    SubscriptionConflictError,
    presences_resource,
    signing_keys_url,
)
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.colleagues import add_colleagues, everyone
from tests.contract.shape import documented
from tests.webhook_receiver import WebhookReceiver, webhook_receiver

CLIENT_STATE = "client-state-of-the-bulk-tests-0123456789"
A, B = (str(uuid.UUID(int=n)) for n in (1, 2))


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


@pytest.fixture
def client(emulator: GraphEmulator, http: ClientSession) -> GraphSubscriptionClient:
    token = emulator.issue_token(scopes=("Presence.Read.All",))

    async def token_provider() -> str:
        return token

    return GraphSubscriptionClient(http, token_provider, base_url=emulator.graph_url)


@pytest.fixture
def colleagues(emulator: GraphEmulator) -> list[User]:
    return add_colleagues(emulator)


@pytest.mark.parametrize(
    ("ids", "resource"),
    [
        ([A], f"communications/presences?$filter=id in ('{A}')"),
        ([A, B, A.upper()], f"communications/presences?$filter=id in ('{A}', '{B}')"),
    ],
)
def test_the_bulk_resource_is_written_as_graph_documents(
    ids: list[str], resource: str
) -> None:
    assert presences_resource(ids) == resource
    template = documented("graph/presence_subscription_bulk_request.json")["resource"]
    assert template.lstrip("/").startswith("communications/presences?$filter=id in ('")
    assert "', '" in template  # the separator the client writes


@pytest.mark.parametrize(
    "ids",
    [[], [str(uuid.UUID(int=n)) for n in range(651)], [A, "x'); drop ('"], ["me"]],
)
def test_a_bulk_resource_graph_would_refuse_is_refused(ids: list[str]) -> None:
    with pytest.raises(GraphValidationError):
        presences_resource(ids)


def subscription_to(resource: str) -> Subscription:
    return Subscription.from_graph(
        {
            "id": "s",
            "resource": resource,
            "changeType": "updated",
            "notificationUrl": "https://example.com/hook",
            "expirationDateTime": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
        }
    )


@pytest.mark.parametrize(
    ("resource", "ids"),
    [
        (f"communications/presences/{A.upper()}", {A}),
        (f"/communications/presences/{A}", {A}),
        (f"communications/presences?$filter=id in ('{A}', '{B}')", {A, B}),
        (f"/communications/presences?$filter=id in ('{A}','{B.upper()}')", {A, B}),
        (f"communications/presences?$filter=id  in  ( '{A}' )", {A}),
        (f"communications/presences?$filter=id in ('{A}', {B})", set()),
        ("me/events", set()),
    ],
)
def test_which_people_a_subscription_carries(resource: str, ids: set[str]) -> None:
    assert subscription_to(resource).presence_ids == ids


async def test_create_bulk_and_receive_each_person_s_rich_change(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    colleagues: list[User],
    certificate: NotificationCertificate,
    http: ClientSession,
) -> None:
    ids = everyone(emulator, colleagues)
    created = await client.create_presences_subscription(
        ids,
        receiver.url,
        client_state=CLIENT_STATE,
        lifecycle_notification_url=receiver.url,
        certificate=certificate,
    )
    [sent] = [r for r in emulator.graph_calls("subscriptions") if r.method == "POST"]
    assert set(sent.body) == set(
        documented("graph/presence_subscription_bulk_request.json")
    )
    assert sent.body["resource"] == presences_resource(ids)
    assert created.presence_ids == {i.lower() for i in ids}

    megan, lee = colleagues
    megan.presence.client_sessions["teams"] = ("Busy", "InACall")
    lee.presence.client_sessions["teams"] = ("Away", "Away")
    await emulator.subscriptions.settle()
    [body] = [received.body for received in receiver.received if not received.query]
    changes = await NotificationReceiver(
        client_id=emulator.default_app.client_id,
        tenant_id=emulator.default_tenant_id,
        signing_keys=SigningKeys(http, signing_keys_url(emulator.graph_url)),
    ).receive(body, client_state=CLIENT_STATE, certificates=[certificate])
    assert all(isinstance(change, PresenceChange) for change in changes)
    assert [
        (c.user_id, c.presence.availability, c.presence.activity)
        for c in changes
        if isinstance(c, PresenceChange) and c.presence is not None
    ] == [
        (megan.id, Availability.BUSY, Activity.IN_A_CALL),
        (lee.id, Availability.AWAY, Activity.AWAY),
    ]


async def test_a_new_set_of_people_is_a_new_subscription(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    colleagues: list[User],
) -> None:
    """Graph keeps one presence subscription per user and app: delete, then create."""
    me = emulator.default_user.id
    first = await client.create_presence_subscription(
        me, receiver.url, client_state=CLIENT_STATE
    )
    with pytest.raises(SubscriptionConflictError):
        await client.create_presences_subscription(
            everyone(emulator, colleagues), receiver.url, client_state=CLIENT_STATE
        )
    assert await client.find_presence_subscription(colleagues[0].id) is None
    assert await client.find_any_presence_subscription() == first
    second = await client.resubscribe(first, everyone(emulator, colleagues))
    methods = [r.method for r in emulator.requests if "/subscriptions" in r.path]
    assert methods[-2:] == ["DELETE", "POST"]
    assert await client.find_any_presence_subscription() == second
    assert second.presence_ids == {i.lower() for i in everyone(emulator, colleagues)}

    emulator.subscriptions.all()[0].expires_at = datetime.now(UTC)  # gone meanwhile
    third = await client.resubscribe(second, [me, colleagues[0].id])
    assert third.presence_ids == {me, colleagues[0].id}
    assert (third.notification_url, third.client_state) == (receiver.url, CLIENT_STATE)


@pytest.mark.parametrize("people", [0, 1, 2], ids=["alone", "one person", "two"])
async def test_subscribing_replaces_a_stale_bulk_subscription(
    client: GraphSubscriptionClient,
    emulator: GraphEmulator,
    receiver: WebhookReceiver,
    colleagues: list[User],
    certificate: NotificationCertificate,
    people: int,
) -> None:
    """409 from a bulk one left behind (a crash while following others): replaced.

    The account alone is subscribed to as one user; with people, the bulk form
    names the account first.
    """
    me = emulator.default_user.id
    stale = await client.create_presences_subscription(
        [me, colleagues[1].id], receiver.url, client_state="someone-else-s-state"
    )
    followed = [colleague.id for colleague in colleagues[:people]]

    created = await client.subscribe_to_presence(
        me,
        receiver.url,
        client_state=CLIENT_STATE,
        certificate=certificate,
        people=followed,
    )

    assert created.presence_ids == {me, *followed}
    assert created.resource == (
        presences_resource([me, *followed])
        if followed
        else f"communications/presences/{me}"
    )
    [held] = emulator.subscriptions.all()
    assert (held.id, held.resource) == (created.id, created.resource)
    assert stale.id != created.id
    methods = [r.method for r in emulator.requests if "/subscriptions" in r.path]
    assert methods[1:] == ["POST", "GET", "DELETE", "POST"]
