"""Prepare a demo Home Assistant and sign it in to the emulator, with no manual step.

Used by scripts/demo and the browser tests. Each command does only what is missing, so
that a restart keeps what is there (the entry, its id and options, the automations,
the user's edits): `config` writes the configuration directory on the first start (with
the HTTP settings in Home Assistant's storage, not YAML), and later only links the
integration and copies missing blueprints back in; `onboard` waits
for Home Assistant, completes onboarding once and creates the demo user; `add-entry`
adds the integration by device code through the config-flow REST API (the emulator
approves the code) when it has no entry, with one automation from each blueprint, and
follows the colleagues named with `--follow` ("Add person", the subentry flow's REST
API) that it does not follow yet.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
import json
import os
from pathlib import Path
import re
import shutil
from string import Template
import sys
from typing import Any, Final

import aiohttp

DOMAIN: Final = "teams_presence_keeper"
USERNAME: Final = "demo"
PASSWORD: Final = "demo1234"  # noqa: S105  # the demo's published password
EMULATOR_CLIENT_ID: Final = "11111111-1111-1111-1111-111111111111"
ONBOARDING_EXTRAS: Final = ("google_translate", "met", "radio_browser", "shopping_list")
"""Entries onboarding adds; they need the internet or ffmpeg, and the demo not."""
REPO: Final = Path(__file__).resolve().parent.parent
BLUEPRINTS: Final = Path("blueprints", "automation", DOMAIN)
LIGHT: Final = "light.busy_light"
DOOR: Final = "binary_sensor.office_door"

# default_config needs go2rtc and ffmpeg binaries; these start cleanly without them.
# A light and a door to try the blueprints on: a template light (optimistic, with RGB)
# and a door that an input boolean opens and closes from the UI.
CONFIGURATION: Final = Template("""\
homeassistant:
  name: Teams presence demo
  time_zone: UTC
  unit_system: metric
  currency: EUR
  country: US
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  external_url: $external_url
  internal_url: $url
frontend:
config:
api:
application_credentials:
automation: !include automations.yaml
script: !include scripts.yaml
history:
logbook:
system_health:
input_boolean:
  office_door_closed:
    name: Office door closed
    icon: mdi:door-closed
template:
  - light:
      - name: Busy light
        unique_id: teams_presence_keeper_demo_busy_light
        turn_on: []
        turn_off: []
        set_rgb: []
  - binary_sensor:
      - name: Office door
        unique_id: teams_presence_keeper_demo_office_door
        device_class: door
        state: "{{ not is_state('input_boolean.office_door_closed', 'on') }}"
logger:
  default: warning
  logs:
    custom_components.teams_presence_keeper: info
    # Said at every start where ffmpeg, libjpeg-turbo or a faster zlib is missing (the
    # root filesystem has none); the demo needs none of them.
    haffmpeg: critical
    homeassistant.components.camera.img_util: critical
    aiohttp_fast_zlib: error
