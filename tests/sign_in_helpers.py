"""Steps shared by the sign-in tests (config flow and token providers).

Their tests are marked with ``SIGN_IN_GUARDS`` (``tests/sign_in_guard.py``).
"""

from __future__ import annotations

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
from graph_emulator import GraphEmulator
from tests.common import CLIENT_ID, CLIENT_SECRET

__all__ = ["CLIENT_ID", "CLIENT_SECRET"]


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


async def async_browser_reconfigure_to_app(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    entry: ConfigEntry,
    client_id: str,
    secret: str,
) -> ConfigFlowResult:
    """Reconfigure a browser entry to another app: a second application credential."""
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(client_id, secret), client_id
    )
    result = await async_start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: DEFAULT_TENANT}
    )
    assert result["step_id"] == "pick_implementation"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"implementation": client_id}
    )
    return await async_browser_sign_in(hass, hass_client_no_auth, result)


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
