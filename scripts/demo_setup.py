"""Prepare a demo Home Assistant and sign it in to the emulator, with no manual step.

Used by scripts/demo and the browser test. `config` writes the configuration directory;
`onboard` waits for Home Assistant, completes onboarding once and creates the demo user;
`add-entry` adds the integration through the config-flow REST API by device code (the
emulator approves the code). The emulator forgets its tokens when it stops, so
`add-entry` replaces an entry left by a previous run instead of keeping a dead one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
import sys
from typing import Any, Final

import aiohttp

DOMAIN: Final = "teams_presence"
USERNAME: Final = "demo"
PASSWORD: Final = "demo1234"  # noqa: S105  # the demo's published password
EMULATOR_CLIENT_ID: Final = "11111111-1111-1111-1111-111111111111"
ONBOARDING_EXTRAS: Final = ("google_translate", "met", "radio_browser", "shopping_list")
"""Entries onboarding adds; they need the internet or ffmpeg, and the demo not."""
REPO: Final = Path(__file__).resolve().parent.parent

# default_config needs go2rtc and ffmpeg binaries; these start cleanly without them.
CONFIGURATION: Final = """\
homeassistant:
  name: Teams presence demo
  time_zone: UTC
  unit_system: metric
  currency: EUR
  country: US
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  external_url: {url}
  internal_url: {url}
frontend:
config:
api:
{http}application_credentials:
automation: !include automations.yaml
script: !include scripts.yaml
history:
logbook:
system_health:
logger:
  default: warning
  logs:
    custom_components.teams_presence: info
