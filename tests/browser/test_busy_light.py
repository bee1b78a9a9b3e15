"""Through the real frontend: the demo's Busy light follows Teams and keeps its colour.

While Graph is unreachable the light stays as it was (screenshots in
artifacts/browser/busy-light/); with Instant updates it follows within 5 s, faster than
any read (artifacts/browser/instant-updates/). The account and the automations from
both blueprints are made as scripts/demo makes them (scripts/demo_setup.py add-entry);
the emulated Teams client changes presence.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, Locator, Page, expect
import pytest

from graph_emulator import GraphEmulator

from .conftest import (
    ARTIFACTS,
    HomeAssistant,
    Steps,
    add_demo_account,
    log_in,
    open_page,
)

pytestmark = pytest.mark.timeout(300)
FOLDER = ARTIFACTS / "busy-light"
PUSH_FOLDER = ARTIFACTS / "instant-updates"
PRESENCE = "sensor.adele_vance_presence"
BUSY_RED = "#ff0000"
AVAILABLE_GREEN = "#00c800"
PUSH_TIMEOUT_MS = 5_000


async def test_busy_light_follows_teams_and_keeps_its_colour(
    emulator: GraphEmulator, home_assistant: HomeAssistant, browser: Browser
) -> None:
    await add_demo_account(emulator, home_assistant)
    steps = await open_page(browser, FOLDER)
    async with steps.failure_recorded():
        await _follow(steps.page, steps, emulator, home_assistant.url)


async def test_with_instant_updates_the_light_follows_without_a_read(
    emulator: GraphEmulator, home_assistant: HomeAssistant, browser: Browser
) -> None:
    """The demo's way: Graph posts each change through the front door to the webhook."""
    await add_demo_account(emulator, home_assistant, "--instant-updates")
    # Well within the 30 s read interval: only a notification can be this fast.
    steps = await open_page(browser, PUSH_FOLDER, PUSH_TIMEOUT_MS)
    page, url = steps.page, home_assistant.url
    async with steps.failure_recorded():
        await log_in(page, url)
        await page.goto(f"{url}/config/integrations/integration/teams_presence_keeper")
        await page.get_by_role("link", name="1 service").click()
        await expect(page.get_by_text("Push (external URL)").first).to_be_visible()
        await steps.shot("update-mode-push")
        tile = await open_lights(page)
        for availability, activity, colour in (
            ("Busy", "InACall", BUSY_RED),
            ("Available", "Available", AVAILABLE_GREEN),
        ):
            emulator.set_client_session("desktop", availability, activity)
            await expect(tile).to_have_attribute(
                "style", re.compile(f"--tile-color: *{colour}")
            )
        await steps.shot("busy-light-by-push")


async def _follow(page: Page, steps: Steps, emulator: GraphEmulator, url: str) -> None:
    await log_in(page, url)
    emulator.set_client_session("desktop", "Busy", "InACall")
    await read_presence_now(page, "busy")
    tile = await open_lights(page)
    await expect(tile).to_have_attribute(
        "style", re.compile(f"--tile-color: *{BUSY_RED}")
    )
    await steps.shot("busy-light-busy")

    # Graph unreachable: the Presence sensor goes unavailable, the light stays red.
    await emulator.refuse_connections()
    await read_presence_now(page, "unavailable")
    await page.goto(f"{url}/config/integrations/integration/teams_presence_keeper")
    await page.get_by_role("link", name="1 service").click()
    await expect(page.get_by_text("Unavailable").first).to_be_visible()
    await steps.shot("presence-unavailable")
    tile = await open_lights(page)
    await expect(tile).to_have_attribute(
        "style", re.compile(f"--tile-color: *{BUSY_RED}")
    )
    await steps.shot("busy-light-keeps-its-colour")

    # Graph is back and Teams shows Available: green.
    await emulator.accept_connections()
    emulator.set_client_session("desktop", "Available", "Available")
    await read_presence_now(page, "available")
    await expect(tile).to_have_attribute(
        "style", re.compile(f"--tile-color: *{AVAILABLE_GREEN}")
    )
    await steps.shot("busy-light-available")


async def open_lights(page: Page) -> Locator:
    """Overview > Lights, as a user goes; the light's tile takes the light's colour."""
    await page.get_by_role("link", name="Overview").click()
    await page.get_by_role("button", name=re.compile("^Lights")).click()
    return page.locator("hui-tile-card ha-card").filter(has_text="Busy light")


async def read_presence_now(page: Page, expected: str) -> None:
    """Ask for a read (as Developer tools' update_entity does), and wait for `expected`.

    Saves waiting for the read interval (30 s).
    """
    for _ in range(50):
        state = await page.evaluate(
            """async (entity_id) => {
                const hass = document.querySelector("home-assistant").hass;
                await hass.callService(
                    "homeassistant", "update_entity", {entity_id: entity_id}
                );
                return hass.states[entity_id]?.state;
            }""",
            PRESENCE,
        )
        if state == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{PRESENCE} stayed {state}, not {expected}")
