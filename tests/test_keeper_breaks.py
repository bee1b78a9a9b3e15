"""Breaks found in the keeper and its writer, each kept as the test that found it.

Real behaviour through Home Assistant against the loopback emulator, the clock
moved with ``freezer``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)

from custom_components.teams_presence_keeper.const import DOMAIN
from custom_components.teams_presence_keeper.graph import AppPresence
from custom_components.teams_presence_keeper.keeper import SessionKeeper
from custom_components.teams_presence_keeper.session_records import SetSession
from graph_emulator import GraphEmulator

from .common import (
    APP_PRESENCE,
    PREFERRED_PRESENCE,
    advance,
    call,
    select,
    state_of,
    step_until,
)


@pytest.mark.usefixtures("setup_integration")
async def test_a_retry_after_of_zero_does_not_retry_at_once(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """429 with ``Retry-After: 0`` again and again must not become a request loop."""
    emulator.start_write_outage(status=429, retry_after=0)
    await select(hass, "away")
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    retry = entry.runtime_data.writer.next_sync
    assert retry is not None
    assert retry - dt_util.utcnow() >= timedelta(seconds=1)
    await advance(hass, freezer, timedelta(seconds=10), step=timedelta(seconds=1))
    assert 2 <= len(emulator.graph_calls("setPresence")) <= 11


# The keeper alone: table tests against its rules.

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def keeper_holding(
    presence: AppPresence, expiration: timedelta = HOUR
) -> SessionKeeper:
    """A keeper whose wish Graph accepted at T0."""
    keeper = SessionKeeper(expiration)
    keeper.want(presence, T0)
    request = keeper.due(T0)
    assert request is not None
    keeper.accepted(request, T0)
    return keeper


@pytest.mark.parametrize("back", [timedelta(minutes=10), timedelta(hours=2)])
@pytest.mark.parametrize(
    "presence", [AppPresence.AVAILABLE, AppPresence.BUSY_IN_A_CALL]
)
def test_a_clock_set_back_does_not_put_off_the_refresh(
    presence: AppPresence, back: timedelta
) -> None:
    """Graph's clock runs on: the session sent "in the future" is refreshed now.

    Otherwise Available fades (and Busy expires) while the keeper waits for its
    own clock to catch up with the moment it last sent.
    """
    keeper = keeper_holding(presence)
    now = T0 + timedelta(minutes=1) - back
    assert keeper.next_wake(now) == now
    assert keeper.due(now) == SetSession(presence, HOUR)


@pytest.mark.parametrize(
    "stored",
    [
        {"wish": {"presence": "focusing"}},
        {"wish": {"presence": "away", "until": "tomorrow"}},
        {"wish": {"presence": "away", "expiration": "PT5M"}},
        {"wish": ["away"]},
        {"session": {"presence": "away"}},
        {"session": {"presence": "away", "sent_at": 1, "expires_at": 2}},
        {"preferred": {"presence": "lunch", "expires_at": "2026-12-01T10:00:00+00:00"}},
        {"preferred_wish": {"presence": "busy", "expires_at": "never"}},
    ],
)
def test_a_store_it_cannot_read_does_not_stop_the_account(
    stored: dict[str, Any],
) -> None:
    """A store written by another version, or damaged, loses only what is unreadable."""
    keeper = SessionKeeper(HOUR)
    keeper.restore(stored, T0)
    keeper.due(T0, force=True)
    keeper.next_wake(T0)
    keeper.app_presence_applied(T0)
    keeper.preferred_presence(T0)


async def test_a_write_landing_after_a_reload_leaves_the_new_wish_stored(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The unloaded entry's late write must not store its old wish over the new one.

    Else the next restart brings back Busy, chosen before the reload.
    """
    key = f"{DOMAIN}.{setup_integration.entry_id}"
    # The write and the read that follows it come late.
    emulator.delay(2, 3)
    late = asyncio.create_task(select(hass, "busy_in_a_call"))
    for _ in range(100):
        await asyncio.sleep(0)
    assert await hass.config_entries.async_reload(setup_integration.entry_id)
    await select(hass, "away")
    await step_until(hass, freezer, late.done, limit=timedelta(seconds=30))
    await advance(hass, freezer, timedelta(seconds=10), step=timedelta(seconds=1))
    assert hass_storage[key]["data"]["wish"]["presence"] == "away"
    # Nor leave Teams showing it: Graph holds what the new entry was asked for.
    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=10))
    assert emulator.presence() == ("Away", "Away")


@pytest.mark.usefixtures("setup_integration")
async def test_an_override_that_ended_unsent_is_not_pending(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """Ended while Graph asked to wait: nothing is left to send, none is applied."""
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    emulator.throttle(1, retry_after=600)
    await call(
        hass,
        entry,
        "set_preferred_presence",
        presence="busy",
        expiration={"minutes": 5},
    )
    assert state_of(hass, PREFERRED_PRESENCE) == "busy"
    await advance(hass, freezer, timedelta(minutes=6), step=timedelta(seconds=10))
    state = hass.states.get(PREFERRED_PRESENCE)
    assert state is not None
    assert state.state == "none"
    assert state.attributes["in_teams"] == "applied"
    assert emulator.graph_calls("setUserPreferredPresence")[-1].status == 429


@pytest.mark.usefixtures("setup_integration")
async def test_choosing_no_override_when_none_shows_sends_nothing(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """The user's own status, chosen in Teams, is the same preferred presence.

    An automation that chooses ``none`` again and again must not clear it each time.
    """
    assert state_of(hass, PREFERRED_PRESENCE) == "none"
    await select(hass, "none", PREFERRED_PRESENCE)
    assert emulator.graph_calls("clearUserPreferredPresence") == []
    state = hass.states.get(PREFERRED_PRESENCE)
    assert state is not None
    assert (state.state, state.attributes["in_teams"]) == ("none", "applied")


@pytest.mark.parametrize("chosen_meanwhile", [False, True])
@pytest.mark.usefixtures("setup_integration")
async def test_a_hold_ending_after_the_sign_in_lapsed_shows_what_follows(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    chosen_meanwhile: bool,
) -> None:
    """Sign-in gone: nothing can be sent, but the select must not show the hold still.

    Also when a choice made meanwhile was refused for it.
    """
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    await call(hass, entry, "set_presence", presence="away", hold_for={"minutes": 10})
    emulator.revoke_access_tokens()
    emulator.revoke_refresh_tokens()
    if chosen_meanwhile:
        with pytest.raises(HomeAssistantError):
            await select(hass, "busy_in_a_call")
    await advance(hass, freezer, timedelta(minutes=12), step=timedelta(seconds=10))
    state = hass.states.get(APP_PRESENCE)
    assert state is not None
    assert state.state == "none"
    assert "hold_until" not in state.attributes
