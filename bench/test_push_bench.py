"""Instant updates in figures: latency, Graph requests an hour, a soak, recoveries.

Graph's side is the emulator, delivering into Home Assistant's webhook (the fixtures
of ``tests/test_push.py``). Latency in real time with a 1 s delivery delay; requests
an hour, the soak with lost, repeated and retried notifications and the way back to
push after an outage in simulated time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import random
import statistics
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bench.test_bench import percentile, real_seconds
from custom_components.teams_presence_keeper.push import RENEW_EVERY
from custom_components.teams_presence_keeper.push_freshness import WORST_DELIVERY_TIME
from graph_emulator import GraphEmulator
from graph_emulator.delivery import Post, Reply
from tests.cloud import CloudRelay
from tests.common import PRESENCE, advance, state_of
from tests.test_push import (
    UPDATE_MODE,
    options,  # noqa: F401 - with Instant updates on
    presence_reads,
    push_of,
    settle,
    subscription_requests,
)
from tests.test_push_budget import (
    CHANGE_EVERY,
    STATES,
    hour_of_changes,
    most_reads_in_an_hour,
    read_times,
    reads_in_hour,
)

CHANGES = 40
DELIVERY_DELAY = 1.0
CLOSE_BEHIND = WORST_DELIVERY_TIME / 2
"""Changes this close together: the notifications may have swapped places."""


async def test_push_change_to_sensor(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    """Both ways a rich notification reaches the sensor, timed on the wall clock.

    With changes minutes apart each is applied as it came; with changes 30 s apart
    each is confirmed by a read (it may have swapped places with the one before).
    Only the date moves between changes (no timer fires): the deliveries' 1 s takes
    real time.
    """
    emulator.subscriptions.delivery.delay = DELIVERY_DELAY
    push = push_of(push_entry)
    figures: dict[str, Any] = {"changes": CHANGES, "delivery_delay": DELIVERY_DELAY}
    for phase, gap in (("applied", CHANGE_EVERY), ("confirmed_by_read", CLOSE_BEHIND)):
        confirmed, delays = push.counts["confirmed_by_read"], []
        for change in range(CHANGES):
            freezer.tick(gap)
            availability, activity, shown = STATES[change % 2]
            start = real_seconds()
            emulator.set_client_session("teams", availability, activity)
            while state_of(hass, PRESENCE) != shown:
                assert real_seconds() - start < 10, "the change never arrived"
                await asyncio.sleep(0)  # the loop's timers are frozen
            delays.append(real_seconds() - start)
            await settle(hass, emulator)
        assert (push.counts["confirmed_by_read"] - confirmed == CHANGES) == (
            phase == "confirmed_by_read"
        )
        figures[phase] = {
            "median": statistics.median(delays),
            "p99": percentile(delays, 0.99),
        }
    results["push_change_delay_s"] = figures


async def test_push_requests_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    """The first hour from the start (its reads included), then the next one.

    Each with a change every 5 minutes; the most reads in any hour of the two.
    """
    [started, *_] = read_times(emulator)
    changes = await hour_of_changes(hass, freezer, emulator)
    results["push_hour_after_start"] = {
        "changes": changes,
        "reads": reads_in_hour(emulator, started),
    }
    reads, subscriptions = (
        presence_reads(emulator),
        len(subscription_requests(emulator)),
    )
    changes = await hour_of_changes(hass, freezer, emulator)
    results["push_hour"] = {
        "changes": changes,
        "reads": presence_reads(emulator) - reads,
        "subscription_requests": len(subscription_requests(emulator)) - subscriptions,
        "most_reads_in_an_hour": most_reads_in_an_hour(emulator, started),
    }


SOAK_CHANGES = 1_000
SOAK_FAULT_SHARE = 0.05
"""Of the notifications: as many dropped, sent twice, and failed once (retried)."""
SOAK_SEED = 16
SOAK_GAP_MINUTES = (1, 10)
"""A change comes 1 to 10 minutes after the last one reached the sensor."""
SOAK_STATES = (
    ("Available", "Available", "available"),
    ("Busy", "InACall", "busy"),
    ("DoNotDisturb", "Presenting", "do_not_disturb"),
    ("Away", "Away", "away"),
    ("BeRightBack", "BeRightBack", "be_right_back"),
)
"""Each availability once: the Presence sensor alone tells the changes apart."""
STEP = timedelta(seconds=30)
ARRIVAL_LIMIT = timedelta(minutes=30)
OUTAGE = timedelta(minutes=10)
GRAPH_OUTAGE_MINUTES = (2, 5, 10, 20)
"""Each ends at another point of push's backoff between attempts (1, 2, 4... min)."""
OUTAGE_LEAD = timedelta(seconds=30)
"""The outage starts this long before the renewal is due, which it fails."""
RECOVERY_LIMIT = timedelta(minutes=35)
"""Longer than push's longest wait between two attempts (30 minutes)."""


