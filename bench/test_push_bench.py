"""Instant updates in figures: change-to-sensor latency, Graph requests an hour.

Graph's side is the emulator, delivering into Home Assistant's webhook (the fixtures
of ``tests/test_push.py``). Latency in real time with a 1 s delivery delay; requests
an hour in simulated time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import statistics
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bench.test_bench import percentile, real_seconds
from graph_emulator import GraphEmulator
from tests.common import PRESENCE, advance, state_of
from tests.test_push import (
    options,  # noqa: F401 - with Instant updates on
    presence_reads,
    settle,
    subscription_requests,
)

CHANGES = 40
DELIVERY_DELAY = 1.0
STATES = (("Busy", "InACall", "busy"), ("Available", "Available", "available"))
CHANGE_EVERY = timedelta(minutes=5)
HOUR = timedelta(hours=1)


async def test_push_change_to_sensor(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    emulator.subscriptions.delivery.delay = DELIVERY_DELAY
    delays: list[float] = []
    for change in range(CHANGES):
        availability, activity, shown = STATES[change % 2]
        start = real_seconds()
        emulator.set_client_session("teams", availability, activity)
        emulator.subscriptions.notice_changes()
        while state_of(hass, PRESENCE) != shown:
            assert real_seconds() - start < 10, "the change never arrived"
            await asyncio.sleep(0.005)
        delays.append(real_seconds() - start)
    await settle(hass, emulator)
    results["push_change_delay_s"] = {
        "changes": CHANGES,
        "delivery_delay": DELIVERY_DELAY,
        "median": statistics.median(delays),
        "p99": percentile(delays, 0.99),
    }


async def test_push_requests_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    reads, subscriptions = (
        presence_reads(emulator),
        len(subscription_requests(emulator)),
    )
    changes = HOUR // CHANGE_EVERY
    for change in range(changes):
        availability, activity, _ = STATES[change % 2]
        emulator.set_client_session("teams", availability, activity)
        await settle(hass, emulator)
        await advance(hass, freezer, CHANGE_EVERY, step=timedelta(minutes=1))
    assert state_of(hass, PRESENCE) == STATES[(changes - 1) % 2][2]
    results["push_hour"] = {
        "changes": changes,
        "reads": presence_reads(emulator) - reads,
        "subscription_requests": len(subscription_requests(emulator)) - subscriptions,
    }
