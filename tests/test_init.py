"""Setting up, reloading and removing an account."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import (
    CONF_CLEAR_ON_REMOVE,
    CONF_READ_INTERVAL,
    DOMAIN,
)
from graph_emulator import GraphEmulator

from .common import CLIENT_ID, advance, select, set_calls, step_until


async def test_setup_and_unload_keep_the_session(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    await select(hass, "busy_in_a_call")
    assert await hass.config_entries.async_unload(setup_integration.entry_id)
    assert setup_integration.state is ConfigEntryState.NOT_LOADED
    # Unloading (or restarting) must not flicker Teams by clearing the session.
    assert emulator.graph_calls("clearPresence") == []
    assert emulator.presence() == ("Busy", "InACall")


@pytest.mark.parametrize(("clear", "clears"), [(True, 1), (False, 0)])
async def test_removal_clears_the_session_when_asked(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    clear: bool,
    clears: int,
) -> None:
    hass.config_entries.async_update_entry(
        setup_integration,
        options={**setup_integration.options, CONF_CLEAR_ON_REMOVE: clear},
    )
    await hass.async_block_till_done()
    await select(hass, "away")
    await hass.config_entries.async_remove(setup_integration.entry_id)
    await hass.async_block_till_done()
    assert len(emulator.graph_calls("clearPresence")) == clears
    assert (emulator.app_session(CLIENT_ID) is None) is clear


async def test_removal_survives_an_unreachable_graph(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await emulator.refuse_connections()
    await hass.config_entries.async_remove(setup_integration.entry_id)
    await hass.async_block_till_done()
    assert "Could not clear the Teams app presence" in caplog.text
    assert hass.config_entries.async_get_entry(setup_integration.entry_id) is None


async def test_removal_without_a_session(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    await hass.config_entries.async_remove(setup_integration.entry_id)
    await hass.async_block_till_done()
    assert [c.status for c in emulator.graph_calls("clearPresence")] == [404]


async def test_new_options_reload_without_flicker_but_token_updates_do_not(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    await select(hass, "available")
    account = setup_integration.runtime_data
    token = {**setup_integration.data["token"], "access_token": emulator.issue_token()}
    hass.config_entries.async_update_entry(
        setup_integration, data={**setup_integration.data, "token": token}
    )
    await hass.async_block_till_done()
    assert setup_integration.runtime_data is account

    flow = await hass.config_entries.options.async_init(setup_integration.entry_id)
    await hass.config_entries.options.async_configure(
        flow["flow_id"], {**setup_integration.options, CONF_READ_INTERVAL: 120}
    )
    await hass.async_block_till_done()
    reloaded = setup_integration.runtime_data
    assert reloaded is not account
    assert reloaded.coordinator.update_interval is not None
    assert reloaded.coordinator.update_interval.total_seconds() == 120
    # The reloaded keeper re-asserts the same state: no clear, no flicker.
    assert emulator.graph_calls("clearPresence") == []
    assert set_calls(emulator)[-1].body["availability"] == "Available"


async def test_unreachable_graph_at_setup_retries(
    hass: HomeAssistant, emulator: GraphEmulator, config_entry: MockConfigEntry
) -> None:
    await emulator.refuse_connections()
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.parametrize("token_change", [{"access_token": "revoked-token"}])
async def test_rejected_token_at_setup_starts_reauth(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    token_change: dict[str, Any],
) -> None:
    hass.config_entries.async_update_entry(
        config_entry,
        data={
            **config_entry.data,
            "token": {**config_entry.data["token"], **token_change},
        },
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def during_a_write(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    action: Callable[[str], Awaitable[object]],
    entry: MockConfigEntry,
) -> None:
    """Run ``action`` on the entry while a select's setPresence is on its way."""
    emulator.delay(1, 2)
    selecting = asyncio.ensure_future(select(hass, "available"))
    await step_until(hass, freezer, lambda: emulator.graph_calls("setPresence"))
    acting = asyncio.ensure_future(action(entry.entry_id))
    await step_until(hass, freezer, lambda: selecting.done() and acting.done())


