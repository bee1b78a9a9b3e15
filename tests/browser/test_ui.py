"""Through the real frontend, as a user: add the integration, then set the app presence.

Runs on its own (scripts/test-browser), outside Home Assistant's pytest plugin: it starts
a real Home Assistant (2026.11.0 under Python 3.14, as scripts/test-browser gives it) and
drives Debian's chromium with Playwright. The emulator runs in this process, so its
request log shows what the integration sent.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, Page, expect
import pytest

from graph_emulator import GraphEmulator

from .conftest import ARTIFACTS, UI_TIMEOUT_MS, HomeAssistant, Steps, choice

pytestmark = pytest.mark.timeout(300)


async def test_add_by_device_code_and_set_app_presence(
    emulator: GraphEmulator, home_assistant: HomeAssistant, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    steps = Steps(page)
    try:
        await _add_and_set(page, steps, emulator, home_assistant.url)
    except Exception:
        await steps.shot("failure")
        # The accessibility tree says what the locators could have found.
        snapshot = await page.locator("body").aria_snapshot()
        (ARTIFACTS / "failure-aria.yaml").write_text(snapshot)
        raise


async def _add_and_set(
    page: Page, steps: Steps, emulator: GraphEmulator, url: str
) -> None:
    await page.goto(url)
    await page.get_by_role("textbox", name="Username").fill("demo")
    await page.get_by_role("textbox", name="Password").fill("demo1234")
    await steps.shot("login")
    await page.get_by_role("button", name="Log in").click()
    # The default dashboard, once the frontend kept the tokens: /lovelace/0 up to
    # 2026.10, /home/overview on 2026.11.
    await page.wait_for_url(re.compile(r"/(lovelace|home)/"))

    await page.goto(f"{url}/config/integrations/dashboard/add?domain=teams_presence")
    await page.get_by_role("button", name="OK").click()
    await page.get_by_role("radio", name="Code on another device").check()
    # The emulator's addresses: the last entry of the cloud list, a step of its own.
    await page.get_by_role("button", name="Microsoft cloud").click()
    await choice(page, "Custom endpoints").click()
    await steps.shot("config-flow-method")
    await page.get_by_role("button", name="Submit").click()
    await page.get_by_role("textbox", name="Graph URL").fill(emulator.graph_url)
    await page.get_by_role("textbox", name="Sign-in URL").fill(emulator.login_url)
    await steps.shot("config-flow-endpoints")
    await page.get_by_role("button", name="Submit").click()
    await page.get_by_role("textbox", name="Application (client) ID").fill(
        emulator.default_app.client_id
    )
    await steps.shot("config-flow-device-code")
    await page.get_by_role("button", name="Submit").click()
    # The emulator approves the code; the dialog moves on by itself.
    # "Skip and finish" under "Name and assign" from 2026.11; "Finish" before.
    finish = page.get_by_role("button", name="Skip and finish").or_(
        page.get_by_role("button", name="Finish")
    )
    await expect(finish).to_be_visible()
    await steps.shot("config-flow-done")
    await finish.click()

    await page.goto(f"{url}/config/integrations/integration/teams_presence")
    # The account is a service-type device; its row links to the device page.
    await page.get_by_role("link", name="1 service").click()
    await expect(page.get_by_text("App presence")).to_be_visible()
    await steps.shot("device-page")

    row = page.locator("hui-select-entity-row").filter(has_text="App presence")
    await row.locator("ha-select").click()
    await choice(page, "Busy, in a call").click()
    await steps.shot("app-presence-changed")

    for _ in range(100):
        if emulator.graph_calls("setPresence"):
            break
        await asyncio.sleep(0.1)
    (call,) = emulator.graph_calls("setPresence")
    assert call.body["availability"] == "Busy"
    assert call.body["activity"] == "InACall"
    presence = page.locator("hui-sensor-entity-row").filter(
        has=page.get_by_text("Presence", exact=True)
    )
    await expect(presence).to_contain_text("Busy")
    await steps.shot("presence-sensor")
    # Tall enough for both cards in one picture.
    await page.set_viewport_size({"width": 1280, "height": 1100})
    await steps.cards("entities", "Controls", "Sensors")
