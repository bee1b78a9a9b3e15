"""The benchmark: Graph calls, latency and load, measured against the emulator.

Run by ``scripts/bench``, never by the test suite. Simulated time (``freezer``) for
calls and delays; real time for latency, setup and event-loop blocking.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
import gc
import logging
import math
from pathlib import Path
import random
import statistics
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence.const import (
    CONF_EXPIRATION,
    DEFAULT_READ_INTERVAL,
    DOMAIN,
)
from custom_components.teams_presence.graph import AppPresence, GraphPresenceClient
from graph_emulator import GraphEmulator
from tests.common import PRESENCE, advance, select, set_calls, state_of

HOLD = timedelta(hours=8)
CHANGES = 500
SLOW = 0.05


def rss_kib() -> int:
    """Resident memory of this process, from the kernel."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def real_seconds() -> float:
    """A monotonic clock ``freezer`` leaves alone: it fakes ``time.perf_counter``."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class _SlowCallbacks(logging.Handler):
    """Counts asyncio's debug warnings about callbacks that held the loop."""

    def __init__(self, driver: asyncio.Task[Any] | None) -> None:
        super().__init__(logging.WARNING)
        self.driver = repr(driver).split(" coro=")[0] if driver else None
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and not (
            self.driver and message.startswith(f"Executing {self.driver} ")
        ):
            self.count += 1


