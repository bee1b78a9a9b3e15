"""Through the real 2026.11 frontend: a newcomer's Repairs, and a purpose-specific trigger.

A fresh demo Home Assistant lists only Home Assistant's own "Unsupported installation
method" under Repairs (the demo's HTTP settings are stored, not YAML). Then, in the
automation editor, the user picks the account's device as the target, the trigger
"Teams presence became" offered for it, ticks Busy, saves, and the automation fires
when Teams shows Busy. Screenshots in artifacts/browser/purpose-triggers/.
"""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, Page, expect
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
from .test_ui import read_until_triggered, state_attribute

pytestmark = pytest.mark.timeout(300)
FOLDER = ARTIFACTS / "purpose-triggers"
EXPECTED_REPAIRS = {("homeassistant", "deprecated_method")}
"""Home Assistant's own, for a Python virtual environment install."""
ACCOUNT = "Adele Vance"
AUTOMATION_NAME = "Teams became busy"


async def test_repairs_and_a_purpose_trigger_built_in_the_editor(
    emulator: GraphEmulator, home_assistant: HomeAssistant, browser: Browser
) -> None:
    await add_demo_account(emulator, home_assistant)
    steps = await open_page(browser, FOLDER)
    page, url = steps.page, home_assistant.url
    async with steps.failure_recorded():
        await log_in(page, url)
        await _repairs_hold_nothing_of_the_demo(page, steps, url)
        await _build_the_automation(page, steps, url)
        await _it_fires_when_teams_says_busy(page, emulator)


async def _repairs_hold_nothing_of_the_demo(page: Page, steps: Steps, url: str) -> None:
    issues: dict[str, list[dict[str, object]]] = await page.evaluate(
        """async () => document.querySelector("home-assistant").hass.callWS(
            {type: "repairs/list_issues"})"""
    )
    shown = {
        (str(issue["domain"]), str(issue["issue_id"]))
        for issue in issues["issues"]
        if not issue["ignored"]
    }
    assert shown == EXPECTED_REPAIRS, issues["issues"]
    await page.goto(f"{url}/config/repairs")
    await expect(page.get_by_text("Unsupported installation method")).to_be_visible()
    await expect(page.get_by_text("HTTP YAML")).to_have_count(0)
    await steps.shot("repairs")


async def _build_the_automation(page: Page, steps: Steps, url: str) -> None:
    await page.goto(f"{url}/config/automation/edit/new")
    await page.get_by_role("button", name="Add trigger").first.click()
    # By target: the account is a service device (Unassigned > Services); the
    # triggers offered for it include ours. The dialog's content is slotted, not
    # inside its dialog element: the locators search the page.
    await page.get_by_role("treeitem", name="Services").click()
    await page.get_by_role("treeitem", name=ACCOUNT).first.click()
    # Each trigger offered is a button named by its title and its target.
    became = page.get_by_role("button", name=f"Teams presence became {ACCOUNT}")
    await expect(became).to_be_visible()
    await steps.shot("triggers-for-the-account")
    await became.click()
    # Once the picker has closed, the trigger's fields show beside the editor. The
    # box is found by its value: its label is "Busy" once the frontend has loaded
    # the integration's selector texts, which it does not always do in time (then
    # it shows "busy"). The box's control covers its input and takes the click.
    await expect(page.get_by_role("dialog")).to_have_count(0)
    busy = page.locator("input[type=checkbox][value=busy]")
    await busy.click(force=True)
    await expect(busy).to_be_checked()
    await steps.shot("trigger-in-the-editor")

    await page.get_by_role("button", name="Save").first.click()
    # A new automation is named on its first save, in a dialog after the editor.
    await page.get_by_role("textbox", name="Name").first.fill(AUTOMATION_NAME)
    await page.get_by_role("button", name="Save").last.click()
    await expect(page.get_by_text(AUTOMATION_NAME).first).to_be_visible()
    await steps.shot("saved")


async def _it_fires_when_teams_says_busy(page: Page, emulator: GraphEmulator) -> None:
    automation = "automation.teams_became_busy"
    for _ in range(100):
        if await state_attribute(page, automation, "friendly_name"):
            break
        await asyncio.sleep(0.1)
    assert await state_attribute(page, automation, "last_triggered") is None
    emulator.set_client_session("desktop", "Busy", "InACall")
    await read_until_triggered(page, automation)
