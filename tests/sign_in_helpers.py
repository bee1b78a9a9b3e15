"""Fixtures and steps shared by the sign-in tests (config flow and token providers).

Test modules import ``sign_in_guards`` and mark their tests with ``SIGN_IN_GUARDS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
import logging
from typing import Any
from unittest.mock import AsyncMock, patch

from aiohttp import ClientSession
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigFlowResult,
)
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import requests

from custom_components.teams_presence.const import (
    AUTH_METHOD_APPLICATION,
    AUTH_METHOD_BROWSER,
    AUTH_METHOD_DEVICE_CODE,
    CLOUD_CUSTOM,
    CONF_AUTH_METHOD,
    CONF_CLOUD,
    CONF_GRAPH_URL,
    CONF_LOGIN_URL,
    CONF_TARGET_USER,
    CONF_TENANT,
    DEFAULT_TENANT,
    DOMAIN,
)
from graph_emulator import GraphEmulator
from tests.conftest import CLIENT_ID, CLIENT_SECRET

__all__ = ["CLIENT_ID", "CLIENT_SECRET"]

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
                    "custom_components.teams_presence.async_setup_entry",
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


async def async_setup_credentials(
    hass: HomeAssistant, secret: str = CLIENT_SECRET
) -> None:
    """Import the emulator's default app as application credentials."""
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(CLIENT_ID, secret), DOMAIN
    )


def emulator_urls(emulator: GraphEmulator, method: str) -> dict[str, str]:
    """Point a flow at the emulator.

    msal needs the HTTPS sign-in URL; Home Assistant's OAuth2 helper keeps its own
    trust store, so the browser method signs in on the plain HTTP listener.
    """
    return {
        CONF_GRAPH_URL: emulator.graph_url,
        CONF_LOGIN_URL: emulator.graph_url
        if method == AUTH_METHOD_BROWSER
        else emulator.login_url,
    }


async def async_start_flow(
    hass: HomeAssistant, emulator: GraphEmulator, method: str
) -> ConfigFlowResult:
    """Start a flow with custom endpoints and choose ``method`` against the emulator."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_AUTH_METHOD: method, CONF_CLOUD: CLOUD_CUSTOM}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "endpoints"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], emulator_urls(emulator, method)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == method
    return result


async def async_start_reconfigure(
    hass: HomeAssistant, entry: ConfigEntry
) -> ConfigFlowResult:
    """Start reconfiguring an entry; the method's form comes first."""
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )


async def async_authorize(result: ConfigFlowResult) -> str:
    """Open the authorize URL as a browser would; return where Entra ID redirects."""
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    async with (
        ClientSession() as session,
        session.get(result["url"], allow_redirects=False) as response,
    ):
        assert response.status == 302, await response.text()
        return response.headers["Location"]


async def async_call_back(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    flow_id: str,
    location: str,
) -> ConfigFlowResult:
    """Deliver Entra ID's redirect to Home Assistant, then resume the flow."""
    path, _, query = location.partition("/auth/external/callback")
    assert path == "https://example.com"
    client = await hass_client_no_auth()
    response = await client.get(f"/auth/external/callback{query}")
    assert response.status == 200
    return await hass.config_entries.flow.async_configure(flow_id)


async def async_browser_sign_in(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    result: ConfigFlowResult,
) -> ConfigFlowResult:
    """Sign in at the emulator (it approves at once) and finish the flow."""
    location = await async_authorize(result)
    return await async_call_back(hass, hass_client_no_auth, result["flow_id"], location)


async def async_wait_for_device_code(
    hass: HomeAssistant, result: ConfigFlowResult
) -> ConfigFlowResult:
    """Let msal's polling end, then take the flow's next step."""
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done()
    return await hass.config_entries.flow.async_configure(result["flow_id"])


def entry_of(hass: HomeAssistant, result: ConfigFlowResult) -> ConfigEntry:
    """Return the entry a flow created."""
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    return entry


async def async_browser_entry(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> ConfigEntry:
    """Add the default user through the browser method (credentials imported)."""
    result = await async_start_flow(hass, emulator, AUTH_METHOD_BROWSER)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: DEFAULT_TENANT}
    )
    return entry_of(
        hass, await async_browser_sign_in(hass, hass_client_no_auth, result)
    )


async def async_device_code_entry(
    hass: HomeAssistant, emulator: GraphEmulator
) -> ConfigEntry:
    """Add the default user through the device-code method, approved at once."""
    emulator.auto_approve_device_codes = emulator.default_user
    result = await async_start_flow(hass, emulator, AUTH_METHOD_DEVICE_CODE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: DEFAULT_TENANT, CONF_CLIENT_ID: CLIENT_ID}
    )
    return entry_of(hass, await async_wait_for_device_code(hass, result))


async def async_application_entry(
    hass: HomeAssistant, emulator: GraphEmulator
) -> ConfigEntry:
    """Add the default user through application permission."""
    result = await async_start_flow(hass, emulator, AUTH_METHOD_APPLICATION)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_TENANT: emulator.default_tenant_id,
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_CLIENT_SECRET: CLIENT_SECRET,
            CONF_TARGET_USER: emulator.default_user.upn,
        },
    )
    return entry_of(hass, result)
