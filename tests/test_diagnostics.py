"""Diagnostics show the keeper's state and never a credential."""

from __future__ import annotations

from datetime import timedelta
import json

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.teams_presence.const import CONF_GRAPH_URL, CONF_LOGIN_URL
from custom_components.teams_presence.diagnostics import (
    async_get_config_entry_diagnostics,
)
from graph_emulator import GraphEmulator

from .common import advance, select
from .secrets_guard import leaked


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await select(hass, "busy_in_a_call")
    emulator.fail(1, status=503)
    await advance(hass, freezer, timedelta(seconds=30))

    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)

    assert not leaked(emulator, json.dumps(diagnostics))
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    # Free ports and the time of the run differ from run to run.
    assert diagnostics == snapshot(
        exclude=props(
            CONF_GRAPH_URL,
            CONF_LOGIN_URL,
            "sent_at",
            "expires_at",
            "next_sync",
            "last_write",
            "recent_errors",
        )
    )
