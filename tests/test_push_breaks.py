"""Instant updates pushed past their edges: bodies that break while read, and more.

Each test here once failed against the code it names. The fixtures are
``tests/test_push.py``'s; Graph is the emulator, Home Assistant's webhook view is
the real one (``hass_client_no_auth``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.teams_presence_keeper.const import (
    CONF_CLEAR_ON_REMOVE,
    CONF_EXPIRATION,
    CONF_INSTANT_UPDATES,
    CONF_READ_INTERVAL,
    MAX_READ_INTERVAL,
)
from custom_components.teams_presence_keeper.push_freshness import WORST_DELIVERY_TIME
from graph_emulator import GraphEmulator
from tests.common import PRESENCE, advance, state_of, step_until
from tests.test_push import (
    UPDATE_MODE,
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
    subscription_requests,
    with_cloud,
)
from tests.test_webhook_hostile import lifecycle_item

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


def assert_named_nowhere(caplog: pytest.LogCaptureFixture, webhook_id: str) -> None:
    """Neither Home Assistant's webhook nor we logged a failure; none names the id.

    aiohttp itself logs "Unhandled exception" when it drains the rest of a body
    that cannot be decoded, after the answer: as for any view, without the path.
    """
    assert [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name != "aiohttp.server"
    ] == []
    assert [
        record.getMessage()
        for record in caplog.records
        if record.levelno > logging.DEBUG
        and record.name != "aiohttp.access"
        and webhook_id in f"{record.getMessage()} {record.exc_text or ''}"
    ] == []


async def test_a_body_that_does_not_decompress_is_refused_quietly(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Aiohttp inflates a gzip body as it is read: garbage raises mid-read."""
    push = push_of(push_entry)
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{push.webhook_id}",
        data=b"not gzip at all" * 10,
        headers={"Content-Encoding": "gzip"},
    )
    assert response.status == 202
    await settle(hass, emulator)
    assert push.counts == {"rejected_malformed": 1}
    assert_named_nowhere(caplog, push.webhook_id)


@pytest.fixture
def graph_behind() -> timedelta:
    """How far Graph's clock is behind Home Assistant's."""
    return timedelta(0)


@pytest.fixture
async def emulator(
    socket_enabled: None, graph_behind: timedelta
) -> AsyncIterator[GraphEmulator]:
    """The emulator, its clock ``graph_behind`` the (possibly frozen) wall clock."""
    emulator = GraphEmulator(clock=lambda: datetime.now(UTC) - graph_behind)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.mark.parametrize("graph_behind", [timedelta(minutes=3)])
async def test_a_clock_minutes_ahead_of_graph_s_still_subscribes(
    hass: HomeAssistant, emulator: GraphEmulator, push_entry: MockConfigEntry
) -> None:
    """Graph refuses an expiry more than 60 minutes after its own now."""
    assert subscription_requests(emulator) == [("POST", 201)]
    assert state_of(hass, UPDATE_MODE) == "push_external"


async def test_a_body_still_arriving_at_a_reload_is_not_taken_by_the_old_manager(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The unloaded manager would reauthorize, renew, and keep renewing, forever."""
    old = push_of(push_entry)
    body = json.dumps({"value": [await lifecycle_item(hass, emulator)]}).encode()
    calls = len(emulator.graph_calls("reauthorize"))
    rest_sent = asyncio.Event()

    async def slowly() -> AsyncIterator[bytes]:
        yield body[:10]
        await rest_sent.wait()
        yield body[10:]

    client = await hass_client_no_auth()
    caplog.clear()
    posting = asyncio.create_task(
        client.post(f"/api/webhook/{old.webhook_id}", data=slowly())
    )
    handling = f"Handling webhook POST payload for {old.webhook_id}"
    await step_until(hass, freezer, lambda: handling in caplog.text)
    assert await hass.config_entries.async_reload(push_entry.entry_id)
    await settle(hass, emulator)
    rest_sent.set()
    response = await posting
    assert response.status == 202
    await settle(hass, emulator)

    assert len(emulator.graph_calls("reauthorize")) == calls
    assert old.counts == {"dropped_busy": 1}


@pytest.mark.parametrize(
    "options",
    [
        {
            CONF_READ_INTERVAL: MAX_READ_INTERVAL,
            CONF_EXPIRATION: 60,
            CONF_CLEAR_ON_REMOVE: False,
            CONF_INSTANT_UPDATES: True,
        }
    ],
)
async def test_push_never_reads_more_often_than_the_read_interval(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """Reading hourly was asked for: push's safety read must not make it 15 minutes."""
    assert state_of(hass, UPDATE_MODE) == "push_external"
    reads = presence_reads(emulator)
    await advance(hass, freezer, timedelta(hours=2), step=timedelta(minutes=1))
    assert state_of(hass, UPDATE_MODE) == "push_external"
    assert presence_reads(emulator) - reads == 2


async def test_a_replayed_rich_notification_does_not_turn_back_the_presence(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A body copied from a proxy's log is posted again while its tokens still hold."""
    push = push_of(push_entry)
    await advance(hass, freezer, 2 * WORST_DELIVERY_TIME)
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"
    copied = emulator.subscriptions.delivery.sent[-1].body
    await advance(hass, freezer, 2 * WORST_DELIVERY_TIME)
    emulator.remove_client_session("teams")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "offline"
    await advance(hass, freezer, 2 * WORST_DELIVERY_TIME)

    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{push.webhook_id}", data=json.dumps(copied)
    )
    assert response.status == 202
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "offline"
    assert push.counts["rejected_replayed"] == 1


async def test_a_throttle_asking_no_wait_still_backs_off(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """429 with Retry-After: 0 (a proxy's) again and again: not a renewal per turn."""
    emulator.requests.clear()
    emulator.throttle(20, retry_after=0)
    hass.bus.async_fire(EVENT_CORE_CONFIG_UPDATE)
    await settle(hass, emulator)
    assert subscription_requests(emulator) == [("PATCH", 429)]
    await advance(hass, freezer, timedelta(minutes=1), step=timedelta(seconds=10))
    # One retry after the minute's back-off; push having stopped, it replaces.
    assert subscription_requests(emulator)[1:] == [("DELETE", 429)]
