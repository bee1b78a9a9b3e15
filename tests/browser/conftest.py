"""What the browser tests share: the emulator, a real Home Assistant, Chromium.

Home Assistant runs as scripts/test-browser gives it (2026.11.0 under Python 3.14), set
up by scripts/demo_setup.py as the demo is; the emulator runs in this process, so its
request log shows what the integration sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


async def run_demo_setup(*args: str) -> None:
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
    # As the demo's: granted, so that Instant updates need no second sign-in.
    emulator.default_app.consented_scopes.add("Presence.Read.All")
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def home_assistant(
    emulator: GraphEmulator, tmp_path: Path
) -> AsyncIterator[HomeAssistant]:
    """Home Assistant onboarded with the demo user, trusting the emulator's CA.

    As in the demo, its public address is the emulator's HTTPS front door.
    """
    port = _free_port()
    config_dir = tmp_path / "config"
    url = f"http://127.0.0.1:{port}"
    public_url = await emulator.open_front_door(0, url)
    await run_demo_setup(
        "config", str(config_dir), "--port", str(port), "--external-url", public_url
    )
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
    try:
        await run_demo_setup("onboard", "--url", url, "--timeout", "120")
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


async def log_in(page: Page, url: str) -> None:
    """Log in as the demo user, as the login page asks, and wait for the dashboard."""
    await page.goto(url)
    await page.get_by_role("textbox", name="Username").fill("demo")
    await page.get_by_role("textbox", name="Password").fill("demo1234")
    await page.get_by_role("button", name="Log in").click()
    # /lovelace/0 up to 2026.10, /home/overview on 2026.11.
    await page.wait_for_url(re.compile(r"/(lovelace|home)/"))


def choice(page: Page, name: str) -> Locator:
    """An entry of an open drop-down: a menu item from 2026.11, an option before."""
    return page.get_by_role("menuitem", name=name).or_(
        page.get_by_role("option", name=name)
    )


class Steps:
    """Screenshots named in order, one per step a user sees."""

    def __init__(self, page: Page, folder: Path = ARTIFACTS) -> None:
        """Save into `folder` (artifacts/browser), emptied of an earlier run's."""
        self.page = page
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in (*folder.glob("*.png"), *folder.glob("*.yaml")):
            old.unlink()

    async def shot(self, name: str) -> None:
        self.count += 1
        await self.page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png")

    @asynccontextmanager
    async def failure_recorded(self) -> AsyncIterator[None]:
        """On a failure: a screenshot, and the accessibility tree the locators searched."""
        try:
            yield
        except Exception:
            await self.shot("failure")
            snapshot = await self.page.locator("body").aria_snapshot()
            (self.folder / "failure-aria.yaml").write_text(snapshot)
            raise

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
            path=self.folder / f"{self.count:02d}-{name}.png",
            clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
        )


async def open_page(
    browser: Browser, folder: Path = ARTIFACTS, timeout_ms: int = UI_TIMEOUT_MS
) -> Steps:
    """A page as big as a laptop's window, its screenshots saved into ``folder``."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(timeout_ms)
    return Steps(page, folder)


async def add_demo_account(
    emulator: GraphEmulator, home_assistant: HomeAssistant, *options: str
) -> None:
    """The account and the blueprints' automations, made as scripts/demo makes them."""
    await run_demo_setup(
        "add-entry",
        f"--url={home_assistant.url}",
        f"--graph-url={emulator.graph_url}",
        f"--login-url={emulator.login_url}",
        *options,
    )