async def time_until(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    condition: Callable[[], bool],
    *,
    step: timedelta,
    limit: timedelta,
) -> timedelta | None:
    """Move the clock until ``condition`` holds; how long it took (None: over ``limit``).

    Unlike ``tests.common.step_until``, each step waits for Home Assistant's tasks
    (reads, renewals) and for what Graph sends meanwhile (retries), so the figure
    does not depend on how fast the loop ran.
    """
    start = dt_util.utcnow()
    while not condition():
        if dt_util.utcnow() - start >= limit:
            return None
        await advance(hass, freezer, step, step=step)
        await settle(hass, emulator)
    return dt_util.utcnow() - start


def shows(hass: HomeAssistant, entity_id: str, state: str) -> Callable[[], bool]:
    """Whether ``entity_id`` shows ``state``, asked as the clock moves."""
    return lambda: state_of(hass, entity_id) == state


def went_back(changes: list[str], history: list[tuple[str, int]]) -> int:
    """Count the states the sensor showed out of order, or that no change made.

    ``history`` holds each state shown with the number of changes made by then: it
    must be a later change than the one shown before, and one already made. The
    earliest such change is taken, which leaves the most room for what follows.
    """
    shown, back = -1, 0
    for state, made in history:
        later = [i for i in range(shown + 1, made) if changes[i] == state]
        if later:
            shown = later[0]
        else:
            back += 1
    return back


