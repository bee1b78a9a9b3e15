"""scripts/live-check against the emulator, as CI runs it: the report, and the account.

The check runs as the user runs it, a process of its own signing in by device code
(the emulator's user enters the code); its report must list every request, hold no
credential, and the account must end as it began, also when the check is interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import os
from pathlib import Path
import re
import signal
import socket
import sys

import pytest

from graph_emulator import GraphEmulator
from graph_emulator._timezones import zone_info
from graph_emulator.presence import WorkLocation

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "live_check.py"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STATUS_MESSAGE = "In the lab until noon | back after lunch"
DESKTOP = "teams-desktop"
WAIT = 60.0
"""Seconds any single wait on the check may take before the test gives up."""


@dataclass(frozen=True)
class AccountState:
    """What the check may change, as the emulator holds it."""

    app_sessions: tuple[str, ...]
    preferred: object
    status_message: tuple[str, str, datetime | None] | None
    client_sessions: tuple[tuple[str, tuple[str, str]], ...]
    work_location: object
    subscriptions: int


def account_state(emulator: GraphEmulator) -> AccountState:
    """Read the user's state; a message's expiry compares as a moment, any zone."""
    user = emulator.default_user
    presence = user.presence
    message = presence.status_message
    return AccountState(
        app_sessions=tuple(
            app.client_id
            for app in emulator.directory.apps.values()
            if presence.app_session(app.client_id) is not None
        ),
        preferred=presence.preferred,
        status_message=None
        if message is None
        else (message.content, message.content_type, message.expiry),
        client_sessions=tuple(sorted(presence.client_sessions.items())),
        work_location=presence.work_location(),
        subscriptions=len(emulator.subscriptions.all()),
    )


@pytest.fixture
async def account(emulator: GraphEmulator) -> GraphEmulator:
    """A working day: Teams desktop open, a status message, a manual work location.

    The app was granted Presence.Read.All, which subscriptions need.
    """
    emulator.default_app.consented_scopes.add("Presence.Read.All")
    emulator.set_client_session(DESKTOP, "Available", "Available")
    zone = zone_info("W. Europe Standard Time")
    expiry = datetime.now(zone).replace(microsecond=0) + timedelta(hours=2)
    emulator.default_user.presence.set_status_message(
        STATUS_MESSAGE, "text", expiry, "W. Europe Standard Time"
    )
    emulator.default_user.presence.manual_location = WorkLocation("office")
    return emulator


def free_port() -> int:
    """A loopback port nothing listens on (the check's notification listener)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Run:
    """A check run to its end: its exit code, report (standard output) and messages."""

    code: int
    report: str
    messages: str

    def steps(self) -> list[tuple[str, str, str]]:
        """(step, outcome, details) of each line of the report's steps."""
        return [
            (match["name"], match["outcome"], match["detail"])
            for match in re.finditer(
                r"^\| \d+ \| (?P<name>.+?) \| (?P<outcome>\w+) \| (?P<detail>.*?) \|$",
                self.report.split("### Graph requests")[0],
                re.MULTILINE,
            )
        ]

    def requests(self) -> list[tuple[str, str, str, str, str]]:
        """(method, path, status, request-id, client-request-id) of each request."""
        return [
            (m["method"], m["path"], m["status"], m["id"], m["client_id"])
            for m in re.finditer(
                r"^\| \d+ \| [\d:.]+ \| (?P<method>[A-Z]+) \| (?P<path>\S+) \|"
                r" (?P<status>[^|]+?) \| \d* \| (?P<id>\S*) \| (?P<client_id>\S*) \|$",
                self.report,
                re.MULTILINE,
            )
        ]


class Check:
    """The check as a process, its user signing in through the emulator."""

    def __init__(self, emulator: GraphEmulator) -> None:
        """Check the emulator's default user, with its app."""
        self.emulator = emulator
        self.process: asyncio.subprocess.Process | None = None
        self.messages = ""

    async def start(self, *arguments: str) -> None:
        """Start the check and enter its device code as the user, once it shows one."""
        await self.launch(*arguments)
        code = await self.wait_for_message(r"enter the code (\S+) to authenticate")
        self.emulator.approve_device_code(code)

    async def launch(self, *arguments: str, client_id: str | None = None) -> None:
        """Start the check with the emulator's app (or ``client_id``)."""
        emulator = self.emulator
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            f"--client-id={client_id or emulator.default_app.client_id}",
            f"--graph-url={emulator.graph_url}",
            f"--login-url={emulator.login_url}",
            *arguments,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # msal (requests) trusts the emulator's sign-in certificate.
            env={**os.environ, "REQUESTS_CA_BUNDLE": emulator.ca_path},
        )

    async def wait_for_message(self, pattern: str) -> str:
        """Read the check's messages until one matches; return its first group."""
        assert self.process is not None
        assert self.process.stderr is not None
        async with asyncio.timeout(WAIT):
            while (match := re.search(pattern, self.messages)) is None:
                line = await self.process.stderr.readline()
                assert line, f"the check ended without {pattern!r}: {self.messages}"
                self.messages += line.decode()
        return match[1]

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Poll what the emulator received until ``condition`` holds."""
        assert self.process is not None
        async with asyncio.timeout(WAIT):
            while not condition():
                assert self.process.returncode is None, self.messages
                await asyncio.sleep(0.01)

    def signal(self, signum: signal.Signals) -> None:
        """Interrupt the check as Ctrl-C (SIGINT) or a service manager (SIGTERM) does."""
        assert self.process is not None
        self.process.send_signal(signum)

    async def finish(self) -> Run:
        """Wait for the check to end."""
        assert self.process is not None
        async with asyncio.timeout(WAIT):
            report, messages = await self.process.communicate()
        assert self.process.returncode is not None
        return Run(
            self.process.returncode, report.decode(), self.messages + messages.decode()
        )


@pytest.fixture
async def check(account: GraphEmulator) -> AsyncIterator[Check]:
    """The check, killed if a test leaves it running."""
    running = Check(account)
    yield running
    if running.process is not None and running.process.returncode is None:
        running.process.kill()
        await running.process.wait()


def assert_no_credentials(emulator: GraphEmulator, run: Run) -> None:
    """Nothing the emulator issued, nor the subscription's clientState, was printed."""
    client_states = {
        str(entry.body["clientState"])
        for entry in emulator.graph_calls("subscriptions")
        if isinstance(entry.body, dict) and "clientState" in entry.body
    }
    printed = run.report + run.messages
    leaked = {s for s in emulator.issued_secrets() | client_states if s in printed}
    assert not leaked, f"{len(leaked)} credential(s) printed"
    user = emulator.default_user
    names = {
        emulator.default_app.client_id,
        user.id,
        user.upn,
        emulator.default_tenant_id,
    }
    assert not {name for name in names if name in run.report}


