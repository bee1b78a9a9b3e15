"""Through the real frontend, as a user: add the integration, then use what it offers.

Set the presence from Home Assistant and see a hold's end, a choice pending while Graph
is unreachable and applied after, and a device trigger in an automation.

Runs on its own (scripts/test-browser), outside Home Assistant's pytest plugin: it starts
a real Home Assistant (2026.11.0 under Python 3.14, as scripts/test-browser gives it) and
drives Debian's chromium with Playwright. The emulator runs in this process, so its
request log shows what the integration sent.
"""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, Locator, Page, expect
import pytest

from graph_emulator import GraphEmulator

from .conftest import HomeAssistant, Steps, choice, open_page

pytestmark = pytest.mark.timeout(300)


async def test_add_by_device_code_and_set_app_presence(
    emulator: GraphEmulator, home_assistant: HomeAssistant, browser: Browser
) -> None:
    steps = await open_page(browser)
    async with steps.failure_recorded():
        await _add_and_set(steps.page, steps, emulator, home_assistant.url)


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

    await page.goto(
        f"{url}/config/integrations/dashboard/add?domain=teams_presence_keeper"
    )
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

    await page.goto(f"{url}/config/integrations/integration/teams_presence_keeper")
    # The account is a service-type device; its row links to the device page.
    await page.get_by_role("link", name="1 service").click()
    # The two selects say what they are: Home Assistant as a device, or an override.
    await expect(page.get_by_text("Presence from Home Assistant")).to_be_visible()
    await expect(page.get_by_text("Presence override")).to_be_visible()
    await steps.shot("device-page")

    row = page.locator("hui-select-entity-row").filter(
        has_text="Presence from Home Assistant"
    )
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

    await _work_location(page, steps, emulator)
    await _hold_shows_its_end(page, steps)
    await _pending_then_applied(page, steps, emulator)
    await _device_trigger_in_an_automation(page, steps, emulator, url)


APP_PRESENCE = "select.adele_vance_presence_from_home_assistant"


async def _work_location(page: Page, steps: Steps, emulator: GraphEmulator) -> None:
    """The Work location select on the device page sets Teams' manual location."""
    row = page.locator("hui-select-entity-row").filter(has_text="Work location")
    await expect(row).to_contain_text("Automatic (as planned)")
    await row.locator("ha-select").click()
    await choice(page, "Remote").click()
    for _ in range(100):
        if emulator.graph_calls("setManualLocation"):
            break
        await asyncio.sleep(0.1)
    (call,) = emulator.graph_calls("setManualLocation")
    assert call.body == {"workLocationType": "remote"}
    sensor = page.locator("hui-sensor-entity-row").filter(
        has=page.get_by_text("Work location", exact=True)
    )
    await expect(sensor).to_contain_text("Remote")
    await steps.shot("work-location")


async def _hold_shows_its_end(page: Page, steps: Steps) -> None:
    """A hold set by an action shows when it ends and what comes after, on the entity."""
    await call_service(
        page,
        "teams_presence_keeper",
        "set_presence",
        {
            "config_entry_id": await entry_id(page),
            "presence": "do_not_disturb_presenting",
            "hold_for": {"minutes": 30},
        },
    )
    await more_info(page, APP_PRESENCE)
    await expect(attribute(page, "Held until")).to_be_visible()
    await expect(attribute(page, "After the hold")).to_contain_text("Busy, in a call")
    await steps.shot("hold-until")
    await close_more_info(page)


async def _pending_then_applied(
    page: Page, steps: Steps, emulator: GraphEmulator
) -> None:
    """A choice made while Graph is unreachable is kept, pending, then applied."""
    await emulator.refuse_connections()
    await call_service(
        page, "select", "select_option", {"entity_id": APP_PRESENCE, "option": "away"}
    )
    await more_info(page, APP_PRESENCE)
    await expect(attribute(page, "In Teams")).to_contain_text("Pending")
    await steps.shot("pending-during-outage")
    await close_more_info(page)

    await emulator.accept_connections()
    for _ in range(120):
        if await state_attribute(page, APP_PRESENCE, "in_teams") == "applied":
            break
        await asyncio.sleep(0.5)
    assert emulator.presence() == ("Away", "Away")
    await more_info(page, APP_PRESENCE)
    await expect(attribute(page, "In Teams")).to_contain_text("Applied")
    await steps.shot("applied-after-outage")
    await close_more_info(page)


