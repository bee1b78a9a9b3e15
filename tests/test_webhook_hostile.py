"""The webhook under fire: whatever a stranger posts is answered, counted and dropped.

The webhook's address travels through proxies, tunnels and logs. Every body here
goes through Home Assistant's real webhook view (``hass_client_no_auth``) or, for a
cloudhook, through the cloud component's own relay handler, as in ``test_push.py``;
Graph is the emulator. Nothing may raise (Home Assistant would log a traceback that
names the webhook id, and answer 200), nothing forged may reach a sensor, and every
answer must come well within Graph's 3 seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
import logging
from typing import Any

from aiohttp import ClientResponse
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.teams_presence.push_intake import (
    MAX_BODY_BYTES,
    MAX_RECEIVING,
    MAX_WAITING,
)
from graph_emulator import GraphEmulator
from graph_emulator.delivery import Post
from tests.cloud import CloudRelay
from tests.common import PRESENCE, state_of
from tests.test_push import (
    cloud,
    cloud_connected,
    external_url,
    granted_scopes,
    options,
    presence_reads,
    push_entry,
    push_of,
    rich_refused,
    settle,
    with_cloud,
)

__all__ = [
    "cloud",
    "cloud_connected",
    "external_url",
    "granted_scopes",
    "options",
    "push_entry",
    "rich_refused",
    "with_cloud",
]

DEPTH = 100_000
"""Far deeper than Python recurses (about 1,000 frames)."""
SURROGATE = "\ud800"
"""A lone surrogate: valid in JSON (``"\\ud800"``), not encodable in UTF-8."""
OVERSIZED = 17 * 1024 * 1024
"""Above Home Assistant's own limit for a request it reads whole (16 MiB)."""