def graph_requests(emulator: GraphEmulator) -> list[tuple[str, str, str]]:
    """(method, path, status) of each Graph request the emulator received."""
    return [
        (entry.method, entry.path, str(entry.status))
        for entry in emulator.requests
        if entry.server == "graph" and entry.path.startswith("/v1.0/")
    ]


PRESENCE = ("GET", "/v1.0/me/presence", "200")


def action(name: str) -> tuple[str, str, str]:
    return ("POST", f"/v1.0/me/presence/{name}", "200")


async def test_the_check_reports_every_request_and_leaves_the_account_as_found(
    account: GraphEmulator, check: Check
) -> None:
    before = account_state(account)
    listener = free_port()
    public_url = await account.open_front_door(0, f"http://127.0.0.1:{listener}")

    await check.start(
        f"--notification-url={public_url}/live-check",
        f"--listen=127.0.0.1:{listener}",
        "--notification-timeout=30",
    )
    run = await check.finish()

    assert run.code == 0, run.report + run.messages
    assert account_state(account) == before
    [subscription] = [
        entry.path
        for entry in account.requests
        if entry.method == "DELETE" and entry.path.startswith("/v1.0/subscriptions/")
    ]
    expected = [
        PRESENCE,
        *[request for _ in range(5) for request in (action("setPresence"), PRESENCE)],
        action("setUserPreferredPresence"),
        PRESENCE,
        action("clearUserPreferredPresence"),
        PRESENCE,
        action("setStatusMessage"),
        PRESENCE,
        action("setStatusMessage"),
        PRESENCE,
        PRESENCE,
        ("GET", "/v1.0/me", "200"),
        ("POST", "/v1.0/subscriptions", "201"),
        PRESENCE,
        action("setPresence"),
        PRESENCE,
        ("DELETE", subscription, "204"),
        action("clearPresence"),
        PRESENCE,
    ]
    assert graph_requests(account) == expected
    reported = run.requests()
    assert [(method, path, status) for method, path, status, *_ in reported] == expected
    for *_, request_id, client_request_id in reported:
        assert UUID.fullmatch(request_id)
        assert client_request_id == request_id  # Graph's own, as none was sent

    steps = run.steps()
    assert {outcome for _, outcome, _ in steps} == {"ok", "differs"}
    assert [name for name, outcome, _ in steps if outcome == "differs"] == [
        "Read it back"  # Away: the open Teams desktop (Available) wins over it
    ]
    details = {name: detail for name, _, detail in steps}
    assert details["Read the work location"] == "office (source manual)"
    assert details["Read the presence after the check"] == "shows Available/Available"
    assert re.fullmatch(
        r"arrived \d+\.\d s after the change",
        details["Wait for a change notification (at most 30 s)"],
    )
    assert "Outcome: **completed**; 31 steps, 0 failed" in run.report
    assert_no_credentials(account, run)