async def test_push_soak(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    results: dict[str, Any],
) -> None:
    """Changes with 5% of notifications lost, 5% sent twice and 5% retried.

    A retried one failed its first delivery (the address was unreachable for it),
    and Graph sends it again a minute later. Each change must still arrive, and
    the sensor never go back to an older one.
    """
    push, delivery = push_of(push_entry), emulator.subscriptions.delivery
    draw = random.Random(SOAK_SEED)
    changes: list[str] = []
    history: list[tuple[str, int]] = []
    internet, unreachable = delivery.transport, 0

    async def flaky(post: Post) -> Reply:
        nonlocal unreachable
        if unreachable and "validationToken" not in post.url:
            unreachable -= 1
            raise OSError("unreachable for this notification")
        return await internet(post)

    delivery.transport = flaky

    @callback
    def shown(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None:
            history.append((new.state, len(changes)))

    stop_recording = async_track_state_change_event(hass, [PRESENCE], shown)
    reads, sent = presence_reads(emulator), len(delivery.sent)
    started, wall = dt_util.utcnow(), real_seconds()
    dropped = duplicated = retried = unreached = 0
    late: list[float] = []
    for _ in range(SOAK_CHANGES):
        last = changes[-1] if changes else state_of(hass, PRESENCE)
        availability, activity, expected = draw.choice(
            [state for state in SOAK_STATES if state[2] != last]
        )
        fault = draw.random()
        if fault < SOAK_FAULT_SHARE:
            delivery.drop(1)
            dropped += 1
        elif fault < 2 * SOAK_FAULT_SHARE:
            delivery.duplicate(1)
            duplicated += 1
        elif fault < 3 * SOAK_FAULT_SHARE:
            unreachable = 1
            retried += 1
        changes.append(expected)
        emulator.set_client_session("teams", availability, activity)
        await settle(hass, emulator)
        waited = await time_until(
            hass,
            freezer,
            emulator,
            shows(hass, PRESENCE, expected),
            step=STEP,
            limit=ARRIVAL_LIMIT,
        )
        if waited is None:
            unreached += 1
        elif waited:
            late.append(waited.total_seconds())
        gap = timedelta(minutes=draw.uniform(*SOAK_GAP_MINUTES))
        await advance(hass, freezer, gap, step=STEP)
    stop_recording()
    hours = (dt_util.utcnow() - started) / timedelta(hours=1)
    results["push_soak"] = {
        "changes": SOAK_CHANGES,
        "seed": SOAK_SEED,
        "dropped": dropped,
        "duplicated": duplicated,
        "retried": retried,
        "notifications_sent": len(delivery.sent) - sent,
        "accepted": push.counts["accepted"],
        "read_for": push.counts["confirmed_by_read"],
        "old_subscription": push.counts["old_subscription"],
        "reached": SOAK_CHANGES - unreached,
        "late": len(late),
        "late_max_s": max(late, default=0.0),
        "out_of_order": went_back(changes, history),
        "watchdog_fallbacks": push.counts["watchdog_fallbacks"],
        "reads": presence_reads(emulator) - reads,
        "simulated_hours": hours,
        "wall_s": real_seconds() - wall,
    }


async def back_to_push(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    outage: timedelta,
) -> dict[str, Any]:
    """From recovery: how long until push is healthy, then a change by notification.

    Then an hour of changes: the reads in the hour from recovery.
    """
    wall, recovered = real_seconds(), dt_util.utcnow()
    waited = await time_until(
        hass,
        freezer,
        emulator,
        lambda: state_of(hass, UPDATE_MODE) != "polling",
        step=timedelta(seconds=1),
        limit=RECOVERY_LIMIT,
    )
    push = push_of(push_entry)
    reads, accepted = presence_reads(emulator), push.counts["accepted"]
    emulator.set_client_session("teams", "Away", "Away")
    await settle(hass, emulator)  # the clock stands still: no polling read is due
    # A new subscription: applied as it came, without a read.
    by_notification = (
        state_of(hass, PRESENCE) == "away"
        and push.counts["accepted"] == accepted + 1
        and presence_reads(emulator) == reads
    )
    await advance(hass, freezer, CHANGE_EVERY, step=timedelta(minutes=1))
    changes = await hour_of_changes(hass, freezer, emulator)
    return {
        "outage_s": outage.total_seconds(),
        "back_to_push_s": None if waited is None else waited.total_seconds(),
        "change_by_notification": by_notification,
        "hour_changes": changes,
        "hour_reads": reads_in_hour(emulator, recovered),
        "most_reads_in_an_hour": most_reads_in_an_hour(emulator, recovered),
        "wall_s": real_seconds() - wall,
    }


@pytest.mark.parametrize("minutes", GRAPH_OUTAGE_MINUTES)
async def test_push_after_graph_outage(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    minutes: int,
    results: dict[str, Any],
) -> None:
    """Graph unreachable across a renewal, so that push falls back to polling."""
    outage = timedelta(minutes=minutes)
    await advance(hass, freezer, RENEW_EVERY - OUTAGE_LEAD, step=timedelta(minutes=1))
    await emulator.refuse_connections()
    await advance(hass, freezer, outage, step=timedelta(seconds=10))
    assert state_of(hass, UPDATE_MODE) == "polling"
    await emulator.accept_connections()
    results.setdefault("push_graph_outage", []).append(
        await back_to_push(hass, freezer, emulator, push_entry, outage)
    )


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("external_url", [None])
async def test_push_after_cloud_outage(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
    results: dict[str, Any],
) -> None:
    """Home Assistant Cloud disconnected, with no external URL to move to."""
    await advance(hass, freezer, RENEW_EVERY - OUTAGE_LEAD, step=timedelta(minutes=1))
    cloud.set_connected(False)
    await advance(hass, freezer, OUTAGE, step=timedelta(seconds=10))
    assert state_of(hass, UPDATE_MODE) == "polling"
    cloud.set_connected(True)
    results["push_cloud_outage"] = await back_to_push(
        hass, freezer, emulator, push_entry, OUTAGE
    )
