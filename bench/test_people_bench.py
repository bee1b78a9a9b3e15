"""Following people in figures: for 1, 10, 100 and 650 followed people.

Graph requests an hour while polling, presence reads an hour with push healthy, the
subscriptions held, a followed person's Teams change to sensor with a 1 s delivery
delay (wall clock), and the setup time and memory each person adds. Graph's side is
the emulator; push delivers into Home Assistant's webhook (``tests/test_push.py``).
The people are person subentries of the account, as "Add person" stores them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import gc
import logging
from pathlib import Path
import statistics
import tracemalloc
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bench.test_bench import percentile, real_seconds, warm_up_imports
from custom_components import teams_presence_keeper
from custom_components.teams_presence_keeper.const import (
    CONF_INSTANT_UPDATES,
    PEOPLE_SCOPES,
)
from custom_components.teams_presence_keeper.push_freshness import (
    PUSHED_PEOPLE_AT_MOST,
)
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.colleagues import follow
from tests.common import advance, state_of
from tests.test_push import PUSH_SCOPES, advance_delivering, settle

PEOPLE = [1, 10, 100, 649, 650]
PUSHED_PEOPLE = [count for count in PEOPLE if count <= PUSHED_PEOPLE_AT_MOST]
"""With Instant updates an account follows up to 649 people ("Add person" refuses more)."""
HOUR = 3600
SETUPS = 3
"""Setups timed for each number of people: the median is reported."""
INTEGRATION_FOLDER = str(Path(teams_presence_keeper.__file__).parent)
"""Allocations made by a line of the integration's own code are its own."""
CHANGES = 20
DELIVERY_DELAY = 1.0
CHANGE_EVERY = 120
"""Seconds between two changes of followed people in the push hour: none of one
person within a minute of their last, so none is read for."""
STATES = (("Busy", "InACall", "busy"), ("Available", "Available", "available"))


@pytest.fixture
def granted_scopes() -> tuple[str, ...]:
    """Instant updates' consent, and following people's."""
    return (*PUSH_SCOPES, *PEOPLE_SCOPES)


@pytest.fixture
def people(emulator: GraphEmulator, count: int) -> list[User]:
    """``count`` colleagues in Graph, each signed in to Teams."""
    emulator.default_app.consented_scopes.update(PEOPLE_SCOPES)
    return [
        emulator.add_colleague(
            display_name=f"Colleague {n:04d}", upn=f"colleague{n:04d}@contoso.example"
        )
        for n in range(count)
    ]


@pytest.fixture
def config_entry(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    people: list[User],
) -> MockConfigEntry:
    """The account following ``people``, as "Add person" stores them."""
    follow(hass, emulator, config_entry, people)
    return config_entry


def logged_as_home_assistant_does(caplog: pytest.LogCaptureFixture) -> None:
    """Log warnings and worse, as Home Assistant does unless started verbose.

    The test harness logs at info: the entity registry's "Registered new entity"
    line for each of 3,900 entities, each record formatted and kept by pytest,
    would be a third of the setup time and 3.7 MiB that Home Assistant never spends.
    """
    caplog.set_level(logging.WARNING)


def people_reads(emulator: GraphEmulator) -> int:
    return len(emulator.graph_calls("getPresencesByUserId"))


def graph_requests(emulator: GraphEmulator) -> int:
    return len([r for r in emulator.requests if r.server == "graph"])


def sensor_of(person: User) -> str:
    return f"sensor.{person.display_name.lower().replace(' ', '_')}_presence"