async def test_a_failed_request_fails_its_step_and_the_check_goes_on(
    account: GraphEmulator, check: Check
) -> None:
    """Without the presence before, the status message is left alone."""
    before = account_state(account)

    await check.start()
    account.fail(1, 503)  # the first request: the read before the check
    run = await check.finish()

    assert run.code == 1
    assert account_state(account) == before
    steps = run.steps()
    assert steps[1][:2] == ("Read the presence before the check", "FAILED")
    assert steps[1][2].startswith("503 ServiceUnavailable: ")
    assert ("Status message", "skipped") in {(name, o) for name, o, _ in steps}
    assert steps[-1][:2] == ("Read the presence after the check", "ok")
    assert "Outcome: **completed**; 20 steps, 1 failed" in run.report
    assert_no_credentials(account, run)


def restore_message_step(state: AccountState) -> str:
    """The restore step's name, which says when the message restored expires."""
    assert state.status_message is not None
    assert state.status_message[2] is not None
    expiry = state.status_message[2].astimezone(UTC)
    return f"Restore: setStatusMessage back to the previous one (expires {expiry:%H:%M:%S} UTC)"


@pytest.mark.parametrize(
    ("in_flight", "signum"),
    [
        ("setUserPreferredPresence", signal.SIGINT),
        ("setStatusMessage", signal.SIGTERM),
    ],
)
async def test_interrupted_while_a_change_is_in_flight(
    account: GraphEmulator,
    check: Check,
    in_flight: str,
    signum: signal.Signals,
) -> None:
    """Whatever was sent is undone, even a request still unanswered.

    A second signal while the check restores only says so.
    """
    before = account_state(account)
    account.latency = 0.3  # every answer comes late: the test sees requests in flight

    await check.start()
    await check.wait_until(
        lambda: any(entry.status == 0 for entry in account.graph_calls(in_flight))
    )
    check.signal(signum)
    await check.wait_for_message(r"(stopping), then restoring")
    check.signal(signum)
    run = await check.finish()

    assert run.code == 128 + signum.value
    assert account_state(account) == before
    assert f"Outcome: **interrupted ({signum.name})**" in run.report
    restored = {
        "setUserPreferredPresence": [
            (
                "setUserPreferredPresence BeRightBack/BeRightBack for 5 min",
                "interrupted",
            ),
            ("Restore: clearUserPreferredPresence", "ok"),
        ],
        "setStatusMessage": [
            ("setStatusMessage (a test message, for 5 min)", "interrupted"),
            (restore_message_step(before), "ok"),
            ("Read it back", "ok"),
        ],
    }[in_flight]
    ended = [
        ("clearPresence (end the app's session)", "ok"),
        ("Read the presence after the check", "ok"),
    ]
    steps = [(name, outcome) for name, outcome, _ in run.steps()]
    assert steps[-len(restored) - 2 :] == restored + ended
    assert "Restoring your account, a moment please" in run.messages
    assert_no_credentials(account, run)


