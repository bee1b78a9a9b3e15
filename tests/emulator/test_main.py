"""The standalone emulator: python -m graph_emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
import re
import signal
import sys
from typing import Any

import aiohttp
import pytest

from graph_emulator import GraphEmulator
from graph_emulator.__main__ import _arguments, _serve, _start, main
from graph_emulator.tokens import AppRegistration, Directory, EntraError, Grant

REPO = Path(__file__).resolve().parents[2]
STATE_ARGUMENTS = [
    "--graph-port=0",
    "--login-port=0",
    "--auto-approve-device-seconds=0",
    "--user=Megan Bowen <meganb@contoso.example>",
]


@dataclass
class Serving:
    """What a running emulator printed."""

    output: str

    def line(self, label: str) -> str:
        """The value printed after `label:`."""
        match = re.search(rf"^{label}:\s+(.*)$", self.output, re.MULTILINE)
        assert match is not None, self.output
        return match.group(1)

    @property
    def graph_url(self) -> str:
        return (
            self.line("Graph")
            .removesuffix(" (sign-in routes too)")
            .removesuffix("/v1.0")
        )


@contextlib.asynccontextmanager
async def serving(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> AsyncIterator[Serving]:
    """Run `python -m graph_emulator ARGV` in this loop until the block ends."""
    server = asyncio.create_task(_serve(_arguments(argv)))
    output = ""
    while "Ctrl-C" not in output:
        await asyncio.sleep(0.01)
        assert not server.done(), output
        output += capsys.readouterr().out
    try:
        yield Serving(output)
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


def secret_modes(state: Path) -> set[int]:
    """The permissions of the files holding tokens and the private key."""
    secrets = (state / "directory.json", state / "tls" / "server-key.pem")
    return {secret.stat().st_mode & 0o777 for secret in secrets}


async def sign_in_by_device_code(
    graph_url: str,
    client_id: str = "11111111-1111-1111-1111-111111111111",
    scope: str = "Presence.ReadWrite User.Read offline_access",
) -> dict[str, Any]:
    """Sign in as the seeded user (approved at once); return the token answer."""
    async with aiohttp.ClientSession(graph_url) as session:
        async with session.post(
            "/organizations/oauth2/v2.0/devicecode",
            data={"client_id": client_id, "scope": scope},
        ) as response:
            flow = await response.json()
        async with session.post(
            "/organizations/oauth2/v2.0/token",
            data={
                "client_id": client_id,
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": flow["device_code"],
            },
        ) as response:
            assert response.status == 200
            tokens: dict[str, Any] = await response.json()
            return tokens


def test_arguments_default_to_the_documented_ports() -> None:
    args = _arguments([])
    assert (args.host, args.graph_port, args.login_port) == ("127.0.0.1", 8600, 8601)
    assert args.client_id is None
    assert args.auto_approve_device_seconds is None


async def test_serve_registers_the_app_and_auto_approves(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--graph-port=0",
        "--login-port=0",
        "--client-id=my-own-app",
        "--auto-approve-device-seconds=0",
    ]
    async with serving(argv, capsys) as emulator:
        graph_url = emulator.graph_url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", graph_url)
        assert "adelev@contoso.example" in emulator.line("User")
        ca = Path(emulator.line("CA"))
        assert ca.name.endswith(".pem")
        tokens = await sign_in_by_device_code(
            graph_url, "my-own-app", "User.Read offline_access"
        )
        assert "refresh_token" in tokens
    # Without --state-dir, nothing is left behind: the certificates' folder is gone.
    assert not await asyncio.to_thread(ca.parent.exists)
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


def test_user_names_a_display_name_and_a_upn() -> None:
    args = _arguments(["--user", "Megan Bowen <meganb@contoso.example>"])
    assert args.user == [("Megan Bowen", "meganb@contoso.example")]
    with pytest.raises(SystemExit):
        _arguments(["--user", "meganb@contoso.example"])


async def test_colleagues_are_signed_in_to_teams_and_kept(
    socket_enabled: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The demo's followed colleagues: in the directory once, in Teams at each start."""
    args = _arguments(
        [
            "--graph-port=0",
            "--login-port=0",
            f"--state-dir={tmp_path}",
            "--colleague=Lee Gu <leeg@contoso.example>",
        ]
    )
    for _ in range(2):  # the first start, then a restart with the kept directory
        emulator = GraphEmulator()
        try:
            [lee] = await _start(emulator, args)
            assert (lee.display_name, emulator.presence(lee)) == (
                "Lee Gu",
                ("Available", "Available"),
            )
            upns = [user.upn for user in emulator.directory.users]
            assert upns.count("leeg@contoso.example") == 1
        finally:
            await emulator.stop()
    assert _arguments([]).colleague == []