""")
# From 2026.11 the HTTP settings live in Home Assistant's storage (Settings > System >
# Network); an `http:` block in YAML is moved there once, with a repair asking to delete
# it. The demo writes the storage before the first start instead, in the store's first
# version, which Home Assistant migrates to its current one (filling in every default).
HTTP_STORE: Final = Path(".storage", "http")
# What demo configurations made before that still hold: dropped once Home Assistant
# stored it (see `drop_migrated_http`).
HTTP_WRITTEN: Final = re.compile(
    r"^http:\n  server_host: 127\.0\.0\.1\n  server_port: \d+\n", re.MULTILINE
)


def write_config(config_dir: Path, port: int, external_url: str | None) -> None:
    """Write the configuration on the first start; always link the integration in.

    ``external_url``: the public HTTPS address Graph posts Instant updates to (the
    emulator's front door); the local address when there is none.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    configuration = config_dir / "configuration.yaml"
    if not configuration.exists():
        url = f"http://127.0.0.1:{port}"
        configuration.write_text(
            CONFIGURATION.substitute(url=url, external_url=external_url or url)
        )
        write_http_settings(config_dir, port)
    for name in ("automations.yaml", "scripts.yaml"):
        if not (config_dir / name).exists():
            (config_dir / name).write_text("[]\n" if name[0] == "a" else "{}\n")
    link = config_dir / "custom_components" / DOMAIN
    link.parent.mkdir(exist_ok=True)
    if not link.is_symlink():
        target = os.path.relpath(REPO / "custom_components" / DOMAIN, link.parent)
        link.symlink_to(target, target_is_directory=True)
    # Copied, as a user imports them; one they edited stays as it is.
    installed = config_dir / BLUEPRINTS
    installed.mkdir(parents=True, exist_ok=True)
    for blueprint in (REPO / BLUEPRINTS).glob("*.yaml"):
        if not (installed / blueprint.name).exists():
            shutil.copy(blueprint, installed / blueprint.name)


def write_http_settings(config_dir: Path, port: int) -> None:
    """Listen on 127.0.0.1 at `port` only, as the Network settings would say."""
    store = config_dir / HTTP_STORE
    if store.exists():
        return
    store.parent.mkdir(exist_ok=True)
    settings = {"server_host": ["127.0.0.1"], "server_port": port}
    store.write_text(
        json.dumps({"version": 1, "minor_version": 1, "key": "http", "data": settings})
    )


def drop_migrated_http(config_dir: Path) -> None:
    """Delete an `http:` block an older demo's first start wrote, once stored."""
    configuration = config_dir / "configuration.yaml"
    text = configuration.read_text()
    kept = HTTP_WRITTEN.sub("", text, count=1)
    if kept != text:
        configuration.write_text(kept)


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

    async def websocket(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command over the websocket API, as the frontend does; the answer."""
        token = self.headers["Authorization"].removeprefix("Bearer ")
        async with self.session.ws_connect(f"{self.url}/api/websocket") as socket:
            await socket.receive_json()  # auth_required
            await socket.send_json({"type": "auth", "access_token": token})
            if (await socket.receive_json())["type"] != "auth_ok":
                raise RuntimeError("Home Assistant refused the demo's token")
            await socket.send_json({"id": 1, **command})
            answer: dict[str, Any] = await socket.receive_json()
            return answer

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

    async def add_entry(
        self,
        graph_url: str,
        login_url: str,
        *,
        instant_updates: bool,
        follow: tuple[str, ...] = (),
    ) -> str:
        """Sign an account in by device code, unless one is there; say which.

        Then follow each of ``follow`` (e-mail addresses) not followed yet.
        """
        entries_path = f"/api/config/config_entries/entry?domain={DOMAIN}"
        if entries := await self.call("GET", entries_path):
            said = f"The account {entries[0]['title']} is kept from the last start"
        else:
            said = await self._add_entry(
                graph_url, login_url, instant_updates=instant_updates
            )
            entries = await self.call("GET", entries_path)
        if followed := await self.follow(entries[0]["entry_id"], follow):
            said += f"; following {', '.join(followed)}"
        return said

    async def follow(self, entry_id: str, mails: tuple[str, ...]) -> list[str]:
        """Add each person not followed yet by e-mail address, as "Add person" does.

        Returns the names of everyone followed. Each addition reloads the account.
        """
        flows = "/api/config/config_entries/subentries/flow"
        for mail in mails:
            step = await self.call("POST", flows, {"handler": [entry_id, "person"]})
            if step["type"] == "form" and step["step_id"] == "consent":
                # An account kept from before the demo followed people: its sign-in
                # lacks User.ReadBasic.All. Left to the user (the form says why).
                sys.stdout.write(f"Not following {mail}: the account must consent\n")
                continue
            if step["type"] == "form" and step["step_id"] == "user":
                step = await self.call(
                    "POST", f"{flows}/{step['flow_id']}", {"query": mail}
                )
            if step["type"] not in ("create_entry", "abort") or (
                step["type"] == "abort" and step["reason"] != "already_configured"
            ):
                raise RuntimeError(f"Following {mail} stopped at {step}")
            await poll(partial(self._loaded, entry_id))
        subentries = await self.websocket(
            {"type": "config_entries/subentries/list", "entry_id": entry_id}
        )
        return [
            subentry["title"]
            for subentry in subentries["result"]
            if subentry["subentry_type"] == "person"
        ]

    async def _loaded(self, entry_id: str) -> bool | None:
        """Return True once the account runs again (a person added reloads it)."""
        entries = await self.call(
            "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        loaded = any(
            e["entry_id"] == entry_id and e["state"] == "loaded" for e in entries
        )
        return True if loaded else None

    async def _add_entry(
        self, graph_url: str, login_url: str, *, instant_updates: bool
    ) -> str:
        """Sign an account in by device code; say who."""
        entries_path = f"/api/config/config_entries/entry?domain={DOMAIN}"
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
        entries = await self.call("GET", entries_path)
        if not entries:
            raise RuntimeError("The config flow ended without an entry")
        await self.add_automations(entries[0]["entry_id"])
        said = (
            f"Signed in to the emulator as {entries[0]['title']}; automations from"
            " both blueprints drive the Busy light and the Office door"
        )
        if instant_updates:
            mode = await self.turn_instant_updates_on(entries[0]["entry_id"])
            said += f"; Instant updates on ({mode})"
        return said

    async def turn_instant_updates_on(self, entry_id: str) -> str:
        """Turn the option on, as a user would; return the Update mode reached.

        The demo's emulator has `Presence.Read.All` granted (`--consent`): Entra ID
        names it in the first sign-in's tokens, so push starts with no second sign-in.
        """
        options = "/api/config/config_entries/options/flow"
        step = await self.call("POST", options, {"handler": entry_id})
        values = {
            field["name"]: field["description"]["suggested_value"]
            for field in step["data_schema"]
            if "suggested_value" in field.get("description", {})
        }
        step = await self.call(
            "POST",
            f"{options}/{step['flow_id']}",
            {**values, "instant_updates": True},
        )
        if step["type"] != "create_entry":
            raise RuntimeError(f"The options flow stopped at {step}")

        async def push_mode() -> str | None:
            for state in await self.call("GET", "/api/states"):
                entity_id, mode = state["entity_id"], state["state"]
                if entity_id.endswith("_update_mode") and mode.startswith("push"):
                    return str(mode)
            progress = await self.websocket({"type": "config_entries/flow/progress"})
            if any(
                flow["handler"] == DOMAIN and flow["context"]["source"] == "reauth"
                for flow in progress["result"]
            ):
                raise RuntimeError(
                    "Instant updates ask to sign in again: the emulator has not"
                    " granted Presence.Read.All (--consent)"
                )
            return None

        return await poll(push_mode)

    async def add_automations(self, entry_id: str) -> None:
        """One automation from each blueprint, as the automation editor saves them."""
        devices = await self.websocket({"type": "config/device_registry/list"})
        (device,) = (
            device
            for device in devices["result"]
            if entry_id in device["config_entries"]
        )
        automations = {
            "teams_presence_keeper_demo_busy_light": {
                "alias": "Busy light follows Teams",
                "description": "The demo's Busy light shows the Teams presence.",
                "use_blueprint": {
                    "path": f"{DOMAIN}/busy_light.yaml",
                    "input": {"account": device["id"], "light": LIGHT},
                },
            },
            "teams_presence_keeper_demo_office_door": {
                "alias": "Office door sets Do not disturb",
                "description": "Close the door (Office door closed): Do not disturb.",
                "use_blueprint": {
                    "path": f"{DOMAIN}/door_sensor.yaml",
                    "input": {"door": DOOR, "account": entry_id},
                },
            },
        }
        for automation_id, automation in automations.items():
            path = f"/api/config/automation/config/{automation_id}"
            await self.call("POST", path, automation)


async def poll[T](find: Callable[[], Awaitable[T | None]]) -> T:
    """Ask ``find`` every half second until it finds something (the caller's timeout)."""
    while True:
        if (found := await find()) is not None:
            return found
        await asyncio.sleep(0.5)


async def _run(args: argparse.Namespace) -> None:
    async with asyncio.timeout(args.timeout), aiohttp.ClientSession() as session:
        home_assistant = HomeAssistant(session, args.url)
        await home_assistant.wait_until_up()
        await home_assistant.onboard()
        if args.config_dir is not None:
            drop_migrated_http(args.config_dir)
        if args.command == "add-entry":
            said = await home_assistant.add_entry(
                args.graph_url,
                args.login_url,
                instant_updates=args.instant_updates,
                follow=tuple(args.follow),
            )
            sys.stdout.write(f"{said}\n")


def main(argv: list[str] | None = None) -> None:
    """Run one command (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="scripts/demo_setup.py")
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="write the configuration directory")
    config.add_argument("config_dir", type=Path)
    config.add_argument("--port", type=int, default=8123)
    config.add_argument(
        "--external-url", help="the public HTTPS address (the emulator's front door)"
    )
    for name in ("onboard", "add-entry"):
        command = commands.add_parser(name)
        command.add_argument("--url", default="http://127.0.0.1:8123")
        command.add_argument("--timeout", type=float, default=300)
        command.add_argument(
            "--config-dir",
            type=Path,
            help="its configuration: an older demo's `http:` YAML goes once stored",
        )
        if name == "add-entry":
            command.add_argument("--graph-url", required=True)
            command.add_argument("--login-url", required=True)
            command.add_argument(
                "--instant-updates",
                action="store_true",
                help="turn Instant updates on for a new account",
            )
            command.add_argument(
                "--follow",
                action="append",
                default=[],
                metavar="MAIL",
                help="follow this colleague (an e-mail address), once",
            )
    args = parser.parse_args(argv)
    if args.command == "config":
        write_config(args.config_dir, args.port, args.external_url)
    else:
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
