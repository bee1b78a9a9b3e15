"""Through the real frontend, as a user: add the integration, then set the app presence.

Runs on its own (scripts/test-browser), outside Home Assistant's pytest plugin: it starts
a real Home Assistant (2026.11.0 under Python 3.14, as scripts/test-browser gives it) and
drives Debian's chromium with Playwright. The emulator runs in this process, so its
request log shows what the integration sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
import os
from pathlib import Path
import re
import shlex
import signal
import socket
import sys

from playwright.async_api import Browser, Locator, Page, async_playwright, expect
import pytest

from graph_emulator import GraphEmulator

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")
# Playwright's waits: the first page load compiles the frontend's bundles.
UI_TIMEOUT_MS = 15_000
CARD_MARGIN = 8

pytestmark = pytest.mark.timeout(300)
expect.set_options(timeout=UI_TIMEOUT_MS)


@dataclass
class HomeAssistant:
    """A running Home Assistant and where to reach it."""

    url: str
    config_dir: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ca_bundle(bundle: Path, emulator_ca: Path) -> Path:
    """Write the system CAs and the emulator's: msal (requests) trusts only the file."""
    system_cas = SYSTEM_CAS.read_bytes() if SYSTEM_CAS.exists() else b""
    bundle.write_bytes(system_cas + emulator_ca.read_bytes())
    return bundle


async def _run(*args: str) -> None:
    """Run scripts/demo_setup.py with arguments; fail on a non-zero exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "scripts" / "demo_setup.py"), *args
    )
    assert await process.wait() == 0, f"demo_setup.py {args[0]} failed"


def _hass_command() -> list[str]:
    """`hass` as scripts/test-browser gives it (under Python 3.14), else this venv's.

    TEAMS_PRESENCE_HASS is a command line whose process is `hass` itself (its runner
    execs it), so signalling the process group below stops Home Assistant.
    """
    command = os.environ.get("TEAMS_PRESENCE_HASS")
    if command:
        return shlex.split(command)
    return [str(Path(sys.executable).parent / "hass")]


@pytest.fixture
async def emulator() -> AsyncIterator[GraphEmulator]:
    emulator = GraphEmulator()
    emulator.auto_approve_device_codes = emulator.default_user
    emulator.auto_approve_delay = timedelta(seconds=1)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def home_assistant(
    emulator: GraphEmulator, tmp_path: Path
) -> AsyncIterator[HomeAssistant]:
    """Home Assistant onboarded with the demo user, trusting the emulator's CA."""
    port = _free_port()
    config_dir = tmp_path / "config"
    await _run("config", str(config_dir), "--port", str(port))
    bundle = _ca_bundle(tmp_path / "ca-bundle.pem", Path(emulator.ca_path))
    env = os.environ | {
        "REQUESTS_CA_BUNDLE": str(bundle),
        "CURL_CA_BUNDLE": str(bundle),
    }
    log = (tmp_path / "hass.out").open("wb")
    process = await asyncio.create_subprocess_exec(
        *_hass_command(),
        "-c",
        str(config_dir),
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _run("onboard", "--url", url, "--timeout", "120")
        yield HomeAssistant(url, config_dir)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        log.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        yield browser
        await browser.close()


def choice(page: Page, name: str) -> Locator:
    """An entry of an open drop-down: a menu item from 2026.11, an option before."""
    return page.get_by_role("menuitem", name=name).or_(
        page.get_by_role("option", name=name)
    )


class Steps:
    """Screenshots named in order, one per step a user sees."""

    def __init__(self, page: Page) -> None:
        """Save into a fresh artifacts/browser."""
        self.page = page
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in (*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.yaml")):
            old.unlink()

    async def shot(self, name: str) -> None:
        self.count += 1
        await self.page.screenshot(path=ARTIFACTS / f"{self.count:02d}-{name}.png")

    async def cards(self, name: str, *titles: str) -> None:
        """Picture just the cards with these titles (the README's comes from here)."""
        boxes = []
        for title in titles:
            card = self.page.locator("ha-card").filter(
                has=self.page.get_by_text(title, exact=True)
            )
            await card.scroll_into_view_if_needed()
            box = await card.bounding_box()
            assert box is not None, f"no {title} card"
            boxes.append(box)
        left = min(box["x"] for box in boxes) - CARD_MARGIN
        top = min(box["y"] for box in boxes) - CARD_MARGIN
        right = max(box["x"] + box["width"] for box in boxes) + CARD_MARGIN
        bottom = max(box["y"] + box["height"] for box in boxes) + CARD_MARGIN
        self.count += 1
        await self.page.screenshot(
            path=ARTIFACTS / f"{self.count:02d}-{name}.png",
            clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
        )


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
