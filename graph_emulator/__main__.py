"""Run the emulator standalone: python -m graph_emulator [--help]."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import timedelta
import sys

from .server import GraphEmulator
from .simulation import simulate_day


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
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    emulator = GraphEmulator()
    if args.client_id:
        emulator.add_app(client_id=args.client_id)
    if args.auto_approve_device_seconds is not None:
        emulator.auto_approve_device_codes = emulator.default_user
        emulator.auto_approve_delay = timedelta(
            seconds=args.auto_approve_device_seconds
        )
    await emulator.start(args.host, args.graph_port, args.login_port)
    user, app = emulator.default_user, emulator.default_app
    sys.stdout.write(
        f"Graph:   {emulator.graph_url}/v1.0 (sign-in routes too)\n"
        f"Sign-in: {emulator.login_url}/{emulator.default_tenant_id}\n"
        f"CA:      {emulator.ca_path}\n"
        f"User:    {user.display_name} <{user.upn}> id {user.id}\n"
        f"App:     client id {app.client_id}, secret {app.secret}\n"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()
    try:
        if args.simulate_day:
            await simulate_day(emulator)
        else:
            await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_arguments(argv)))


if __name__ == "__main__":
    main()
