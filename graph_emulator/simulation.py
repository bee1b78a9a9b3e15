"""A working day for the demo: the user's Teams desktop client joins and leaves calls.

Without it the emulator's presence only changes when someone sets it, and a newcomer
looking at the demo would see sensors that never move.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from .server import GraphEmulator

DESKTOP_SESSION: Final = "teams-desktop"


@dataclass(frozen=True)
class Step:
    """What the desktop client shows, and for how long."""

    availability: str
    activity: str
    duration: timedelta


DAY: Final = (
    Step("Available", "Available", timedelta(minutes=2)),
    Step("Busy", "InACall", timedelta(minutes=3)),
    Step("Available", "Available", timedelta(minutes=2)),
    Step("DoNotDisturb", "Presenting", timedelta(minutes=3)),
    Step("Away", "Away", timedelta(minutes=1)),
    Step("Busy", "InAMeeting", timedelta(minutes=3)),
)
"""Repeats all day: calls of a few minutes with short breaks between them."""


async def simulate_day(emulator: GraphEmulator, day: tuple[Step, ...] = DAY) -> None:
    """Play `day` on the desktop client session until cancelled, then end it.

    Ending the session on cancel is what a quitting client does.
    """
    try:
        while True:
            for step in day:
                emulator.set_client_session(
                    DESKTOP_SESSION, step.availability, step.activity
                )
                await asyncio.sleep(step.duration.total_seconds())
    finally:
        emulator.remove_client_session(DESKTOP_SESSION)
