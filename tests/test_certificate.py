"""A refused TLS certificate (a proxy re-signing traffic) is named, wherever it shows.

The emulator's HTTPS listener is signed by its own CA, which neither Home Assistant's
aiohttp session nor requests (msal) trusts unless told: each gets a real certificate
error from it, as behind a proxy whose CA the machine does not trust.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
import ssl
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.teams_presence_keeper.const import (
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
from custom_components.teams_presence_keeper.graph import (
    GraphCertificateError,
    GraphPresenceClient,
)
from custom_components.teams_presence_keeper.remedies import Failure, classify
from graph_emulator import GraphEmulator

from .common import CLIENT_ID, CLIENT_SECRET, advance, reauth_flows
from .sign_in_guard import SIGN_IN_GUARDS
from .sign_in_helpers import async_browser_sign_in, async_setup_credentials

HOST = "127.0.0.1"
INCOMING_FAILED = "Error on transport creation for incoming connection"
REFUSED = f"The TLS certificate of {HOST} was refused"


@pytest.fixture(autouse=True)
async def refused_handshakes_end_quietly(hass: HomeAssistant) -> AsyncIterator[None]:
    """Let the emulator's side of each refused handshake end without failing the test.

    The emulator serves in the test's event loop, which runs in debug mode: asyncio
    reports a server's failed handshake (the client hangs up, as it should) to the
    loop's handler, which Home Assistant's test harness makes fail the test.
    """
    loop = asyncio.get_running_loop()
    report = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == INCOMING_FAILED and isinstance(
            context.get("exception"), (ConnectionError, ssl.SSLError)
        ):
            return
        if report is not None:
            report(loop, context)

    loop.set_exception_handler(handle)
    yield
    loop.set_exception_handler(report)


async def test_graph_client_names_the_host(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    async def token() -> str:
        return "never-sent"

    client = GraphPresenceClient(
        async_get_clientsession(hass), token, base_url=emulator.login_url
    )
    with pytest.raises(GraphCertificateError) as err:
        await client.get_presence()

    assert err.value.host == HOST
    assert "issuer" in err.value.reason  # OpenSSL's words: no CA vouches for it
    assert classify(err.value) is Failure.TRANSIENT  # kept and retried, as an outage
    assert emulator.requests == []  # refused before any request


async def test_a_read_names_the_host(
    hass: HomeAssistant, emulator: GraphEmulator, config_entry: MockConfigEntry
) -> None:
    """Graph behind the proxy: setup waits and retries, and says why."""
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_GRAPH_URL: emulator.login_url}
    )

    assert not await hass.config_entries.async_setup(config_entry.entry_id)

    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert config_entry.reason is not None
    assert config_entry.reason.startswith(f"{REFUSED}: ")
    assert "Could not" not in config_entry.reason


async def test_actions_and_reads_name_the_sign_in_host(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
) -> None:
    """The sign-in behind the proxy: an action and the reads say why, no reauth."""
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_LOGIN_URL: emulator.login_url}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    # The access token lapses: the next request needs Entra ID.
    token = {**config_entry.data["token"], "expires_at": 0}
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": token}
    )

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_status_message",
            {"config_entry_id": config_entry.entry_id, "message": "Focus"},
            blocking=True,
        )
    assert err.value.translation_key == "certificate_refused"
    assert str(err.value).startswith(f"{REFUSED}: ")

    await advance(hass, freezer, timedelta(seconds=30))
    coordinator = config_entry.runtime_data.coordinator
    assert isinstance(coordinator.last_exception, HomeAssistantError)
    assert coordinator.last_exception.translation_key == "certificate_refused"
    assert str(coordinator.last_exception).startswith(f"{REFUSED}: ")
    assert reauth_flows(hass) == []
    assert emulator.graph_calls("setStatusMessage") == []


# The config flow


async def start_flow(
    hass: HomeAssistant, method: str, graph_url: str, login_url: str
) -> str:
    """Start a flow with these endpoints; return its id at the method's form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_AUTH_METHOD: method, CONF_CLOUD: CLOUD_CUSTOM}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_GRAPH_URL: graph_url, CONF_LOGIN_URL: login_url}
    )
    assert result["step_id"] == method
    return result["flow_id"]


def assert_names_the_host(result: ConfigFlowResult) -> None:
    """The flow's message has the host to name."""
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["host"] == HOST


@SIGN_IN_GUARDS
async def test_flow_sign_in_names_the_host(
    hass: HomeAssistant, emulator: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """msal, through requests, behind the proxy: the device code cannot start."""
    flow_id = await start_flow(
        hass, AUTH_METHOD_DEVICE_CODE, emulator.graph_url, emulator.login_url
    )
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TENANT: DEFAULT_TENANT, CONF_CLIENT_ID: CLIENT_ID}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "certificate_refused"}
    assert_names_the_host(result)


@SIGN_IN_GUARDS
async def test_flow_graph_check_names_the_host(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """Signed in, then Graph behind the proxy: the account cannot be read."""
    flow_id = await start_flow(
        hass, AUTH_METHOD_APPLICATION, emulator.login_url, emulator.login_url
    )

    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            CONF_TENANT: emulator.default_tenant_id,
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_CLIENT_SECRET: CLIENT_SECRET,
            CONF_TARGET_USER: emulator.default_user.upn,
        },
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "certificate_refused"}
    assert_names_the_host(result)


@SIGN_IN_GUARDS
async def test_browser_flow_names_the_host(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    current_request_with_host: None,
) -> None:
    """Signed in in the browser, then Graph behind the proxy: the flow ends, saying so."""
    await async_setup_credentials(hass)
    flow_id = await start_flow(
        hass, AUTH_METHOD_BROWSER, emulator.login_url, emulator.graph_url
    )
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TENANT: DEFAULT_TENANT}
    )

    result = await async_browser_sign_in(hass, hass_client_no_auth, result)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "certificate_refused"
    assert_names_the_host(result)