@pytest.mark.parametrize("attempt", range(SETUPS))
@pytest.mark.parametrize("count", PEOPLE)
async def test_people_setup(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    people: list[User],
    count: int,
    attempt: int,
    results: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first setup of an account following ``count`` people (wall clock).

    What a person adds is the growth from 1 person: a first setup carries one-off
    costs (translations, the platforms' first entity) that no person adds. Each
    ``attempt`` is a Home Assistant of its own: one run swings with the machine.
    """
    logged_as_home_assistant_does(caplog)
    warm_up_imports()
    start = real_seconds()
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    setup_ms = (real_seconds() - start) * 1000
    assert all(state_of(hass, sensor_of(person)) == "available" for person in people)
    results.setdefault("people_setup_ms", {}).setdefault(str(count), []).append(
        setup_ms
    )


@pytest.mark.parametrize("count", PEOPLE)
async def test_people_polled(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    people: list[User],
    count: int,
    results: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without Instant updates: the entities made, then an hour of reads."""
    logged_as_home_assistant_does(caplog)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    interval = config_entry.runtime_data.coordinator.update_interval
    assert interval is not None
    reads, requests = people_reads(emulator), graph_requests(emulator)

    await advance(hass, freezer, interval * (HOUR // interval.seconds), step=interval)

    results.setdefault("people_polled", {})[str(count)] = {
        "entities": len(hass.states.async_entity_ids()),
        "registered": len(er.async_get(hass).entities),
        "interval_s": interval.total_seconds(),
        "people_reads_per_hour": people_reads(emulator) - reads,
        "graph_requests_per_hour": graph_requests(emulator) - requests,
    }


@pytest.mark.parametrize("count", PEOPLE)
async def test_people_memory(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    count: int,
    results: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What setting the account up keeps allocated, traced (Python's allocations).

    Apart from the setup time: tracing slows the setup down several times over.
    """
    logged_as_home_assistant_does(caplog)
    warm_up_imports()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        gc.collect()
        added = tracemalloc.get_traced_memory()[0] - before
        ours = sum(
            statistic.size
            for statistic in tracemalloc.take_snapshot().statistics("filename")
            if INTEGRATION_FOLDER in statistic.traceback[0].filename
        )
    finally:
        tracemalloc.stop()
    results.setdefault("people_memory_kib", {})[str(count)] = added / 1024
    results.setdefault("people_own_memory_kib", {})[str(count)] = ours / 1024


@pytest.mark.parametrize("options", [{CONF_INSTANT_UPDATES: True}])
@pytest.mark.parametrize("count", PUSHED_PEOPLE)
async def test_people_pushed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    people: list[User],
    count: int,
    results: dict[str, Any],
) -> None:
    """With Instant updates: subscriptions held, reads in a healthy hour, latency.

    The hour has a change of a followed person every 2 minutes; the latency is
    measured on the wall clock with Graph delivering 1 s late, changes 5 minutes
    apart (applied as they come).
    """
    held = emulator.subscriptions.all()
    figures: dict[str, Any] = {
        "subscriptions": len(held),
        "ids_in_subscription": len(held[0].users) if held else 0,
    }
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=20))
    reads, requests = people_reads(emulator), graph_requests(emulator)
    for n in range(HOUR // CHANGE_EVERY):
        availability, activity, _ = STATES[n % 2]
        person = people[(n // 2) % len(people)]
        emulator.set_client_session("teams", availability, activity, user=person)
        await advance_delivering(
            hass, freezer, emulator, timedelta(seconds=CHANGE_EVERY)
        )
    figures["people_reads_per_hour"] = people_reads(emulator) - reads
    figures["graph_requests_per_hour"] = graph_requests(emulator) - requests
    figures["subscriptions_after_hour"] = len(emulator.subscriptions.all())
    figures["mode"] = state_of(hass, "sensor.adele_vance_update_mode")

    emulator.subscriptions.delivery.delay = DELIVERY_DELAY
    delays = []
    for change in range(CHANGES):
        freezer.tick(timedelta(minutes=5))
        availability, activity, shown = STATES[change % 2]
        person = people[change % min(len(people), 5)]
        if state_of(hass, sensor_of(person)) == shown:
            availability, activity, shown = STATES[(change + 1) % 2]
        start = real_seconds()
        emulator.set_client_session("teams", availability, activity, user=person)
        while state_of(hass, sensor_of(person)) != shown:
            assert real_seconds() - start < 10, "the change never arrived"
            await asyncio.sleep(0)  # the loop's timers are frozen
        delays.append(real_seconds() - start)
        await settle(hass, emulator)
    figures["change_to_sensor_s"] = {
        "median": statistics.median(delays),
        "p99": percentile(delays, 0.99),
    }
    assert push_entry.runtime_data.people is not None
    results.setdefault("people_pushed", {})[str(count)] = figures
