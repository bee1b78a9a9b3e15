"""One presence subscription for up to 650 people: Graph's rules for the bulk form.

"Get change notifications for presence updates": the resource
`communications/presences?$filter=id in ('{id}', '{id}', ...)` takes at most 650
user ids, needs delegated `Presence.Read.All` like the single form, and counts as
the user's one presence subscription for the app; each person's change is an item
naming them; "Update subscription" changes no resource.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import json
from typing import Any
import uuid

import aiohttp
import pytest

from custom_components.teams_presence_keeper.graph import NotificationCertificate
from custom_components.teams_presence_keeper.graph.encryption import EncryptedContent
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from graph_emulator.subscriptions import graph_time
from tests.colleagues import add_colleagues, everyone
from tests.contract.shape import documented, shape_differences
from tests.webhook_receiver import WebhookReceiver, webhook_receiver

from .conftest import Answer, FakeClock, GraphClient

CLIENT_STATE = "a-secret-only-graph-and-we-know"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def watcher(session: aiohttp.ClientSession, emulator: GraphEmulator) -> GraphClient:
    return GraphClient(
        session,
        emulator.issue_token(scopes=("Presence.Read.All",), lifetime=timedelta(days=1)),
    )


@pytest.fixture(scope="module")
def certificate() -> NotificationCertificate:
    return NotificationCertificate.generate()


@pytest.fixture
def colleagues(emulator: GraphEmulator) -> list[User]:
    return add_colleagues(emulator)


def bulk(ids: list[str]) -> str:
    return (
        "communications/presences?$filter=id in ("
        + ", ".join(f"'{user_id}'" for user_id in ids)
        + ")"
    )


async def subscribe(
    watcher: GraphClient,
    clock: FakeClock,
    receiver: WebhookReceiver,
    resource: str,
    **changes: Any,
) -> Answer:
    body = {
        "changeType": "updated",
        "notificationUrl": receiver.url,
        "resource": resource,
        "expirationDateTime": graph_time(clock.now + timedelta(minutes=59)),
        "clientState": CLIENT_STATE,
    }
    return await watcher.post("/subscriptions", body | changes)


async def test_each_person_s_change_is_an_item_naming_them(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    colleagues: list[User],
) -> None:
    resource = bulk(everyone(emulator, colleagues))
    created = await subscribe(watcher, clock, receiver, resource)
    assert (created.status, created.body["resource"]) == (201, resource)
    megan, lee = colleagues
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    emulator.set_client_session("teams", "Away", "Away", user=lee)
    await emulator.subscriptions.settle()
    items = [item for body in receiver.notifications for item in body["value"]]
    assert [item["resourceData"]["id"] for item in items] == [megan.id, lee.id]
    assert all(item["resource"] == resource for item in items)
    assert all("encryptedContent" not in item for item in items)  # basic

    emulator.remove_user(lee)
    emulator.set_client_session("teams", "Busy", "InACall", user=lee)
    emulator.set_client_session("teams", "Away", "Away", user=megan)
    await emulator.subscriptions.settle()
    assert [i["resourceData"]["id"] for i in receiver.notifications[-1]["value"]] == [
        megan.id
    ]


async def test_rich_notifications_carry_each_person_s_presence(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    colleagues: list[User],
    certificate: NotificationCertificate,
) -> None:
    await subscribe(
        watcher,
        clock,
        receiver,
        bulk(everyone(emulator, colleagues)),
        includeResourceData=True,
        encryptionCertificate=certificate.public_base64,
        encryptionCertificateId=certificate.id,
    )
    megan, lee = colleagues
    # Both change before Graph looks: one body carries both, as Graph batches.
    megan.presence.client_sessions["teams"] = ("Busy", "InACall")
    lee.presence.client_sessions["teams"] = ("DoNotDisturb", "Presenting")
    await emulator.subscriptions.settle()
    [notification] = receiver.notifications
    assert len(notification["validationTokens"]) == 1
    documented_item = documented("graph/presence_notification_rich.json")["value"][0]
    decrypted = []
    for item in notification["value"]:
        assert shape_differences(item, documented_item) == []
        content = EncryptedContent.from_graph(item["encryptedContent"])
        decrypted.append(json.loads(certificate.decrypt(content)))
    assert [(d["id"], d["availability"], d["activity"]) for d in decrypted] == [
        (megan.id, "Busy", "InACall"),
        (lee.id, "DoNotDisturb", "Presenting"),
    ]


@pytest.mark.parametrize(
    ("resource", "status"),
    [
        (lambda ids: bulk([*ids, *(str(uuid.uuid4()) for _ in range(647))]), 404),
        (lambda ids: bulk([str(uuid.uuid4()) for _ in range(651)]), 400),
        (lambda ids: bulk([*ids, "meganb@contoso.example"]), 400),
        (lambda ids: bulk([*ids, str(uuid.uuid4())]), 404),
        (lambda ids: "communications/presences?$filter=id eq '" + ids[0] + "'", 400),
        (lambda ids: "communications/presences", 400),
    ],
)
async def test_bulk_resource_refusals(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    colleagues: list[User],
    resource: Any,
    status: int,
) -> None:
    """651 ids are too many; an id of nobody in the tenant is 404, as for one user."""
    answer = await subscribe(
        watcher, clock, receiver, resource(everyone(emulator, colleagues))
    )
    assert answer.status == status
    assert emulator.subscriptions.all() == []


async def test_650_ids_are_taken(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
) -> None:
    ids = [emulator.default_user.id] + [
        emulator.add_user(display_name=f"P {n}", upn=f"p{n}@contoso.example").id
        for n in range(649)
    ]
    answer = await subscribe(watcher, clock, receiver, bulk(ids))
    assert answer.status == 201


@pytest.mark.parametrize(
    ("scopes", "app_only"),
    [(("Presence.Read", "Presence.ReadWrite"), False), ((), True)],
)
async def test_bulk_needs_delegated_presence_read_all(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    colleagues: list[User],
    scopes: tuple[str, ...],
    app_only: bool,
) -> None:
    token = (
        emulator.issue_app_token(roles=("Presence.Read.All", "Presence.ReadWrite.All"))
        if app_only
        else emulator.issue_token(scopes=scopes)
    )
    answer = await subscribe(
        GraphClient(session, token),
        clock,
        receiver,
        bulk(everyone(emulator, colleagues)),
    )
    assert (answer.status, answer.body["error"]["code"]) == (403, "Forbidden")


async def test_a_bulk_subscription_is_the_user_s_one_and_its_resource_stays(
    watcher: GraphClient,
    emulator: GraphEmulator,
    clock: FakeClock,
    receiver: WebhookReceiver,
    colleagues: list[User],
) -> None:
    created = await subscribe(
        watcher, clock, receiver, bulk(everyone(emulator, colleagues))
    )
    single = f"communications/presences/{emulator.default_user.id}"
    assert (await subscribe(watcher, clock, receiver, single)).status == 409
    assert (
        await subscribe(watcher, clock, receiver, bulk([colleagues[0].id]))
    ).status == 409
    patched = await watcher.request(
        "PATCH",
        f"/subscriptions/{created.body['id']}",
        {"resource": bulk([colleagues[0].id])},
    )
    assert (patched.status, patched.body["error"]["code"]) == (400, "InvalidRequest")
    assert "resource" in patched.body["error"]["message"]
