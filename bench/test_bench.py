"""The benchmark: Graph calls, latency and load, measured against the emulator.

Run by ``scripts/bench``, never by the test suite. Simulated time (``freezer``) for
calls and delays; real time for latency, setup and event-loop blocking.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
import gc
import importlib
import logging
import math
from pathlib import Path
import random
import statistics
import sys
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper import PLATFORMS
from custom_components.teams_presence_keeper.const import (
    CONF_EXPIRATION,
    DEFAULT_READ_INTERVAL,
    DOMAIN,
)
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


def until_graph_has_it(starts: list[float], received: list[float]) -> list[float]:
    """Milliseconds from each change until Graph received a setPresence after it.

    Changes made while a setPresence is on its way are merged: the next one sent
    carries the newest, so Graph has the change (or a newer one) at the first
    request it receives after the change was made. Changes made after the last
    one are left out: 1,000 changes in a few seconds use up Graph's 1,500
    presence requests per 30 s (each accepted write is followed by a read), and
    from Graph's 429 on the wish is held until the wait ends.
    """
    after = [bisect.bisect_left(received, start) for start in starts]
    return [
        (received[index] - start) * 1000
        for index, start in zip(after, starts, strict=True)
        if index < len(received)
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


# The documented Graph rule the minimum comes from (setPresence: timeout), written
# here rather than read from the emulator, so that the emulator is measured, not trusted.
AVAILABLE_TIMEOUT = timedelta(minutes=5)
"""An Available session fades unless it is set again within this long."""
HOLDS = [("available", 60), ("busy_in_a_call", 60), ("busy_in_a_call", 240)]
ONE_SHOT_PAIRS = {
    "available": ("Available", "Available"),
    "busy_in_a_call": ("Busy", "InACall"),
}
READ_STEP = timedelta(seconds=1)
"""How often the one-shot measurement reads presence: its resolution."""


def set_lasts(option: str, expiration: int) -> timedelta:
    """How long one setPresence keeps its state, by the rules: timeout or expiry."""
    expiry = timedelta(minutes=expiration)
    return min(AVAILABLE_TIMEOUT, expiry) if option == "available" else expiry


@pytest.mark.parametrize(("option", "expiration"), HOLDS)
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
    lasts = set_lasts(option, expiration)
    results[f"hold_{option}_{expiration}"] = {
        "calls": len(set_calls(emulator)),
        "lapsed_checks": lapses,
        "set_lasts_min": lasts.total_seconds() / 60,
        # The true minimum: back-to-back sets, each landing the instant the last one
        # stops holding, so ceil(8 h / how long one set holds).
        "minimum": math.ceil(HOLD / lasts),
        # What any refresh that lands before the lapse (a margin, however small)
        # needs, shown next to it to explain a ratio above 1.
        "minimum_refreshing_early": math.floor(HOLD / lasts) + 1,
    }


@pytest.mark.parametrize(("option", "expiration"), HOLDS)
async def test_one_shot_setter(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    results: dict[str, Any],
    option: str,
    expiration: int,
) -> None:
    """Set once with ``expiration`` and never again, as the competing integration does.

    Nothing of this integration runs: one raw setPresence, then Graph presence reads
    every ``READ_STEP`` of simulated time, noting each change of what they show, until
    the user shows Offline (the session is gone) or 8 h have passed.
    """
    availability, activity = ONE_SHOT_PAIRS[option]
    session = async_get_clientsession(hass)
    token = emulator.issue_token(lifetime=HOLD + timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}"}
    presence_url = f"{emulator.graph_url}/v1.0/me/presence"
    async with session.post(
        f"{presence_url}/setPresence",
        headers=headers,
        json={
            "sessionId": emulator.default_app.client_id,
            "availability": availability,
            "activity": activity,
            "expirationDuration": f"PT{expiration}M",
        },
    ) as response:
        assert response.status == 200, await response.text()

    async def shown() -> str:
        async with session.get(presence_url, headers=headers) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        return f"{body['availability']}/{body['activity']}"

    state = await shown()
    assert state == f"{availability}/{activity}", "the set did not show at all"
    changes: list[dict[str, Any]] = []
    waited = timedelta(0)
    while state != "Offline/Offline" and waited < HOLD:
        freezer.tick(READ_STEP)
        waited += READ_STEP
        if (now := await shown()) != state:
            state = now
            changes.append({"after_s": waited.total_seconds(), "shows": state})
    results[f"one_shot_{option}_{expiration}"] = {
        "set": f"{availability}/{activity}",
        "expiration_min": expiration,
        "read_step_s": READ_STEP.total_seconds(),
        "changes": changes,
    }


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
    results["read_interval_s"] = DEFAULT_READ_INTERVAL
    results["teams_change_delay_s"] = {
        "mean": statistics.mean(delays),
        "max": max(delays),
    }


def warm_up_imports() -> None:
    """Import what setting up the entry loads, before the timed window.

    Setup time and memory then leave out one-off import costs and do not depend on
    which measurement happened to run first.
    """
    for platform in PLATFORMS:
        importlib.import_module(f"homeassistant.components.{platform}")
        importlib.import_module(f"custom_components.{DOMAIN}.{platform}")


async def test_setup_latency_and_blocking(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    warm_up_imports()
    async with slow_callbacks() as setup_slow:
        rss_before = rss_kib()  # after the collection that opens the window
        modules_before = set(sys.modules)
        start = time.perf_counter()
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        setup_ms = (time.perf_counter() - start) * 1000
    results["setup_ms"] = setup_ms
    results["rss_added_kib"] = rss_kib() - rss_before
    # Measured, not assumed: imports were warm only if the setup imported nothing.
    results["setup_imported_modules"] = sorted(set(sys.modules) - modules_before)
    results["slow_callbacks_setup"] = setup_slow

    options = ["busy_in_a_call", "available"]
    select_starts: list[float] = []
    action_starts: list[float] = []
    async with slow_callbacks() as changes_slow:
        for change in range(CHANGES):
            select_starts.append(time.perf_counter())
            await select(hass, options[change % 2])
            await asyncio.sleep(0)  # the next change comes in an event of its own
        for change in range(CHANGES):
            action_starts.append(time.perf_counter())
            await hass.services.async_call(
                DOMAIN,
                "set_presence",
                {
                    "config_entry_id": config_entry.entry_id,
                    "presence": options[change % 2],
                },
                blocking=True,
            )
            await asyncio.sleep(0)
        await hass.async_block_till_done()
    received = sorted(call.received for call in set_calls(emulator))
    select_ms = until_graph_has_it(select_starts, received)
    action_ms = until_graph_has_it(action_starts, received)
    results["slow_callbacks_changes"] = changes_slow
    results["select_to_request_ms"] = {
        "median": statistics.median(select_ms),
        "p99": percentile(select_ms, 0.99),
        "changes": len(select_ms),
    }
    results["action_to_request_ms"] = {
        "median": statistics.median(action_ms),
        "p99": percentile(action_ms, 0.99),
        "changes": len(action_ms),
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