async def _device_trigger_in_an_automation(
    page: Page, steps: Steps, emulator: GraphEmulator, url: str
) -> None:
    """A device trigger (Presence became Busy) in the automation editor, firing."""
    device_id = await page.evaluate(
        """() => Object.values(document.querySelector("home-assistant").hass.devices)
            .find((device) => device.identifiers.some(([domain]) => domain ===
            "teams_presence_keeper")).id"""
    )
    await page.evaluate(
        """async (config) => document.querySelector("home-assistant").hass.callApi(
            "POST", "config/automation/config/teams_busy", config)""",
        {
            "alias": "Teams says Busy",
            "triggers": [
                {
                    "trigger": "device",
                    "domain": "teams_presence_keeper",
                    "device_id": device_id,
                    "type": "busy",
                }
            ],
            "actions": [
                {"action": "logbook.log", "data": {"name": "Teams", "message": "busy"}}
            ],
        },
    )
    await page.goto(f"{url}/config/automation/edit/teams_busy")
    await expect(page.get_by_text("Presence became Busy")).to_be_visible()
    await steps.shot("device-trigger")

    emulator.set_client_session("desktop", "Busy", "InACall")
    await read_until_triggered(page, "automation.teams_says_busy")


async def read_until_triggered(page: Page, automation: str) -> None:
    """Read the presence now, again and again, until ``automation`` has run."""
    for _ in range(100):
        await call_service(
            page,
            "homeassistant",
            "update_entity",
            {"entity_id": "sensor.adele_vance_presence"},
        )
        if await state_attribute(page, automation, "last_triggered"):
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{automation} never ran")


async def call_service(
    page: Page, domain: str, service: str, data: dict[str, object]
) -> None:
    """Call an action as the frontend does, as the logged-in user."""
    await page.evaluate(
        """async ([domain, service, data]) =>
            document.querySelector("home-assistant").hass.callService(
                domain, service, data)""",
        [domain, service, data],
    )


async def entry_id(page: Page) -> str:
    entries: list[dict[str, str]] = await page.evaluate(
        """async () => document.querySelector("home-assistant").hass.callWS(
            {type: "config_entries/get", domain: "teams_presence_keeper"})"""
    )
    return entries[0]["entry_id"]


async def state_attribute(page: Page, entity_id: str, name: str) -> object:
    return await page.evaluate(
        """([entity_id, name]) => document.querySelector("home-assistant")
            .hass.states[entity_id]?.attributes[name] ?? null""",
        [entity_id, name],
    )


async def more_info(page: Page, entity_id: str) -> None:
    """Open an entity's more-info dialog on its Details view, which lists attributes.

    The view the dialog's menu opens; asked for directly, as a link can.
    """
    await page.evaluate(
        """(entity_id) => document.querySelector("home-assistant").dispatchEvent(
            new CustomEvent("hass-more-info", {detail: {entityId: entity_id,
            view: "details"}, bubbles: true, composed: true}))""",
        entity_id,
    )
    await expect(attribute(page, "In Teams")).to_be_visible()
    # Let the dialog's opening animation end, so screenshots show it whole.
    await page.wait_for_timeout(500)


def attribute(page: Page, name: str) -> Locator:
    """An attribute's row in the Details view, by its translated name.

    Found from the page: the dialog's content is slotted, so it is not inside the
    element that has the dialog role.
    """
    # A list item's accessible name does not come from its content: match the text.
    return page.get_by_role("listitem").filter(has_text=name)


async def close_more_info(page: Page) -> None:
    """Close the dialog, and wait until it is gone before anything opens it again."""
    await page.keyboard.press("Escape")
    await expect(attribute(page, "In Teams")).to_be_hidden()
