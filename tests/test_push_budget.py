"""Instant updates within the read budget: at most 5 presence reads in any hour.

Rich notifications are applied as they come, without a read, from the start on:
after a start or an outage push is trusted again only through a new subscription,
so what Graph retries from before names an old one and is dropped. The watchdog
that catches a silent subscription, and a read that must not undo a pushed change,
run here too. Graph is the emulator, delivering into Home Assistant's webhook (the
fixtures of ``tests/test_push.py``).
"""

# The fixtures imported from tests/test_push.py are the tests' parameters.
# ruff: noqa: F811

from __future__ import annotations

from datetime import datetime, timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.push import RENEW_EVERY
from graph_emulator import GraphEmulator
from graph_emulator.delivery import RETRY_FOR, Post, Reply
from tests.common import PRESENCE, advance, state_of, step_until
from tests.test_push import (  # noqa: F401 - the fixtures of an account with push
    EXTERNAL_URL,
    UPDATE_MODE,
    cloud,
    cloud_connected,
    external_url,
    granted_scopes,
    options,
    push_entry,
    push_of,
    rich_refused,
    settle,
    with_cloud,
)
from tests.test_work_location import GraphRelay, relay  # noqa: F401

HOUR = timedelta(hours=1)
READ_BUDGET = 5
"""Presence reads in any hour while push works: 4 safety reads and one to spare."""
CHANGE_EVERY = timedelta(minutes=5)
STATES = (("Busy", "InACall", "busy"), ("Available", "Available", "available"))


def read_times(emulator: GraphEmulator) -> list[datetime]:
    """When Graph answered each presence read, on the (frozen) clock."""
    return [
        call.time
        for call in emulator.graph_calls("presence")
        if call.method == "GET" and call.status == 200
    ]


def reads_in_hour(emulator: GraphEmulator, start: datetime) -> int:
    """The presence reads in the hour from ``start``."""
    return sum(start <= time < start + HOUR for time in read_times(emulator))


def most_reads_in_an_hour(emulator: GraphEmulator, since: datetime) -> int:
    """The most presence reads in any hour from ``since`` on (each read may open one)."""
    times = [time for time in read_times(emulator) if time >= since]
    return max((reads_in_hour(emulator, time) for time in times), default=0)