async def test_state_dir_keeps_tokens_users_and_certificate_across_restarts(
    socket_enabled: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The demo restarts its emulator: Home Assistant's tokens and CA still work."""
    state = tmp_path / "state"
    argv = [*STATE_ARGUMENTS, f"--state-dir={state}"]
    async with serving(argv, capsys) as first:
        tokens = await sign_in_by_device_code(first.graph_url)
        users = re.findall(r"^User:.*$", first.output, re.MULTILINE)
        ca = Path(first.line("CA"))
        issued = await asyncio.to_thread(ca.read_bytes)
    assert ca == state / "tls" / "ca.pem"
    assert await asyncio.to_thread(secret_modes, state) == {0o600}

    async with serving(argv, capsys) as second:
        assert second.line("CA") == str(ca)
        assert await asyncio.to_thread(ca.read_bytes) == issued
        # Megan once, with the id she had: she is not added again.
        assert re.findall(r"^User:.*$", second.output, re.MULTILINE) == users
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        async with aiohttp.ClientSession(second.graph_url) as session:
            async with session.get("/v1.0/me/presence", headers=headers) as response:
                assert response.status == 200
            async with session.post(
                "/organizations/oauth2/v2.0/token",
                data={
                    "client_id": "11111111-1111-1111-1111-111111111111",
                    "grant_type": "refresh_token",
                    "refresh_token": tokens["refresh_token"],
                    "scope": "Presence.ReadWrite User.Read offline_access",
                },
            ) as response:
                assert response.status == 200
                assert "access_token" in await response.json()


def test_kept_directory_restores_revocations_and_app_tokens(tmp_path: Path) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    state_file = tmp_path / "directory.json"
    saved = Directory(lambda: now)
    saved.keep_in(state_file)
    user = saved.add_user(
        display_name="Adele", upn="adele@contoso.example", tenant_id="t"
    )
    app = saved.add_app(
        AppRegistration("app", "t", secret="s", public_client_flows=False)
    )
    grant = Grant(user, app, frozenset({"Presence.ReadWrite", "offline_access"}))
    revoked = saved.issue_refresh_token(grant)
    saved.revoke_refresh_tokens(user)
    kept = saved.issue_refresh_token(grant)
    delegated = saved.issue_access_token(app, user, lifetime=timedelta(hours=1))
    saved.revoke_access_tokens(user)
    app_only = saved.issue_access_token(
        app, None, roles={"Presence.ReadWrite.All"}, lifetime=timedelta(hours=1)
    )

    # Seeded anew, as the emulator does at each start: updated in place.
    loaded = Directory(lambda: now)
    seeded = loaded.add_user(
        display_name="Old", upn="old@contoso.example", tenant_id="t"
    )
    seeded.id = user.id
    loaded.keep_in(state_file)
    assert loaded.users == [seeded]
    assert (seeded.display_name, seeded.upn) == ("Adele", "adele@contoso.example")
    loaded_app = loaded.apps["app"]
    assert (loaded_app.secret, loaded_app.public_client_flows) == ("s", False)
    assert loaded.redeem_refresh_token(loaded_app, kept).user is seeded
    with pytest.raises(EntraError) as refused:
        loaded.redeem_refresh_token(loaded_app, revoked)
    assert refused.value.code == 50173
    assert loaded.access_token_revoked(delegated.value)
    restored = loaded.access_token(app_only.value)
    assert restored is not None
    assert restored.user is None
    assert restored.roles == {"Presence.ReadWrite.All"}
    assert restored.expires_at == app_only.expires_at


def test_kept_directory_refuses_an_unknown_format(tmp_path: Path) -> None:
    state_file = tmp_path / "directory.json"
    state_file.write_text('{"version": 0}')
    with pytest.raises(ValueError, match="version"):
        Directory(lambda: datetime.now(UTC)).keep_in(state_file)


async def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """The demo stops its emulator with SIGTERM: no private key left in /tmp."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "graph_emulator",
        "--graph-port=0",
        "--login-port=0",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    output = ""
    while "Ctrl-C" not in output:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, output
        output += line.decode()
    ca = Path(Serving(output).line("CA"))
    assert await asyncio.to_thread(ca.exists)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    assert not await asyncio.to_thread(ca.parent.exists)


async def test_the_demo_front_door_and_a_granted_permission(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--graph-port=0",
        "--login-port=0",
        "--auto-approve-device-seconds=0",
        "--front-door",
        "0",
        "http://127.0.0.1:9",
        "--consent",
        "Presence.Read.All",
    ]
    async with serving(argv, capsys) as emulator:
        assert re.fullmatch(
            r"https://localhost:\d+ -> http://127\.0\.0\.1:9", emulator.line("Public")
        )
        tokens = await sign_in_by_device_code(
            emulator.graph_url, scope="Presence.Read.All offline_access"
        )
        assert "Presence.Read.All" in tokens["scope"]
