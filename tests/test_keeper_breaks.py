"""Breaks found in the keeper and its writer, each kept as the test that found it.

Real behaviour through Home Assistant against the loopback emulator, the clock
moved with ``freezer``.
"""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.teams_presence.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import advance, select


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
