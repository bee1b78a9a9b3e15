"""A guard for sign-in tests: msal off the event loop, and no secret in any log.

Registered from ``tests/conftest.py``; sign-in tests ask for it with
``pytestmark = SIGN_IN_GUARDS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
import logging
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
import requests

from graph_emulator import GraphEmulator
from tests.common import CLIENT_SECRET

SIGN_IN_GUARDS = pytest.mark.usefixtures("sign_in_guards")

ACCESS_LOGGER = "aiohttp.access"
"""The test server logs each request line, so the callback's one-time code. Home
Assistant's bootstrap raises this logger to WARNING, so it never does that in use."""
SENSITIVE_FIELDS = frozenset({"client_secret", "code", "device_code", "refresh_token"})
"""Fields of a sign-in request whose values must never reach a log."""


@dataclass
class SignInWatch:
    """What a sign-in test can look at: msal's requests by thread, entry setups."""

    setup_entry: AsyncMock | None
    """Stands in for the integration's setup: the flow is under test, not the entry.

    ``None`` where entries really set up (``entries_set_up_for_real``)."""
    off_loop: list[str] = field(default_factory=list)
    on_loop: list[str] = field(default_factory=list)
    """URLs msal requested from a thread running the event loop (must stay empty)."""


@pytest.fixture
def sign_in_guards(
    enable_custom_integrations: None,
    emulator: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    entries_set_up_for_real: bool,
) -> Iterator[SignInWatch]:
    """What every sign-in test needs, and what each must leave true.

    msal trusts the emulator's CA through its default requests session (see
    msal-notes); entries the flows create are not set up (unless the test says so);
    every msal request is watched for running on the event loop; and no token,
    secret or code may appear in any record logged at debug level.
    """
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    with ExitStack() as stack:
        sessions = stack.enter_context(_open_sessions(monkeypatch))
        setup_entry = None
        if not entries_set_up_for_real:
            setup_entry = stack.enter_context(
                patch(
                    "custom_components.teams_presence_keeper.async_setup_entry",
                    new_callable=AsyncMock,
                    return_value=True,
                )
            )
        calls = _watch_msal(monkeypatch, SignInWatch(setup_entry))
        yield calls
        # Closed before the emulator stops, so no TLS connection outlives it.
        for session in sessions:
            session.close()
    assert not calls.on_loop, f"msal ran on the event loop: {calls.on_loop}"
    secrets = emulator_secrets(emulator)
    # At teardown, caplog.records holds only the teardown's own records.
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        if record.name == ACCESS_LOGGER:
            continue
        text = record.getMessage() + (record.exc_text or "")
        leaked = sorted(secret for secret in secrets if secret in text)
        assert not leaked, f"{record.name} logged a secret: {text}"


@contextmanager
def _open_sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[requests.Session]]:
    """Collect the requests sessions created meanwhile (msal makes its own)."""
    sessions: list[requests.Session] = []
    init = requests.Session.__init__

    def tracked_init(self: requests.Session) -> None:
        init(self)
        sessions.append(self)

    monkeypatch.setattr(requests.Session, "__init__", tracked_init)
    yield sessions


def _watch_msal(monkeypatch: pytest.MonkeyPatch, calls: SignInWatch) -> SignInWatch:
    """Record msal's requests by thread; it only talks through requests sessions."""
    send = requests.Session.send

    def watched_send(
        self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            calls.off_loop.append(str(request.url))
        else:
            calls.on_loop.append(str(request.url))
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", watched_send)
    return calls


def emulator_secrets(emulator: GraphEmulator) -> set[str]:
    """Every token, secret and code that the emulator issued or was sent."""
    directory = emulator.directory
    secrets = {
        CLIENT_SECRET,
        *directory._access_tokens,
        *directory._refresh_tokens,
        *directory._auth_codes,
    }
    for code in directory._device_codes.values():
        secrets |= {code.device_code, code.user_code}
    for request in emulator.requests:
        if isinstance(request.body, dict):
            secrets.update(
                str(value)
                for key, value in request.body.items()
                if key in SENSITIVE_FIELDS and value
            )
    return secrets