async def hour_of_changes(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> int:
    """Change presence every 5 minutes for an hour, each shown at once; how many."""
    changes = HOUR // CHANGE_EVERY
    for change in range(changes):
        availability, activity, shown = STATES[change % 2]
        emulator.set_client_session("teams", availability, activity)
        await settle(hass, emulator)
        assert state_of(hass, PRESENCE) == shown
        await advance(hass, freezer, CHANGE_EVERY, step=timedelta(minutes=1))
    return changes


async def test_the_first_hour_after_a_start_takes_at_most_5_reads(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """The read at setup, one after subscribing, and the 15-minute safety reads."""
    [started, *_] = read_times(emulator)
    await hour_of_changes(hass, freezer, emulator)
    await advance(hass, freezer, HOUR, step=timedelta(minutes=1))

    assert reads_in_hour(emulator, started) <= READ_BUDGET
    assert most_reads_in_an_hour(emulator, started) <= READ_BUDGET
    assert push_of(push_entry).counts["confirmed_by_read"] == 0


async def test_the_hour_after_a_20_minute_outage_takes_at_most_5_reads(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """Graph unreachable across a renewal: polling, then push through a new subscription."""
    old = push_of(push_entry).subscription["id"]
    await advance(
        hass, freezer, RENEW_EVERY - timedelta(seconds=30), step=timedelta(minutes=1)
    )
    await emulator.refuse_connections()
    await advance(hass, freezer, timedelta(minutes=20), step=timedelta(seconds=10))
    assert state_of(hass, UPDATE_MODE) == "polling"
    await emulator.accept_connections()
    back = dt_util.utcnow()
    await step_until(hass, freezer, lambda: state_of(hass, UPDATE_MODE) != "polling")
    await settle(hass, emulator)

    await hour_of_changes(hass, freezer, emulator)

    assert reads_in_hour(emulator, back) <= READ_BUDGET
    assert most_reads_in_an_hour(emulator, back) <= READ_BUDGET
    assert push_of(push_entry).subscription["id"] != old


async def test_a_notification_retried_from_before_a_restart_is_dropped(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """Home Assistant was down when Graph posted; the retry comes after a newer change."""
    delivery = emulator.subscriptions.delivery
    internet = delivery.transport

    async def down(_post: Post) -> Reply:
        raise OSError("Home Assistant is restarting")

    old = push_of(push_entry).subscription["id"]
    assert await hass.config_entries.async_unload(push_entry.entry_id)
    delivery.transport = down
    emulator.set_client_session("teams", "Busy", "InACall")
    await emulator.subscriptions.settle()
    [failed] = [sent for sent in delivery.sent if sent.status == 0]
    delivery.transport = internet
    assert await hass.config_entries.async_setup(push_entry.entry_id)
    await settle(hass, emulator)
    push = push_of(push_entry)
    assert push.subscription["id"] != old
    assert state_of(hass, PRESENCE) == "busy"  # the read after subscribing again
    reads = len(read_times(emulator))

    emulator.set_client_session("teams", "Away", "Away")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "away"
    for _ in range(3):  # Graph retries 1, then 2 minutes later
        await advance(hass, freezer, timedelta(minutes=1), step=timedelta(minutes=1))
        await settle(hass, emulator)

    retried = [sent for sent in delivery.sent if sent.body is failed.body]
    assert [sent.status for sent in retried] == [0, 202]
    assert state_of(hass, PRESENCE) == "away"
    assert len(read_times(emulator)) == reads  # neither notification was read for
    assert push.counts["old_subscription"] == 1


async def test_the_watchdog_watches_again_after_firing_while_push_was_down(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
) -> None:
    """Item 6: a silent subscription must not be trusted for good afterwards."""
    coordinator = push_entry.runtime_data.coordinator
    emulator.subscriptions.silent = True
    emulator.set_client_session("teams", "Busy", "InACall")
    await coordinator.async_refresh()  # finds a change no notification announced
    assert state_of(hass, PRESENCE) == "busy"
    await hass.config.async_update(external_url=None)  # push is down meanwhile
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "polling"
    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=30))
    await hass.config.async_update(external_url=EXTERNAL_URL)
    await settle(hass, emulator)
    assert state_of(hass, UPDATE_MODE) == "push_external"

    emulator.set_client_session("teams", "Away", "Away")  # never announced either
    await advance(hass, freezer, timedelta(minutes=17), step=timedelta(seconds=30))

    assert state_of(hass, PRESENCE) == "away"
    assert state_of(hass, UPDATE_MODE) == "polling"
    assert push_of(push_entry).counts["watchdog_fallbacks"] == 1


async def test_a_watchdog_armed_twice_never_outlives_an_unload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Item 7: a read arms it, a notification calms it, a read arms it again."""
    caplog.set_level(logging.WARNING)
    coordinator, push = push_entry.runtime_data.coordinator, push_of(push_entry)
    subscriptions = emulator.subscriptions
    for availability, activity, silent in (
        ("Busy", "InACall", True),
        ("Away", "Away", False),
        ("Available", "Available", True),
    ):
        subscriptions.silent = silent
        emulator.set_client_session("teams", availability, activity)
        await settle(hass, emulator)
        await coordinator.async_refresh()
    assert await hass.config_entries.async_unload(push_entry.entry_id)

    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=10))

    assert push.counts["watchdog_fallbacks"] == 0
    assert "did not announce" not in caplog.text


async def test_a_lagging_read_never_undoes_a_pushed_change(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    relay: GraphRelay,  # before the account: it reads through the relay
    push_entry: MockConfigEntry,
) -> None:
    """Item 16: a replica answers as before the change, with the same sequence number."""
    coordinator = push_entry.runtime_data.coordinator
    # Long after the start: the change is applied as it came under any rule.
    await advance(hass, freezer, RETRY_FOR, step=timedelta(minutes=15))
    reads = len(read_times(emulator))
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"
    assert len(read_times(emulator)) == reads  # applied as it came
    await advance(hass, freezer, timedelta(seconds=10))

    relay.lag_next_read = True
    await coordinator.async_refresh()
    *_, before_change, lagging = relay.stamps
    assert lagging == before_change == coordinator.data.sequence_number

    assert state_of(hass, PRESENCE) == "busy"
    await coordinator.async_refresh()
    assert relay.stamps[-1] > lagging
    assert state_of(hass, PRESENCE) == "busy"