def loud_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records a user would see (warnings and up) or that carry a traceback."""
    return [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING or record.exc_info
    ]


def assert_quiet(caplog: pytest.LogCaptureFixture, webhook_id: str) -> None:
    """No traceback, no error, and no line above debug names the webhook.

    The web server's access log names every request's URL, as for any webhook.
    """
    assert loud_records(caplog) == []
    assert [
        record.getMessage()
        for record in caplog.records
        if record.levelno > logging.DEBUG
        and record.name != "aiohttp.access"
        and webhook_id in record.getMessage()
    ] == []


async def post(
    hass_client_no_auth: ClientSessionGenerator,
    webhook_id: str,
    body: Any,
    **kwargs: Any,
) -> ClientResponse:
    client = await hass_client_no_auth()
    return await client.post(f"/api/webhook/{webhook_id}", data=body, **kwargs)


async def test_a_body_nested_beyond_recursion_is_counted(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    push = push_of(push_entry)
    response = await post(hass_client_no_auth, push.webhook_id, b"[" * DEPTH)
    assert response.status == 202
    await settle(hass, emulator)
    assert push.counts == {"rejected_malformed": 1}
    assert_quiet(caplog, push.webhook_id)


async def test_a_lone_surrogate_client_state_is_counted(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    push = push_of(push_entry)
    item = {
        "subscriptionId": push.subscription["id"],
        "clientState": SURROGATE,
        "resourceData": {"id": emulator.default_user.id},
    }
    body = json.dumps({"value": [item]})
    response = await post(hass_client_no_auth, push.webhook_id, body)
    assert response.status == 202
    await settle(hass, emulator)
    assert push.counts == {"rejected_client_state": 1}
    assert_quiet(caplog, push.webhook_id)


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("external_url", [None])
async def test_a_lone_surrogate_validation_token_through_the_cloud_is_counted(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only a cloudhook's relay can pass one: aiohttp refuses such a URL itself."""
    push = push_of(push_entry)
    [subscription] = emulator.subscriptions.all()
    url = f"{subscription.notification_url}?validationToken={SURROGATE}"
    answer = await cloud.deliver(Post(url, b"", "text/plain"))
    assert answer.status == 202
    await settle(hass, emulator)
    assert push.counts == {"rejected_malformed": 1}
    assert_quiet(caplog, push.webhook_id)


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("external_url", [None])
async def test_a_notification_through_the_cloud_relay_is_applied(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cloud component hands the webhook a MockRequest, which has no read()."""
    push = push_of(push_entry)
    emulator.subscriptions.delivery.transport = cloud.deliver
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert [sent.status for sent in emulator.subscriptions.delivery.sent][-1] == 202
    assert state_of(hass, PRESENCE) == "busy"
    assert push.counts["accepted"] == 1
    # A body over the limit is refused there too.
    [subscription] = emulator.subscriptions.all()
    answer = await cloud.deliver(
        Post(subscription.notification_url, b" " * (MAX_BODY_BYTES + 1), "text/plain")
    )
    assert answer.status == 413
    assert_quiet(caplog, push.webhook_id)


async def chunks(size: int) -> AsyncIterator[bytes]:
    """A body sent chunked (no Content-Length), 64 KiB at a time."""
    piece = b" " * 65536
    for _ in range(size // len(piece)):
        yield piece


@pytest.mark.parametrize(
    "body",
    [lambda: b" " * OVERSIZED, lambda: chunks(OVERSIZED)],
    ids=["content_length", "chunked"],
)
async def test_an_oversized_body_is_refused_unread(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    body: Any,
) -> None:
    push = push_of(push_entry)
    response = await post(hass_client_no_auth, push.webhook_id, body())
    assert response.status == 413
    await settle(hass, emulator)
    assert push.counts == {"refused_too_large": 1}
    assert_quiet(caplog, push.webhook_id)
    # Up to the limit, a body is read (and this one is no notification).
    response = await post(hass_client_no_auth, push.webhook_id, b" " * MAX_BODY_BYTES)
    assert response.status == 202
    await settle(hass, emulator)
    assert push.counts == {"refused_too_large": 1, "rejected_malformed": 1}


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans (start, end) open at one moment."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = open_now = 0
    for _, change in events:
        open_now += change
        peak = max(peak, open_now)
    return peak


async def test_a_flood_is_bounded_and_the_excess_counted(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Replays of a genuine lifecycle notification each cost a Graph request."""
    push = push_of(push_entry)
    emulator.subscriptions.require_reauthorization()
    await settle(hass, emulator)
    replayed = json.dumps(emulator.subscriptions.delivery.sent[-1].body)
    before = len(emulator.graph_calls("reauthorize"))
    flood = 3 * (MAX_RECEIVING + MAX_WAITING)
    emulator.delay(flood, 0.2)
    answers = await asyncio.gather(
        *(
            post(hass_client_no_auth, push.webhook_id, replayed)
            for _ in range(flood)
        )
    )
    assert {response.status for response in answers} == {202}
    await settle(hass, emulator)

    calls = emulator.graph_calls("reauthorize")[before:]
    assert len(calls) == MAX_RECEIVING + MAX_WAITING
    spans = [(call.received, call.answered or call.received) for call in calls]
    assert peak_overlap(spans) <= MAX_RECEIVING
    assert push.counts["dropped_busy"] == flood - MAX_RECEIVING - MAX_WAITING
    assert_quiet(caplog, push.webhook_id)


async def test_a_flood_of_junk_is_answered_and_counted(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    push = push_of(push_entry)
    reads = presence_reads(emulator)
    flood = 200
    answers = await asyncio.gather(
        *(post(hass_client_no_auth, push.webhook_id, b"junk") for _ in range(flood))
    )
    assert {response.status for response in answers} == {202}
    await settle(hass, emulator)
    assert push.counts["rejected_malformed"] + push.counts["dropped_busy"] == flood
    assert presence_reads(emulator) == reads
    assert_quiet(caplog, push.webhook_id)


async def test_unchecked_tokens_are_read_at_once(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Entra's signing keys answer 503: the change is read, not left for 15 minutes."""
    push = push_of(push_entry)
    reads = presence_reads(emulator)
    emulator.signing_keys_down = True
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"
    assert presence_reads(emulator) == reads + 1
    assert push.counts["tokens_unchecked"] == 1
    assert_quiet(caplog, push.webhook_id)