async def test_interrupted_while_waiting_for_the_notification(
    account: GraphEmulator, check: Check
) -> None:
    """The subscription is deleted, the app's session ended."""
    before = account_state(account)
    account.subscriptions.silent = True  # Graph loses the notification
    listener = free_port()
    public_url = await account.open_front_door(0, f"http://127.0.0.1:{listener}")

    await check.start(
        f"--notification-url={public_url}/live-check",
        f"--listen=127.0.0.1:{listener}",
    )
    await check.wait_for_message(r"(Waiting) for a change notification")
    check.signal(signal.SIGTERM)
    run = await check.finish()

    assert run.code == 128 + signal.SIGTERM.value
    assert account_state(account) == before
    names = [(name, outcome) for name, outcome, _ in run.steps()]
    assert names[-4:] == [
        ("Wait for a change notification (at most 120 s)", "interrupted"),
        ("Delete the subscription", "ok"),
        ("clearPresence (end the app's session)", "ok"),
        ("Read the presence after the check", "ok"),
    ]
    assert_no_credentials(account, run)


async def test_interrupted_while_signing_in(
    account: GraphEmulator, check: Check
) -> None:
    """Nothing was changed, nothing is sent to Graph; msal's polling stops at once."""
    before = account_state(account)
    await check.launch()
    await check.wait_for_message(r"enter the (code)")
    check.signal(signal.SIGINT)
    run = await check.finish()

    assert run.code == 128 + signal.SIGINT.value
    assert run.steps() == [("Sign in by device code", "interrupted", "")]
    assert graph_requests(account) == []
    assert account_state(account) == before
    assert_no_credentials(account, run)


async def test_a_taken_listening_port_skips_the_subscription(
    account: GraphEmulator, check: Check
) -> None:
    """The check says so, subscribes to nothing, and runs the rest."""
    before = account_state(account)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        await check.start(
            "--notification-url=https://localhost:9/live-check",
            f"--listen=127.0.0.1:{port}",
        )
        run = await check.finish()

    assert run.code == 1
    assert account_state(account) == before
    assert account.graph_calls("subscriptions") == []
    listen = next(step for step in run.steps() if step[0].startswith("Listen on"))
    assert listen[1] == "FAILED"
    assert "address already in use" in listen[2]
    assert run.steps()[-1][:2] == ("Read the presence after the check", "ok")


async def test_a_refused_sign_in_is_reported_in_entras_words(
    account: GraphEmulator, check: Check
) -> None:
    """The app id Entra ID quotes is redacted; nothing reaches Graph."""
    unknown = "0badc0de-0000-4000-8000-000000000000"

    await check.launch(client_id=unknown)
    run = await check.finish()

    assert run.code == 1
    assert "Outcome: **sign-in failed**" in run.report
    [(name, outcome, detail)] = run.steps()
    assert (name, outcome) == ("Sign in by device code", "FAILED")
    assert detail.startswith(
        "unauthorized_client: AADSTS700016: Application with identifier '[redacted]'"
    )
    # What Microsoft's support looks a failed sign-in up by.
    assert re.search(
        rf"\(trace id {UUID.pattern}, correlation id {UUID.pattern}\)$", detail
    )
    assert unknown not in run.report
    assert graph_requests(account) == []
