"""A working day for the demo: the user's Teams desktop client joins and leaves calls.

Without it the emulator's presence only changes when someone sets it, and a newcomer
looking at the demo would see sensors that never move. The colleagues the demo
follows have days of their own, slower and out of step with each other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from .presence import User
from .server import GraphEmulator

DESKTOP_SESSION: Final = "teams-desktop"
COLLEAGUE_SESSION: Final = "teams"
"""The session `GraphEmulator.add_colleague` signs a colleague in with."""


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

COLLEAGUE_DAY: Final = (
    Step("Available", "Available", timedelta(minutes=4)),
    Step("Busy", "InAMeeting", timedelta(minutes=5)),
    Step("Away", "Away", timedelta(minutes=2)),
    Step("Busy", "InACall", timedelta(minutes=3)),
    Step("BeRightBack", "BeRightBack", timedelta(minutes=2)),
)
"""A followed colleague's day: a change every few minutes; each colleague starts
at another step, so they rarely change together."""


async def simulate_day(
    emulator: GraphEmulator,
    day: tuple[Step, ...] = DAY,
    *,
    colleagues: tuple[User, ...] = (),
    colleague_day: tuple[Step, ...] = COLLEAGUE_DAY,
) -> None:
    """Play `day` on the desktop client session until cancelled, then end it.

    Ending the session on cancel is what a quitting client does. Each of
    `colleagues` plays `colleague_day` in their Teams client meanwhile, the n-th
    starting at its n-th step.
    """
    async with asyncio.TaskGroup() as days:
        for n, colleague in enumerate(colleagues):
            start = n % len(colleague_day)
            steps = colleague_day[start:] + colleague_day[:start]
            days.create_task(_play(emulator, steps, COLLEAGUE_SESSION, colleague))
        days.create_task(_play(emulator, day, DESKTOP_SESSION, None))


async def _play(
    emulator: GraphEmulator,
    day: tuple[Step, ...],
    session: str,
    user: User | None,
) -> None:
    """Play `day` on one client session of `user` (the signed-in user: None)."""
    try:
        while True:
            for step in day:
                emulator.set_client_session(
                    session, step.availability, step.activity, user=user
                )
                await asyncio.sleep(step.duration.total_seconds())
    finally:
        emulator.remove_client_session(session, user=user)
