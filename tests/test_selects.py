"""What the two selects tell a user: whether Teams has the choice yet, and until when.

Both keep a choice made while Graph is unreachable or throttling, show it as
pending, and send it when Graph answers; the states they change carry the context
of whoever chose.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Context, Event, HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import (
    APP_PRESENCE,
    CLIENT_ID,
    PREFERRED_PRESENCE,
    PRESENCE,
    advance,
    call,
    select,
    set_calls,
    state_of,
)


def attributes(hass: HomeAssistant, entity_id: str) -> dict[str, object]:
    state = hass.states.get(entity_id)
    assert state is not None
    return dict(state.attributes)


def current(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None
    return state


def preferred_sets(emulator: GraphEmulator) -> list[dict[str, object]]:
    """Bodies of the setUserPreferredPresence requests Graph accepted."""
    return [
        call.body
        for call in emulator.graph_calls("setUserPreferredPresence")
        if call.status == 200 and isinstance(call.body, dict)
    ]


async def hold_busy_after_away(
    hass: HomeAssistant, entry: MockConfigEntry, hold_for: timedelta
) -> datetime:
    """Choose Away, then hold Busy in a call for ``hold_for``; return when it began."""
    await select(hass, "away")
    start = dt_util.utcnow()
    await call(
        hass,
        entry,
        "set_presence",
        presence="busy_in_a_call",
        hold_for={"seconds": hold_for.total_seconds()},
    )
    return start


@pytest.mark.usefixtures("setup_integration")
async def test_both_selects_start_applied_with_nothing_held(
    hass: HomeAssistant,
) -> None:
    assert attributes(hass, APP_PRESENCE) | {"options": None} == {
        "options": None,
        "friendly_name": "Adele Vance Presence from Home Assistant",
        "in_teams": "applied",
    }
    assert attributes(hass, PREFERRED_PRESENCE) | {"options": None} == {
        "options": None,
        "friendly_name": "Adele Vance Presence override",
        "in_teams": "applied",
    }


async def test_a_hold_shows_its_end_and_what_comes_after(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    start = await hold_busy_after_away(hass, setup_integration, timedelta(minutes=30))
    shown = attributes(hass, APP_PRESENCE)
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert shown["in_teams"] == "applied"
    assert shown["hold_until"] == start + timedelta(minutes=30)
    assert shown["after_hold"] == "away"

    await advance(hass, freezer, timedelta(minutes=31))
    assert state_of(hass, APP_PRESENCE) == "away"
    assert "hold_until" not in attributes(hass, APP_PRESENCE)
    assert "after_hold" not in attributes(hass, APP_PRESENCE)
    assert emulator.presence() == ("Away", "Away")


@pytest.mark.usefixtures("setup_integration")
async def test_choices_during_an_outage_are_pending_then_applied(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both selects keep the choice, say it is pending, and apply it once Graph is back."""
    await emulator.refuse_connections()
    chosen_at = dt_util.utcnow()
    # Neither raises: the choice is kept, not refused.
    await select(hass, "away")
    await select(hass, "do_not_disturb", PREFERRED_PRESENCE)
    assert state_of(hass, APP_PRESENCE) == "away"
    assert state_of(hass, PREFERRED_PRESENCE) == "do_not_disturb"
    assert attributes(hass, APP_PRESENCE)["in_teams"] == "pending"
    assert attributes(hass, PREFERRED_PRESENCE)["in_teams"] == "pending"
    # Do not disturb lasts a day from the choice, however late it reaches Teams.
    ends = chosen_at + timedelta(days=1)
    assert attributes(hass, PREFERRED_PRESENCE)["expires_at"] == ends

    await advance(hass, freezer, timedelta(minutes=10))
    assert attributes(hass, PREFERRED_PRESENCE)["in_teams"] == "pending"
    assert preferred_sets(emulator) == []

    await emulator.accept_connections()
    await advance(hass, freezer, timedelta(minutes=1), step=timedelta(seconds=5))
    assert attributes(hass, APP_PRESENCE)["in_teams"] == "applied"
    assert attributes(hass, PREFERRED_PRESENCE)["in_teams"] == "applied"
    # Sent for what is left of the day, not a day from now.
    assert preferred_sets(emulator) == [
        {
            "availability": "DoNotDisturb",
            "activity": "DoNotDisturb",
            "expirationDuration": "PT23H50M",
        }
    ]
    assert emulator.presence() == ("DoNotDisturb", "DoNotDisturb")
    assert emulator.app_session(CLIENT_ID) is not None
    assert state_of(hass, PRESENCE) == "do_not_disturb"
    # No traceback reached the log as a warning or an error.
    assert not [
        record
        for record in caplog.records
        if record.exc_info and record.levelno >= logging.WARNING
    ]


