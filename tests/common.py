"""Helpers for tests that drive Home Assistant's clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed


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