@asynccontextmanager
async def slow_callbacks(
    *, ignore_driver: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """Count callbacks over 50 ms, by asyncio's debug mode and by a real-time clock.

    Under ``freezer`` asyncio's own clock jumps with simulated time, so a callback's
    real duration is also taken with ``real_seconds`` around each handle, and each
    such callback is named under ``slowest``. ``ignore_driver`` leaves out the
    benchmark's own steps (moving simulated time).

    A full garbage collection runs first: the earlier measurements leave a debt of
    long-lived objects that makes the interpreter start one (150-180 ms over this
    process's heap) at an arbitrary point, in whichever callback allocates then.
    Paid up front, only garbage made during the window can start one inside it.
    It runs in a step of its own, so that neither a window just closed nor this
    one times it.
    """
    await asyncio.sleep(0)
    gc.collect()
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    driver = asyncio.current_task() if ignore_driver else None
    handler = _SlowCallbacks(driver)
    logger = logging.getLogger("asyncio")
    debug, threshold = loop.get_debug(), loop.slow_callback_duration
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW
    logger.addHandler(handler)
    slowest: list[str] = []
    counts: dict[str, Any] = {"asyncio_debug": 0, "real_clock": 0}
    original = asyncio.Handle._run

    def timed(handle: asyncio.Handle) -> None:
        start = real_seconds()
        original(handle)
        took = real_seconds() - start
        owner = getattr(getattr(handle, "_callback", None), "__self__", None)
        if took > SLOW and (driver is None or owner is not driver):
            counts["real_clock"] += 1
            slowest.append(f"{handle!r:.300} took {took * 1000:.0f} ms")

    asyncio.Handle._run = timed  # type: ignore[method-assign,assignment]
    try:
        yield counts
    finally:
        asyncio.Handle._run = original  # type: ignore[method-assign]
        logger.removeHandler(handler)
        loop.set_debug(debug)
        loop.slow_callback_duration = threshold
        counts["asyncio_debug"] = handler.count
        counts["slowest"] = slowest


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


@pytest.mark.parametrize(
    ("option", "expiration"),
    [("available", 60), ("busy_in_a_call", 60), ("busy_in_a_call", 240)],
)
async def test_calls_to_hold_eight_hours(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    results: dict[str, Any],
    option: str,
    expiration: int,
) -> None:
    hass.config_entries.async_update_entry(
        config_entry, options={**config_entry.options, CONF_EXPIRATION: expiration}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await select(hass, option)
    wanted = emulator.presence()
    lapses = 0

    def held() -> None:
        nonlocal lapses
        lapses += emulator.presence() != wanted

    await advance(hass, freezer, HOLD, check=held)
    minutes = HOLD.total_seconds() / 60
    window = 5 if option == "available" else expiration
    results[f"hold_{option}_{expiration}"] = {
        "calls": len(set_calls(emulator)),
        # Each set lasts ``window``: 8 h takes ceil(480 / window) sets if each could
        # land at the very instant the last one lapses, and one more when each must
        # land before it (any margin at all), as the hold must not lapse.
        "minimum": math.ceil(minutes / window),
        "minimum_before_lapse": math.floor(minutes / window) + 1,
        "lapsed_checks": lapses,
        "naive_lapsed_after_min": await naive_hold(
            hass, freezer, emulator, option, expiration
        ),
    }


async def naive_hold(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    option: str,
    expiration: int,
) -> int:
    """Set once, never refresh: whole minutes until the emulator no longer shows it."""
    await select(hass, "none")
    client = GraphPresenceClient(
        async_get_clientsession(hass),
        lambda: _token(emulator),
        base_url=emulator.graph_url,
    )
    await client.set_presence(
        "naive-setter", AppPresence(option), timedelta(minutes=expiration)
    )
    wanted = emulator.presence()
    held = 0
    while emulator.presence() == wanted and held < HOLD.total_seconds() / 60:
        freezer.tick(timedelta(minutes=1))
        held += 1
    return held


async def _token(emulator: GraphEmulator) -> str:
    return emulator.issue_token()


async def test_reads_and_teams_side_delay(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    before = len(emulator.graph_calls("presence"))
    await advance(hass, freezer, timedelta(hours=1), step=timedelta(seconds=1))
    reads = len(emulator.graph_calls("presence")) - before

    rng = random.Random(8)
    delays: list[float] = []
    states = [("Busy", "InACall"), ("Available", "Available")]
    for change in range(50):
        await advance(
            hass,
            freezer,
            timedelta(seconds=rng.uniform(0, DEFAULT_READ_INTERVAL)),
            step=timedelta(seconds=1),
        )
        shown = state_of(hass, PRESENCE)
        emulator.set_client_session("desktop", *states[change % 2])
        waited = 0
        while state_of(hass, PRESENCE) == shown:
            await advance(hass, freezer, timedelta(seconds=1))
            waited += 1
        delays.append(waited)
    results["reads_per_hour"] = reads
    results["teams_change_delay_s"] = {
        "mean": statistics.mean(delays),
        "max": max(delays),
    }


async def test_setup_latency_and_blocking(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    async with slow_callbacks() as setup_slow:
        rss_before = rss_kib()  # after the collection that opens the window
        start = time.perf_counter()
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        setup_ms = (time.perf_counter() - start) * 1000
    results["setup_ms"] = setup_ms
    results["rss_added_kib"] = rss_kib() - rss_before
    results["slow_callbacks_setup"] = setup_slow

    options = ["busy_in_a_call", "available"]
    select_ms: list[float] = []
    action_ms: list[float] = []
    async with slow_callbacks() as changes_slow:
        for change in range(CHANGES):
            option = options[change % 2]
            start = time.perf_counter()
            await select(hass, option)
            select_ms.append((set_calls(emulator)[-1].received - start) * 1000)
        for change in range(CHANGES):
            option = options[change % 2]
            start = time.perf_counter()
            await hass.services.async_call(
                DOMAIN,
                "set_presence",
                {"config_entry_id": config_entry.entry_id, "presence": option},
                blocking=True,
            )
            action_ms.append((set_calls(emulator)[-1].received - start) * 1000)
    results["slow_callbacks_changes"] = changes_slow
    results["select_to_request_ms"] = {
        "median": statistics.median(select_ms),
        "p99": percentile(select_ms, 0.99),
    }
    results["action_to_request_ms"] = {
        "median": statistics.median(action_ms),
        "p99": percentile(action_ms, 0.99),
    }


async def test_blocking_during_an_hour_of_keep_alive(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    setup_integration: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    await select(hass, "available")
    async with slow_callbacks(ignore_driver=True) as slow:
        await advance(hass, freezer, timedelta(hours=1), step=timedelta(seconds=1))
    results["slow_callbacks_hour"] = slow