@pytest.mark.usefixtures("setup_integration")
async def test_a_throttled_override_waits_for_retry_after(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    emulator.throttle(1, retry_after=90)
    await select(hass, "busy", PREFERRED_PRESENCE)
    assert attributes(hass, PREFERRED_PRESENCE)["in_teams"] == "pending"
    await advance(hass, freezer, timedelta(seconds=85), step=timedelta(seconds=5))
    assert preferred_sets(emulator) == []
    await advance(hass, freezer, timedelta(seconds=10), step=timedelta(seconds=5))
    assert [body["availability"] for body in preferred_sets(emulator)] == ["Busy"]
    assert attributes(hass, PREFERRED_PRESENCE)["in_teams"] == "applied"


async def test_a_pending_override_survives_a_reload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    await emulator.refuse_connections()
    await select(hass, "be_right_back", PREFERRED_PRESENCE)
    await hass.config_entries.async_reload(setup_integration.entry_id)
    await hass.async_block_till_done()
    states = [setup_integration.state]

    await emulator.accept_connections()
    await advance(hass, freezer, timedelta(minutes=2))
    states.append(setup_integration.state)
    assert states == [ConfigEntryState.SETUP_RETRY, ConfigEntryState.LOADED]
    await advance(hass, freezer, timedelta(seconds=30))
    assert [body["availability"] for body in preferred_sets(emulator)] == [
        "BeRightBack"
    ]
    assert state_of(hass, PREFERRED_PRESENCE) == "be_right_back"
    assert attributes(hass, PREFERRED_PRESENCE)["in_teams"] == "applied"


async def test_an_action_s_changes_carry_its_context(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    """So the logbook says which automation or user changed the state."""
    context = Context()
    await hass.services.async_call(
        DOMAIN,
        "set_presence",
        {"config_entry_id": setup_integration.entry_id, "presence": "away"},
        blocking=True,
        context=context,
    )
    assert current(hass, APP_PRESENCE).context.id == context.id
    assert current(hass, PRESENCE).context.id == context.id

    choice = Context()
    await select(hass, "busy", PREFERRED_PRESENCE, context=choice)
    assert current(hass, PREFERRED_PRESENCE).context.id == choice.id
    assert current(hass, PRESENCE).context.id == choice.id


@pytest.mark.usefixtures("setup_integration")
async def test_a_later_read_is_not_attributed_to_an_old_action(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    context = Context()
    await select(hass, "away", context=context)
    emulator.set_client_session("desktop", "Busy", "InACall")
    await advance(hass, freezer, timedelta(minutes=1))
    assert state_of(hass, PRESENCE) == "busy"
    assert current(hass, PRESENCE).context.id != context.id
    assert set_calls(emulator)


SESSION_EXPIRES = "sensor.adele_vance_app_session_expires"
BUSY = "binary_sensor.adele_vance_busy"


def contexts_by_entity(events: list[Event]) -> dict[str, set[str]]:
    """The ids of the contexts each entity's state changes carried."""
    seen: dict[str, set[str]] = {}
    for event in events:
        seen.setdefault(event.data["entity_id"], set()).add(event.context.id)
    return seen


async def test_overlapping_choices_each_carry_their_own_context(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    entity_registry: er.EntityRegistry,
    setup_integration: MockConfigEntry,
) -> None:
    """Two users choose at once against a slow Graph; a keep-alive names neither.

    The writer sends both wishes one after the other (the second while the first
    caller still waits), and each state names who wished what it shows.
    """
    entity_registry.async_update_entity(SESSION_EXPIRES, disabled_by=None)
    await hass.config_entries.async_reload(setup_integration.entry_id)
    await hass.async_block_till_done()
    alice, bob = [
        Context(
            user_id=(
                await hass.auth.async_create_user(name, group_ids=["system-admin"])
            ).id
        )
        for name in ("Alice", "Bob")
    ]
    emulator.latency = 0.3
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)

    await asyncio.gather(
        select(hass, "available", context=alice),
        select(hass, "busy", PREFERRED_PRESENCE, context=bob),
    )
    await hass.async_block_till_done()
    assert emulator.presence() == ("Busy", "Busy")
    assert attributes(hass, APP_PRESENCE)["in_teams"] == "applied"
    assert attributes(hass, PREFERRED_PRESENCE)["in_teams"] == "applied"
    seen = contexts_by_entity(changes)
    assert seen[APP_PRESENCE] == {alice.id}
    assert seen[SESSION_EXPIRES] == {alice.id}
    assert seen[PREFERRED_PRESENCE] == {bob.id}
    # The aggregate shows both choices: whichever was sent last names it.
    for shown in (PRESENCE, BUSY):
        assert len(seen[shown]) == 1
        assert seen[shown] <= {alice.id, bob.id}

    # The keep-alive of the Available session: a state write in the background.
    emulator.latency = 0
    changes.clear()
    await advance(hass, freezer, timedelta(minutes=5))
    assert len(set_calls(emulator)) == 2
    seen = contexts_by_entity(changes)
    assert SESSION_EXPIRES in seen
    assert not set().union(*seen.values()) & {alice.id, bob.id}


async def test_an_override_shows_its_end_when_teams_looks_the_same(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """A read that shows nothing new changes nothing: the end itself must show."""
    emulator.set_client_session("desktop", "DoNotDisturb", "DoNotDisturb")
    await advance(hass, freezer, timedelta(seconds=30))
    assert state_of(hass, PRESENCE) == "do_not_disturb"
    start = dt_util.utcnow()
    await call(
        hass,
        setup_integration,
        "set_preferred_presence",
        presence="do_not_disturb",
        expiration={"minutes": 10},
    )
    assert [body["expirationDuration"] for body in preferred_sets(emulator)] == [
        "PT10M"
    ]
    assert state_of(hass, PREFERRED_PRESENCE) == "do_not_disturb"
    assert attributes(hass, PREFERRED_PRESENCE)["expires_at"] == start + timedelta(
        minutes=10
    )

    await advance(hass, freezer, timedelta(minutes=10))
    assert emulator.presence() == ("DoNotDisturb", "DoNotDisturb")
    assert state_of(hass, PREFERRED_PRESENCE) == "none"
    assert "expires_at" not in attributes(hass, PREFERRED_PRESENCE)
    assert state_of(hass, PRESENCE) == "do_not_disturb"


async def test_a_hold_that_ends_during_retry_after_shows_what_comes_after(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """The select and get_presence show the wish in force; Graph gets it when allowed."""
    start = await hold_busy_after_away(hass, setup_integration, timedelta(minutes=2))
    emulator.throttle(1, retry_after=300)
    await advance(hass, freezer, timedelta(seconds=40))
    throttled = [request for request in emulator.requests if request.status == 429]
    assert len(throttled) == 1
    throttled_at = throttled[0].time

    await advance(hass, freezer, start + timedelta(minutes=2) - dt_util.utcnow())
    assert state_of(hass, APP_PRESENCE) == "away"
    assert attributes(hass, APP_PRESENCE) | {"options": None} == {
        "options": None,
        "friendly_name": "Adele Vance Presence from Home Assistant",
        "in_teams": "pending",
    }
    shown = await call(hass, setup_integration, "get_presence")
    assert shown is not None
    assert (shown["app_presence"], shown["app_presence_until"]) == ("away", None)
    # Graph still holds the hold's Busy: nothing is sent before Retry-After ends.
    assert emulator.presence() == ("Busy", "InACall")

    await advance(
        hass, freezer, throttled_at + timedelta(seconds=295) - dt_util.utcnow()
    )
    assert [
        request for request in emulator.requests if request.time > throttled_at
    ] == []
    await advance(hass, freezer, timedelta(seconds=10))
    assert emulator.presence() == ("Away", "Away")
    assert attributes(hass, APP_PRESENCE)["in_teams"] == "applied"