async def test_write_in_flight_at_reload_leaves_one_writer(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """The unloaded keeper's late write schedules nothing: the new one alone decides."""
    await during_a_write(
        hass, freezer, emulator, hass.config_entries.async_reload, setup_integration
    )
    assert setup_integration.state is ConfigEntryState.LOADED
    await hass.async_block_till_done(wait_background_tasks=True)

    # The user ends the app presence on the new entry: nothing sets it again.
    await select(hass, "none")
    assert emulator.app_session(CLIENT_ID) is None
    cleared = len(emulator.requests)
    await advance(hass, freezer, timedelta(hours=1), step=timedelta(minutes=1))
    assert emulator.app_session(CLIENT_ID) is None
    assert [r for r in emulator.requests[cleared:] if "/setPresence" in r.path] == []


async def test_write_in_flight_at_unload_is_the_last(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    await during_a_write(
        hass, freezer, emulator, hass.config_entries.async_unload, setup_integration
    )
    sent = len(emulator.requests)
    await advance(hass, freezer, timedelta(hours=1), step=timedelta(minutes=1))
    assert emulator.requests[sent:] == []


async def clear_on_removal(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Turn the Clear on removal option on (a reload)."""
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_CLEAR_ON_REMOVE: True}
    )
    await hass.async_block_till_done()


async def remove_during_a_select(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    seconds: float,
) -> tuple[asyncio.Future[None], timedelta]:
    """Remove the account (Clear on removal on) while a select's write takes ``seconds``.

    Returns the select, perhaps still waiting, and how long the removal took.
    """
    await clear_on_removal(hass, entry)
    emulator.delay(1, seconds)
    selecting = asyncio.ensure_future(select(hass, "busy_in_a_call"))
    await step_until(hass, freezer, lambda: emulator.graph_calls("setPresence"))
    started = dt_util.utcnow()
    removing = asyncio.ensure_future(hass.config_entries.async_remove(entry.entry_id))
    return selecting, await step_until(hass, freezer, removing.done) - started


async def test_write_in_flight_at_removal_is_cleared_before_it_ends(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A setPresence that lands after removal's clear must not leave its session."""
    selecting, _ = await remove_during_a_select(
        hass, freezer, emulator, setup_integration, 2
    )

    # Removal is done: Teams holds no session of the app (the clear found the
    # session the write made), and nothing is left.
    assert emulator.app_session(CLIENT_ID) is None
    [landed] = emulator.graph_calls("setPresence")
    [cleared] = emulator.graph_calls("clearPresence")
    assert (landed.status, cleared.status) == (200, 200)
    await step_until(hass, freezer, selecting.done)
    await advance(hass, freezer, timedelta(hours=1), step=timedelta(minutes=1))
    assert emulator.app_session(CLIENT_ID) is None
    assert f"{DOMAIN}.{setup_integration.entry_id}" not in hass_storage


async def test_write_landing_after_removal_is_cleared_when_it_lands(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """Removal waits for a write in flight only so long; what lands later is ended."""
    selecting, took = await remove_during_a_select(
        hass, freezer, emulator, setup_integration, 15
    )
    assert took <= timedelta(seconds=11)
    assert emulator.graph_calls("clearPresence") == []

    [landing] = emulator.graph_calls("setPresence")
    await step_until(
        hass, freezer, lambda: landing.status and emulator.graph_calls("clearPresence")
    )
    await step_until(hass, freezer, selecting.done)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert landing.status == 200
    assert [call.status for call in emulator.graph_calls("clearPresence")] == [200]
    assert emulator.app_session(CLIENT_ID) is None


async def set_up_again_writing_slowly(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    seconds: float,
) -> timedelta:
    """Unload with a session wished, set up again; its re-assertion takes ``seconds``.

    Returns how long the setup took.
    """
    await select(hass, "busy_in_a_call")
    assert await hass.config_entries.async_unload(entry.entry_id)
    emulator.delay(1, 0)  # the first read, at once
    emulator.delay(1, seconds)  # the re-asserted session, slowly
    started = dt_util.utcnow()
    setting_up = asyncio.ensure_future(hass.config_entries.async_setup(entry.entry_id))
    return await step_until(hass, freezer, setting_up.done) - started


async def test_background_write_in_flight_at_removal_is_cleared(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """A background write is not cut off by the unload: cut off, it still lands."""
    await clear_on_removal(hass, setup_integration)
    await set_up_again_writing_slowly(hass, freezer, emulator, setup_integration, 5)
    await step_until(
        hass, freezer, lambda: len(emulator.graph_calls("setPresence")) > 1
    )
    removing = asyncio.ensure_future(
        hass.config_entries.async_remove(setup_integration.entry_id)
    )
    await step_until(hass, freezer, removing.done)
    assert emulator.app_session(CLIENT_ID) is None
    await advance(hass, freezer, timedelta(minutes=1), step=timedelta(seconds=1))
    assert emulator.app_session(CLIENT_ID) is None


async def test_setup_does_not_wait_for_the_first_write(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """A slow Graph must not hold up Home Assistant: the wish is re-asserted later."""
    took = await set_up_again_writing_slowly(
        hass, freezer, emulator, setup_integration, 15
    )
    assert took < timedelta(seconds=5)
    assert setup_integration.state is ConfigEntryState.LOADED
    await step_until(
        hass, freezer, lambda: len(emulator.graph_calls("setPresence")) > 1
    )
    [pending] = emulator.graph_calls("setPresence")[1:]
    assert pending.status == 0  # sent, not answered yet
    await step_until(hass, freezer, lambda: pending.status == 200)


async def test_a_429_landing_after_a_reload_holds_the_next_entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """Graph's wait is the account's: a write slower than unload waits for passes it on."""
    emulator.throttle(1, retry_after=300, delay=8)
    selecting = asyncio.ensure_future(select(hass, "busy_in_a_call"))
    await step_until(hass, freezer, lambda: emulator.graph_calls("setPresence"))
    reloading = asyncio.ensure_future(
        hass.config_entries.async_reload(setup_integration.entry_id)
    )
    landed = await step_until(hass, freezer, selecting.done)
    await step_until(hass, freezer, reloading.done)
    await hass.async_block_till_done(wait_background_tasks=True)
    [throttled] = [r for r in emulator.requests if r.status == 429]
    assert setup_integration.state is ConfigEntryState.LOADED
    assert landed < throttled.time + timedelta(seconds=10)

    await advance(
        hass,
        freezer,
        throttled.time + timedelta(seconds=299) - dt_util.utcnow(),
        step=timedelta(seconds=5),
    )
    assert [r.path for r in emulator.requests if r.time > landed] == []