"""


def write_config(config_dir: Path, port: int) -> None:
    """Write the configuration and link the integration in, keeping what exists."""
    config_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    # From 2026.11 Home Assistant moves `http:` into its storage on the first start
    # (then a repair asks to delete the YAML): give it only until that happened.
    http = ""
    if not (config_dir / ".storage" / "http").exists():
        http = f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
    (config_dir / "configuration.yaml").write_text(
        CONFIGURATION.format(url=url, http=http)
    )
    for name in ("automations.yaml", "scripts.yaml"):
        if not (config_dir / name).exists():
            (config_dir / name).write_text("[]\n" if name[0] == "a" else "{}\n")
    link = config_dir / "custom_components" / DOMAIN
    link.parent.mkdir(exist_ok=True)
    if not link.is_symlink():
        target = os.path.relpath(REPO / "custom_components" / DOMAIN, link.parent)
        link.symlink_to(target, target_is_directory=True)


class HttpError(RuntimeError):
    """Home Assistant answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the status, to tell a finished flow (404) from a failure."""
        super().__init__(message)
        self.status = status


class HomeAssistant:
    """Home Assistant's HTTP API, as the frontend calls it."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        """Talk to the instance at `url` (its frontend's client id)."""
        self.session = session
        self.url = url
        self.client_id = f"{url}/"
        self.headers: dict[str, str] = {}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send JSON (or a form, for /auth/token) and return the JSON answer."""
        form = path == "/auth/token"
        async with self.session.request(
            method,
            f"{self.url}{path}",
            json=None if form else body,
            data=body if form else None,
            headers=self.headers,
        ) as response:
            if response.status >= 400:
                text = await response.text()
                message = f"{method} {path}: {response.status} {text}"
                raise HttpError(response.status, message)
            return await response.json()

    async def wait_until_up(self) -> None:
        """Wait until the HTTP server answers (it starts late in the boot)."""
        while True:
            try:
                async with self.session.get(f"{self.url}/manifest.json") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)

    async def use_code(self, code: str) -> None:
        """Trade an authorization code for an access token used from now on."""
        tokens = await self.call(
            "POST",
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.client_id,
            },
        )
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    async def onboard(self) -> None:
        """Create the demo user and finish every onboarding step still open."""
        try:
            steps = await self.call("GET", "/api/onboarding")
        except HttpError as err:
            if err.status != 404:
                raise
            # Home Assistant removes the onboarding API once onboarding is done.
            await self.log_in()
            return
        done = {step["step"] for step in steps if step["done"]}
        if "user" not in done:
            result = await self.call(
                "POST",
                "/api/onboarding/users",
                {
                    "client_id": self.client_id,
                    "name": "Demo",
                    "username": USERNAME,
                    "password": PASSWORD,
                    "language": "en",
                },
            )
            await self.use_code(result["auth_code"])
        else:
            await self.log_in()
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            (
                "integration",
                {"client_id": self.client_id, "redirect_uri": self.client_id},
            ),
        ):
            if step not in done:
                await self.call("POST", f"/api/onboarding/{step}", body)
        if "core_config" not in done:
            await self.remove_onboarding_extras()
        await self.keep_http_config()

    async def keep_http_config(self) -> None:
        """Confirm the HTTP settings moved from YAML, as the dialog asks a user to.

        From 2026.11 they start as a trial that Home Assistant reverts (restarting
        on its default port) unless confirmed within five minutes. Older releases
        don't know the command, and there is nothing to confirm once it is done.
        """
        token = self.headers["Authorization"].removeprefix("Bearer ")
        async with self.session.ws_connect(f"{self.url}/api/websocket") as socket:
            await socket.receive_json()  # auth_required
            await socket.send_json({"type": "auth", "access_token": token})
            if (await socket.receive_json())["type"] != "auth_ok":
                raise RuntimeError("Home Assistant refused the demo's token")
            await socket.send_json({"id": 1, "type": "http/config/promote"})
            await socket.receive_json()

    async def remove_onboarding_extras(self) -> None:
        """Delete the entries onboarding adds, once its background flows made them."""
        left = set(ONBOARDING_EXTRAS)
        for _ in range(40):
            left -= await self.remove_entries(*left)
            if not left:
                return
            await asyncio.sleep(0.25)

    async def remove_entries(self, *domains: str) -> set[str]:
        """Delete the config entries of these integrations; return the domains seen."""
        removed: set[str] = set()
        for entry in await self.call("GET", "/api/config/config_entries/entry"):
            if entry["domain"] in domains:
                entry_path = f"/api/config/config_entries/entry/{entry['entry_id']}"
                await self.call("DELETE", entry_path)
                removed.add(entry["domain"])
        return removed

    async def log_in(self) -> None:
        """Log in as the demo user through the login flow, as the login page does."""
        flow = await self.call(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.client_id,
            },
        )
        result = await self.call(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": USERNAME, "password": PASSWORD},
        )
        await self.use_code(result["result"])

    async def add_entry(self, graph_url: str, login_url: str) -> str:
        """Replace any entry by one signed in by device code; return its title."""
        await self.remove_entries(DOMAIN)
        flows = "/api/config/config_entries/flow"
        step = await self.call("POST", flows, {"handler": DOMAIN})
        flow = f"{flows}/{step['flow_id']}"
        # A custom cloud asks for its endpoints in a step of its own.
        answers = {
            "user": {"auth_method": "device_code", "cloud": "custom"},
            "endpoints": {"graph_url": graph_url, "login_url": login_url},
            "device_code": {"tenant": "organizations", "client_id": EMULATOR_CLIENT_ID},
        }
        while step["type"] == "form":
            if step["step_id"] not in answers:
                raise RuntimeError(f"The config flow asks an unknown step: {step}")
            step = await self.call("POST", flow, answers.pop(step["step_id"]))
        while step["type"] == "progress":
            await asyncio.sleep(0.5)
            try:
                step = await self.call("GET", flow)
            except HttpError as err:
                # Home Assistant may finish the flow by itself once the sign-in ends.
                if err.status != 404:
                    raise
                step = {"type": "create_entry"}
        if step["type"] != "create_entry":
            raise RuntimeError(f"The config flow stopped at {step}")
        entries = await self.call(
            "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        if not entries:
            raise RuntimeError("The config flow ended without an entry")
        return str(entries[0]["title"])


async def _run(args: argparse.Namespace) -> None:
    async with asyncio.timeout(args.timeout), aiohttp.ClientSession() as session:
        home_assistant = HomeAssistant(session, args.url)
        await home_assistant.wait_until_up()
        await home_assistant.onboard()
        if args.command == "add-entry":
            title = await home_assistant.add_entry(args.graph_url, args.login_url)
            sys.stdout.write(f"Signed in to the emulator as {title}\n")


def main(argv: list[str] | None = None) -> None:
    """Run one command (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="scripts/demo_setup.py")
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="write the configuration directory")
    config.add_argument("config_dir", type=Path)
    config.add_argument("--port", type=int, default=8123)
    for name in ("onboard", "add-entry"):
        command = commands.add_parser(name)
        command.add_argument("--url", default="http://127.0.0.1:8123")
        command.add_argument("--timeout", type=float, default=300)
        if name == "add-entry":
            command.add_argument("--graph-url", required=True)
            command.add_argument("--login-url", required=True)
    args = parser.parse_args(argv)
    if args.command == "config":
        write_config(args.config_dir, args.port)
    else:
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
