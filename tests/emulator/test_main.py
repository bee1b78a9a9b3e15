"""The standalone emulator: python -m graph_emulator."""

from __future__ import annotations

import asyncio
import contextlib
import re

import aiohttp
import pytest

from graph_emulator.__main__ import _arguments, _serve, main


def test_arguments_default_to_the_documented_ports() -> None:
    args = _arguments([])
    assert (args.host, args.graph_port, args.login_port) == ("127.0.0.1", 8600, 8601)
    assert args.client_id is None
    assert args.auto_approve_device_seconds is None


async def test_serve_registers_the_app_and_auto_approves(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _arguments(
        [
            "--graph-port=0",
            "--login-port=0",
            "--client-id=my-own-app",
            "--auto-approve-device-seconds=0",
        ]
    )
    server = asyncio.create_task(_serve(args))
    output = ""
    while "Ctrl-C" not in output:
        await asyncio.sleep(0.01)
        output += capsys.readouterr().out
    match = re.search(r"Graph:\s+(http://127\.0\.0\.1:\d+)/v1\.0", output)
    assert match is not None, output
    assert "adelev@contoso.example" in output
    assert re.search(r"CA:\s+/\S+\.pem", output)
    graph_url = match.group(1)
    async with aiohttp.ClientSession(graph_url) as session:
        async with session.post(
            "/organizations/oauth2/v2.0/devicecode",
            data={"client_id": "my-own-app", "scope": "User.Read offline_access"},
        ) as response:
            flow = await response.json()
        async with session.post(
            "/organizations/oauth2/v2.0/token",
            data={
                "client_id": "my-own-app",
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": flow["device_code"],
            },
        ) as response:
            assert response.status == 200
            assert "refresh_token" in await response.json()
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as session:
            await session.get(f"{graph_url}/v1.0/me")


async def test_ctrl_c_stops_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("graph_emulator.__main__._serve", interrupted)
    # In a thread: asyncio.run must not replace this thread's event loop.
    await asyncio.to_thread(main, [])


def test_simulate_day_is_off_unless_asked() -> None:
    assert _arguments([]).simulate_day is False
    assert _arguments(["--simulate-day"]).simulate_day is True
