"""Run the emulator standalone: python -m graph_emulator [--help]."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
import re
import signal
import sys

from .presence import User
from .server import GraphEmulator
from .simulation import COLLEAGUE_SESSION, simulate_day

_USER = re.compile(r"(?P<name>[^<>]+?)\s*<(?P<upn>[^<>@\s]+@[^<>@\s]+)>")


def _user(text: str) -> tuple[str, str]:
    """Parse "Display Name <upn>" into (display name, UPN)."""
    match = _USER.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected 'Name <upn>', got {text!r}")
    return match["name"], match["upn"]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m graph_emulator",
        description="Emulate Microsoft Graph presence and Entra ID sign-in.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--graph-port", type=int, default=8600)
    parser.add_argument("--login-port", type=int, default=8601)
    parser.add_argument("--client-id", help="also register an app with this client id")
    parser.add_argument(
        "--user",
        type=_user,
        action="append",
        default=[],
        metavar="'NAME <UPN>'",
        help="also add this user to the default tenant (once: kept with --state-dir)",
    )
    parser.add_argument(
        "--colleague",
        type=_user,
        action="append",
        default=[],
        metavar="'NAME <UPN>'",
        help="a colleague in the default tenant, signed in to Teams (kept with"
        " --state-dir); with --simulate-day their presence changes now and then",
    )
    parser.add_argument(
        "--auto-approve-device-seconds",
        type=float,
        metavar="N",
        help="approve device codes for the seeded user at the first poll N seconds"
        " after they are issued",
    )
    parser.add_argument(
        "--simulate-day",
        action="store_true",
        help="let the user's Teams desktop client join and leave calls every few"
        " minutes",
    )
    parser.add_argument(
        "--consent",
        action="append",
        default=[],
        metavar="PERMISSION",
        help="a delegated permission granted to the app, as an administrator grants"
        " it (such as Presence.Read.All, for Instant updates)",
    )
    parser.add_argument(
        "--front-door",
        nargs=2,
        metavar=("PORT", "TARGET"),
        help="serve a public HTTPS address on PORT that forwards to TARGET (a"
        " plain-HTTP Home Assistant), as a user's reverse proxy does",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="keep users, apps, tokens and the TLS certificates in DIR: restarted"
        " with the same DIR, the emulator accepts the tokens it issued before and"
        " serves the certificate its clients trust",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    # SIGTERM ends the emulator as Ctrl-C does: stopped cleanly, temp files gone.
    loop = asyncio.get_running_loop()
    if (serving := asyncio.current_task()) is not None:
        loop.add_signal_handler(signal.SIGTERM, serving.cancel)
    emulator = GraphEmulator()
    try:
        colleagues = await _start(emulator, args)
        if args.simulate_day:
            await simulate_day(emulator, colleagues=colleagues)
        else:
            await asyncio.Event().wait()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await emulator.stop()


async def _start(emulator: GraphEmulator, args: argparse.Namespace) -> tuple[User, ...]:
    """Set the emulator up as the arguments ask, start it, and say where it is.

    Returns the colleagues, each signed in to Teams (a kept one again: client
    sessions are not kept).
    """
    tls_folder = None
    if args.state_dir is not None:
        args.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        emulator.directory.keep_in(args.state_dir / "directory.json")
        tls_folder = args.state_dir / "tls"
    if args.client_id:
        emulator.add_app(client_id=args.client_id)
    for display_name, upn in args.user:
        if emulator.directory.find_user(upn) is None:
            emulator.add_user(display_name=display_name, upn=upn)
    colleagues = []
    for display_name, upn in args.colleague:
        if (kept := emulator.directory.find_user(upn)) is None:
            colleagues.append(
                emulator.add_colleague(display_name=display_name, upn=upn)
            )
        else:
            emulator.set_client_session(
                COLLEAGUE_SESSION, "Available", "Available", user=kept
            )
            colleagues.append(kept)
    if args.auto_approve_device_seconds is not None:
        emulator.auto_approve_device_codes = emulator.default_user
        emulator.auto_approve_delay = timedelta(
            seconds=args.auto_approve_device_seconds
        )
    await emulator.start(
        args.host, args.graph_port, args.login_port, tls_folder=tls_folder
    )
    app = emulator.default_app
    app.consented_scopes.update(args.consent)
    front_door = ""
    if args.front_door is not None:
        port, target = args.front_door
        url = await emulator.open_front_door(int(port), target)
        front_door = f"Public:  {url} -> {target}\n"
    users = "".join(
        f"User:    {user.display_name} <{user.upn}> id {user.id}\n"
        for user in emulator.directory.users
    )
    sys.stdout.write(
        f"Graph:   {emulator.graph_url}/v1.0 (sign-in routes too)\n"
        f"Sign-in: {emulator.login_url}/{emulator.default_tenant_id}\n"
        f"CA:      {emulator.ca_path}\n"
        f"{users}"
        f"App:     client id {app.client_id}, secret {app.secret}\n"
        f"{front_door}"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()
    return tuple(colleagues)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(_serve(_arguments(argv)))


if __name__ == "__main__":
    main()
