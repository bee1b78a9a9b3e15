"""The simulated day that keeps the demo's sensors moving."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from graph_emulator import GraphEmulator
from graph_emulator.simulation import COLLEAGUE_DAY, DAY, Step, simulate_day


def test_the_day_joins_and_leaves_calls_every_few_minutes() -> None:
    activities = [step.activity for step in DAY]
    assert "InACall" in activities
    assert "Presenting" in activities
    assert activities.count("Available") >= 2
    assert all(
        timedelta(minutes=1) <= step.duration <= timedelta(minutes=5) for step in DAY
    )


async def test_the_desktop_client_plays_the_day_then_quits() -> None:
    emulator = GraphEmulator()
    day = (
        Step("Busy", "InACall", timedelta(seconds=0.05)),
        Step("Available", "Available", timedelta(seconds=0.05)),
    )
    seen: list[tuple[str, str]] = []
    task = asyncio.create_task(simulate_day(emulator, day))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if not seen or seen[-1] != emulator.presence():
            seen.append(emulator.presence())
        if len(seen) >= 3:
            break
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert seen[:3] == [
        ("Busy", "InACall"),
        ("Available", "Available"),
        ("Busy", "InACall"),
    ]
    assert emulator.presence() == ("Offline", "Offline")


async def test_followed_colleagues_play_their_days_out_of_step() -> None:
    """The demo's colleagues change now and then, each from another step; then quit."""
    emulator = GraphEmulator()
    megan = emulator.add_colleague(display_name="Megan Bowen", upn="meganb@x.example")
    lee = emulator.add_colleague(display_name="Lee Gu", upn="leeg@x.example")
    colleague_day = (
        Step("Busy", "InAMeeting", timedelta(seconds=0.2)),
        Step("Away", "Away", timedelta(seconds=0.2)),
    )
    task = asyncio.create_task(
        simulate_day(emulator, colleagues=(megan, lee), colleague_day=colleague_day)
    )
    seen: dict[str, list[tuple[str, str]]] = {megan.id: [], lee.id: []}
    for _ in range(400):
        await asyncio.sleep(0.005)
        for colleague in (megan, lee):
            # Each plays in a task of its own: their changes land apart, so each is
            # followed alone (a moment with both Away is no step of either).
            now = emulator.presence(colleague)
            if not seen[colleague.id] or seen[colleague.id][-1] != now:
                seen[colleague.id].append(now)
        if all(len(states) >= 2 for states in seen.values()):
            break
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    busy, away = ("Busy", "InAMeeting"), ("Away", "Away")
    assert seen[megan.id][:2] == [busy, away]
    assert seen[lee.id][:2] == [away, busy]
    assert emulator.presence(megan) == emulator.presence(lee) == ("Offline", "Offline")


def test_a_colleague_s_day_changes_every_few_minutes() -> None:
    assert len({step.availability for step in COLLEAGUE_DAY}) >= 3
    assert all(
        timedelta(minutes=1) <= step.duration <= timedelta(minutes=5)
        for step in COLLEAGUE_DAY
    )
