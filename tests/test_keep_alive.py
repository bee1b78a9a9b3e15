"""The presence keeper holds the app session as Graph's rules require, and no more.

Time is simulated with ``freezer``; every request goes over loopback HTTP to the
emulator, which applies Graph's fading and expiry rules on the same clock.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import (
    CONF_EXPIRATION,
    CONF_READ_INTERVAL,
    DOMAIN,
)
from graph_emulator import GraphEmulator

from .common import (
    APP_PRESENCE,
    CLIENT_ID,
    PRESENCE,
    advance,
    call,
    select,
    set_calls,
    state_of,
)

EIGHT_HOURS = timedelta(hours=8)
WRITE_TRANSIT = timedelta(seconds=5)
"""How long a write takes to reach Graph here: a keep-alive sent at the last moment
lands after the state faded, and the emulator counts that as a lapse. With the clock
moved in 10 s steps a timer fires up to 10 s late, so 15 s of the 20 s margin go."""


@pytest.mark.usefixtures("setup_integration")
async def test_available_held_for_eight_hours(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    emulator.write_transit = WRITE_TRANSIT
    await select(hass, "available")

    def shows_available() -> None:
        assert emulator.presence() == ("Available", "Available")

    await advance(hass, freezer, EIGHT_HOURS, check=shows_available)
    assert emulator.lapses == []
    calls = len(set_calls(emulator))
    assert 96 <= calls <= 106
    assert state_of(hass, PRESENCE) == "available"


HELD_STATES = {
    "busy_in_a_call": ("Busy", "InACall"),
    "busy_in_a_conference_call": ("Busy", "InAConferenceCall"),
    "away": ("Away", "Away"),
    "do_not_disturb_presenting": ("DoNotDisturb", "Presenting"),
}
"""Every app presence that does not fade, and what Teams shows for it."""


@pytest.mark.parametrize(
    ("presence", "expiration", "most_calls"),
    [
        *((presence, 60, 9) for presence in HELD_STATES),
        ("busy_in_a_call", 240, 3),
    ],
)
async def test_held_for_eight_hours(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    presence: str,
    expiration: int,
    most_calls: int,
) -> None:
    """Each state holds without a gap, at one write per session expiration."""
    hass.config_entries.async_update_entry(
        config_entry, options={**config_entry.options, CONF_EXPIRATION: expiration}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    emulator.write_transit = WRITE_TRANSIT
    await select(hass, presence)
    assert set_calls(emulator)[-1].body["expirationDuration"] == (
        "PT1H" if expiration == 60 else "PT4H"
    )

    def shows_it() -> None:
        assert emulator.presence() == HELD_STATES[presence]

    await advance(hass, freezer, EIGHT_HOURS, check=shows_it)
    assert emulator.lapses == []
    assert len(set_calls(emulator)) <= most_calls


@pytest.mark.usefixtures("setup_integration")
async def test_hold_is_cleared_once_at_its_deadline(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    start = dt_util.utcnow()
    await hass.services.async_call(
        DOMAIN,
        "set_presence",
        {
            "config_entry_id": hass.config_entries.async_entries(DOMAIN)[0].entry_id,
            "presence": "do_not_disturb_presenting",
            "hold_for": {"minutes": 45},
        },
        blocking=True,
    )
    assert state_of(hass, APP_PRESENCE) == "do_not_disturb_presenting"
    # The session would outlive the hold by little if Home Assistant stopped.
    assert set_calls(emulator)[-1].body["expirationDuration"] == "PT46M"

    await advance(hass, freezer, timedelta(minutes=44), step=timedelta(seconds=30))
    assert emulator.presence() == ("DoNotDisturb", "Presenting")
    assert emulator.graph_calls("clearPresence") == []

    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=1))
    clears = emulator.graph_calls("clearPresence")
    assert len(clears) == 1
    assert clears[0].body == {"sessionId": CLIENT_ID}
    assert clears[0].time - (start + timedelta(minutes=45)) <= timedelta(seconds=5)
    assert emulator.app_session(CLIENT_ID) is None
    assert state_of(hass, APP_PRESENCE) == "none"

    await advance(hass, freezer, timedelta(hours=1), step=timedelta(minutes=1))
    assert len(emulator.graph_calls("clearPresence")) == 1


@pytest.mark.usefixtures("setup_integration")
async def test_hold_returns_to_the_state_before_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    await select(hass, "available")
    await hass.services.async_call(
        DOMAIN,
        "set_presence",
        {
            "config_entry_id": hass.config_entries.async_entries(DOMAIN)[0].entry_id,
            "presence": "busy_in_a_conference_call",
            "hold_for": {"minutes": 30},
        },
        blocking=True,
    )
    assert emulator.presence() == ("Busy", "InAConferenceCall")
    await advance(hass, freezer, timedelta(minutes=31))
    assert emulator.presence() == ("Available", "Available")
    assert state_of(hass, APP_PRESENCE) == "available"
    assert emulator.graph_calls("clearPresence") == []


@pytest.fixture
def short_expiration(options: dict[str, Any]) -> dict[str, Any]:
    """Sessions that expire within a 20-minute outage."""
    options[CONF_EXPIRATION] = 5
    return options


@pytest.mark.usefixtures("short_expiration", "setup_integration")
async def test_outage_keeps_the_wish_and_restores_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await select(hass, "busy_in_a_call")
    caplog.clear()
    caplog.set_level(logging.INFO, logger="custom_components.teams_presence_keeper")

    await emulator.refuse_connections()
    await advance(hass, freezer, timedelta(minutes=20))
    # Graph dropped the expired session; Home Assistant still wants Busy.
    assert emulator.presence() == ("Offline", "Offline")
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE

    await emulator.accept_connections()
    back = dt_util.utcnow()
    await advance(hass, freezer, timedelta(seconds=60), step=timedelta(seconds=5))
    restored = [c for c in set_calls(emulator) if c.time >= back]
    assert restored
    assert restored[0].time - back <= timedelta(seconds=60)
    assert emulator.presence() == ("Busy", "InACall")
    assert state_of(hass, PRESENCE) == "busy"

    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len([m for m in messages if "Error fetching" in m]) == 1
    assert len([m for m in messages if "recovered" in m]) == 1


@pytest.mark.usefixtures("setup_integration")
async def test_retry_after_is_honoured(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    emulator.throttle(1, retry_after=120)
    throttled_at = dt_util.utcnow()
    await select(hass, "away")
    # The wish is kept while Graph asks us to wait.
    assert state_of(hass, APP_PRESENCE) == "away"
    await advance(hass, freezer, timedelta(seconds=119), step=timedelta(seconds=1))
    assert [r for r in emulator.requests if r.time > throttled_at] == []

    await advance(hass, freezer, timedelta(seconds=2), step=timedelta(seconds=1))
    assert emulator.presence() == ("Away", "Away")


@pytest.mark.usefixtures("setup_integration")
async def test_burst_of_selections_ends_with_the_last(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    options = ["available", "busy_in_a_call", "away", "do_not_disturb_presenting"]
    wishes = [options[i % len(options)] for i in range(99)] + [
        "busy_in_a_conference_call"
    ]
    await asyncio.gather(*(select(hass, option) for option in wishes))
    await hass.async_block_till_done()

    assert emulator.presence() == ("Busy", "InAConferenceCall")
    assert set_calls(emulator)[-1].body["activity"] == "InAConferenceCall"
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_conference_call"
    # The first wish was in flight when the others came; the last one follows it.
    assert len(set_calls(emulator)) <= 2


@pytest.mark.usefixtures("setup_integration")
async def test_server_error_keeps_the_wish_and_retries(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    await select(hass, "available")
    emulator.fail(1, status=500)
    await select(hass, "away")
    assert state_of(hass, APP_PRESENCE) == "away"
    assert emulator.presence() == ("Available", "Available")
    await advance(hass, freezer, timedelta(seconds=10), step=timedelta(seconds=1))
    assert emulator.presence() == ("Away", "Away")


async def test_graph_refusal_leaves_the_select_unchanged(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    await select(hass, "available")
    read_only = emulator.issue_token(scopes=("Presence.Read", "User.Read"))
    token = {**setup_integration.data["token"], "access_token": read_only}
    hass.config_entries.async_update_entry(
        setup_integration, data={**setup_integration.data, "token": token}
    )
    with pytest.raises(HomeAssistantError, match="refused"):
        await select(hass, "away")
    assert state_of(hass, APP_PRESENCE) == "available"
    assert emulator.presence() == ("Available", "Available")
    assert setup_integration.state is ConfigEntryState.LOADED


async def test_restart_during_a_hold(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    entry = setup_integration
    start = dt_util.utcnow()
    await hass.services.async_call(
        DOMAIN,
        "set_presence",
        {
            "config_entry_id": entry.entry_id,
            "presence": "busy_in_a_call",
            "hold_for": {"minutes": 45},
        },
        blocking=True,
    )
    await advance(hass, freezer, timedelta(minutes=10))
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert emulator.graph_calls("clearPresence") == []
    await advance(hass, freezer, timedelta(minutes=5))

    before = len(set_calls(emulator))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert len(set_calls(emulator)) == before + 1
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert emulator.graph_calls("clearPresence") == []

    await advance(hass, freezer, timedelta(minutes=31), step=timedelta(seconds=5))
    clears = emulator.graph_calls("clearPresence")
    assert len(clears) == 1
    assert abs(clears[0].time - (start + timedelta(minutes=45))) <= timedelta(seconds=5)


async def test_hold_that_ended_while_down_is_not_reasserted(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    entry = setup_integration
    await select(hass, "available")
    await hass.services.async_call(
        DOMAIN,
        "set_presence",
        {
            "config_entry_id": entry.entry_id,
            "presence": "busy_in_a_call",
            "hold_for": {"minutes": 10},
        },
        blocking=True,
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
    await advance(hass, freezer, timedelta(minutes=20), step=timedelta(minutes=1))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set_calls(emulator)[-1].body["availability"] == "Available"
    assert state_of(hass, APP_PRESENCE) == "available"


async def test_shorter_expiration_for_the_same_presence_is_sent(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    """Else Graph keeps the longer session: Teams would show Busy long after a stop."""
    for minutes in (240, 5):
        await hass.services.async_call(
            DOMAIN,
            "set_presence",
            {
                "config_entry_id": setup_integration.entry_id,
                "presence": "busy_in_a_call",
                "expiration": minutes,
            },
            blocking=True,
        )
    assert [call.body["expirationDuration"] for call in set_calls(emulator)] == [
        "PT4H",
        "PT5M",
    ]
    session = emulator.app_session(CLIENT_ID)
    assert session is not None
    assert session.expires_at - dt_util.utcnow() <= timedelta(minutes=5)


@pytest.mark.usefixtures("short_expiration", "setup_integration")
async def test_a_session_graph_dropped_is_pending(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """Writes failing past the expiration: Graph no longer holds what is shown."""
    await select(hass, "busy_in_a_call")
    sent_at = set_calls(emulator)[-1].time
    await emulator.refuse_connections()
    await advance(hass, freezer, sent_at + timedelta(minutes=4) - dt_util.utcnow())
    assert in_teams(hass) == "applied"

    await advance(hass, freezer, sent_at + timedelta(minutes=5) - dt_util.utcnow())
    assert emulator.app_session(CLIENT_ID) is None
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert in_teams(hass) == "pending"

    await emulator.accept_connections()
    await advance(hass, freezer, timedelta(seconds=60), step=timedelta(seconds=5))
    assert emulator.presence() == ("Busy", "InACall")
    assert in_teams(hass) == "applied"


def in_teams(hass: HomeAssistant) -> object:
    """Whether the app presence select says Teams has its choice."""
    state = hass.states.get(APP_PRESENCE)
    assert state is not None
    return state.attributes["in_teams"]


async def change_options_or_restart(
    hass: HomeAssistant, entry: MockConfigEntry, how: str
) -> None:
    """Reload the entry through an options change, or unload it and set it up again."""
    if how == "options":
        flow = await hass.config_entries.options.async_init(entry.entry_id)
        await hass.config_entries.options.async_configure(
            flow["flow_id"], {**entry.options, CONF_READ_INTERVAL: 60}
        )
    else:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Set up again after the wait: its first read waits too.
    assert entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.parametrize("how", ["options", "restart"])
async def test_retry_after_outlives_a_reload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    how: str,
) -> None:
    """Nothing reaches Graph before the wait it asked for ends, reload or not."""
    emulator.throttle(1, retry_after=300)
    await select(hass, "away")
    (throttled,) = [request for request in emulator.requests if request.status == 429]
    await advance(hass, freezer, timedelta(seconds=10))
    await change_options_or_restart(hass, setup_integration, how)

    await advance(
        hass,
        freezer,
        throttled.time + timedelta(seconds=299) - dt_util.utcnow(),
        step=timedelta(seconds=1),
    )
    assert [
        request for request in emulator.requests if request.time > throttled.time
    ] == []

    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=5))
    assert setup_integration.state is ConfigEntryState.LOADED
    assert set_calls(emulator)[0].time >= throttled.time + timedelta(seconds=300)
    assert emulator.presence() == ("Away", "Away")
    assert state_of(hass, APP_PRESENCE) == "away"
    assert in_teams(hass) == "applied"


async def test_a_store_written_before_the_policy_still_holds_the_wait(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The keeper's Store as version 0.x wrote it: the wait it names holds every request."""
    until = dt_util.utcnow() + timedelta(minutes=5)
    hass_storage[f"{DOMAIN}.{config_entry.entry_id}"] = {
        "version": 1,
        "key": f"{DOMAIN}.{config_entry.entry_id}",
        "data": {
            "wish": {"presence": "away", "until": None, "after_hold": None},
            "session": None,
            "preferred": None,
            "preferred_wish": None,
            "throttled_until": until.isoformat(),
        },
    }
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY

    await advance(
        hass,
        freezer,
        until - dt_util.utcnow() - timedelta(seconds=1),
        step=timedelta(seconds=1),
    )
    assert emulator.requests == []
    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=5))
    assert hass.config_entries.async_entries(DOMAIN)[0].state is ConfigEntryState.LOADED
    assert min(request.time for request in emulator.requests) >= until
    assert emulator.presence() == ("Away", "Away")


@pytest.mark.usefixtures("setup_integration")
async def test_an_absurd_retry_after_waits_an_hour_at_most(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    emulator.throttle(1, retry_after="1e300")
    await select(hass, "away")
    assert in_teams(hass) == "pending"
    await advance(hass, freezer, timedelta(minutes=59), step=timedelta(minutes=1))
    assert set_calls(emulator) == []
    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=10))
    assert emulator.presence() == ("Away", "Away")
    assert in_teams(hass) == "applied"


@pytest.mark.usefixtures("setup_integration")
async def test_a_hold_returns_with_the_expiration_wanted_before_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """Busy for 5 minutes stays Busy for 5 minutes after a hold, not the hour."""
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await call(hass, entry, "set_presence", presence="busy_in_a_call", expiration=5)
    await call(hass, entry, "set_presence", presence="away", hold_for={"minutes": 10})
    await advance(hass, freezer, timedelta(minutes=11), step=timedelta(seconds=5))
    assert emulator.presence() == ("Busy", "InACall")
    assert set_calls(emulator)[-1].body["expirationDuration"] == "PT5M"
    session = emulator.app_session(CLIENT_ID)
    assert session is not None
    assert session.expires_at - dt_util.utcnow() <= timedelta(minutes=5)
