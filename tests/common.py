"""Helpers for tests that drive Home Assistant's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry, ConfigFlowResult
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Context, HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator, RecordedRequest

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_SECRET = "s3cret-value"
APP_PRESENCE = "select.adele_vance_presence_from_home_assistant"
PREFERRED_PRESENCE = "select.adele_vance_presence_override"
PRESENCE = "sensor.adele_vance_presence"


async def advance(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    duration: timedelta,
    *,
    step: timedelta = timedelta(seconds=10),
    check: Callable[[], None] | None = None,
) -> None:
    """Move the clock forward in steps, letting every timer and request run.

    ``check`` runs after each step, to assert something holds the whole time.
    """
    end = dt_util.utcnow() + duration
    while (now := dt_util.utcnow()) < end:
        freezer.tick(min(step, end - now))
        async_fire_time_changed(hass)
        # The keep-alive runs as a background task; let it finish within the step.
        await hass.async_block_till_done(wait_background_tasks=True)
        if check is not None:
            check()


async def step_until(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    condition: Callable[[], object],
    *,
    limit: timedelta = timedelta(minutes=2),
) -> datetime:
    """Move the clock a second at a time until ``condition`` holds; return when.

    For requests the emulator answers late: under ``freezer`` the loop's clock
    stands still, so the late answer and the client's timeout come only when time
    is fired, and ``advance`` (which waits for every task) would wait forever.
    Between steps the loop runs, sockets included, without waiting on any task.
    """
    end = dt_util.utcnow() + limit
    while True:
        for _ in range(1_000):
            if condition():
                return dt_util.utcnow()
            await asyncio.sleep(0)
        assert dt_util.utcnow() < end, "the condition never held"
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state, failing clearly when the entity does not exist."""
    state = hass.states.get(entity_id)
    assert state is not None, f"{entity_id} does not exist"
    return state.state


async def select(
    hass: HomeAssistant,
    option: str,
    entity_id: str = APP_PRESENCE,
    context: Context | None = None,
) -> None:
    """Choose a presence the way a user does (by default, the app presence)."""
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id, ATTR_OPTION: option},
        blocking=True,
        context=context,
    )


def set_calls(emulator: GraphEmulator) -> list[RecordedRequest]:
    """The setPresence requests Graph accepted."""
    return [call for call in emulator.graph_calls("setPresence") if call.status == 200]


def reauth_flows(hass: HomeAssistant) -> list[ConfigFlowResult]:
    """The integration's reauthentication flows in progress."""
    return [
        flow
        for flow in hass.config_entries.flow.async_progress()
        if flow["handler"] == DOMAIN and flow["context"]["source"] == SOURCE_REAUTH
    ]


async def call(
    hass: HomeAssistant, entry: ConfigEntry, action: str, **data: Any
) -> Any:
    """Run one of the integration's actions for ``entry``, as an automation does."""
    return await hass.services.async_call(
        DOMAIN,
        action,
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        return_response=action == "get_presence",
    )


def token_granting(
    emulator: GraphEmulator,
    token: dict[str, Any],
    scopes: tuple[str, ...],
    lifetime: timedelta,
) -> dict[str, Any]:
    """A stored browser token whose sign-in was granted ``scopes``, and says so."""
    return {
        **token,
        "access_token": emulator.issue_token(scopes=scopes, lifetime=lifetime),
        "scope": " ".join(scopes),
        "expires_at": time.time() + lifetime.total_seconds(),
    }
