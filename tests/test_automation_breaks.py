"""Breaks found in what automations see of a read: sensors, triggers, conditions.

Real behaviour through Home Assistant against the loopback emulator, the clock
moved with ``freezer``.
"""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from graph_emulator import GraphEmulator

from .common import PRESENCE, advance

ACTIVITY = "sensor.adele_vance_activity"


@pytest.mark.usefixtures("setup_integration")
async def test_a_huge_new_value_is_kept_short(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A megabyte of availability must not land whole in a state and in the log."""
    huge = "Focusing" + "x" * 1_000_000
    emulator.set_client_session("desktop", huge, huge)
    await advance(hass, freezer, timedelta(minutes=2))
    for entity_id in (PRESENCE, ACTIVITY):
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.state == "presence_unknown"
        shown = state.attributes["graph_value"]
        assert shown.startswith("Focusing")
        assert len(shown) <= 255
    assert "x" * 1_000 not in caplog.text


@pytest.mark.usefixtures("setup_integration")
async def test_ever_new_values_are_not_logged_for_ever(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Graph that sends a new word every read logs a few of them, not every read.

    Each is remembered to be logged once: unbounded, that memory grows all day too.
    """
    for read in range(100):
        emulator.set_client_session("desktop", f"Focusing{read}", "Available")
        await advance(hass, freezer, timedelta(seconds=30))
    logged = caplog.text.count("unknown availability")
    assert 1 <= logged <= 20
