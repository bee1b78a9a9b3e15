"""The config flow, end to end against the emulator's Entra ID and Graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping
import json
from pathlib import Path
import threading
import time
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntry,
    ConfigFlowResult,
)
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.translation import async_get_translations
import msal
import pytest
from pytest_homeassistant_custom_component.common import start_reauth_flow
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.teams_presence_keeper.auth.errors import (
    _OAUTH_ERRORS,
    AADSTS_ERRORS,
)
from custom_components.teams_presence_keeper.const import (
    CLOUD_CUSTOM,
    CONF_AUTH_METHOD,
    CONF_CLEAR_ON_REMOVE,
    CONF_CLOUD,
    CONF_EXPIRATION,
    CONF_GRAPH_URL,
    CONF_LOGIN_URL,
    CONF_READ_INTERVAL,
    CONF_TARGET_USER,
    CONF_TENANT,
    CONF_TENANT_ID,
    CONF_TOKEN_CACHE,
    CONF_USER_ID,
    DOMAIN,
)
from graph_emulator import GraphEmulator, User
from tests.sign_in_guard import SIGN_IN_GUARDS, SignInWatch
from tests.sign_in_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    async_application_entry,
    async_browser_entry,
    async_browser_sign_in,
    async_call_back,
    async_device_code_entry,
    async_setup_credentials,
    async_start_flow,
    async_start_reconfigure,
    async_wait_for_device_code,
    emulator_urls,
    entry_of,
)

pytestmark = SIGN_IN_GUARDS

STRINGS = Path(__file__).parents[1] / "custom_components" / DOMAIN / "strings.json"
TENANT_DOMAIN = "contoso.example"
OTHER_CLIENT_ID = "22222222-2222-2222-2222-222222222222"


@pytest.fixture
def other_user(emulator: GraphEmulator) -> User:
    """A second account of the same tenant."""
    return emulator.add_user(display_name="Megan Bowen", upn="meganb@contoso.example")


@pytest.fixture
async def browser_ready(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    current_request_with_host: None,
) -> None:
    """Application credentials for the emulator's app, and a request context."""
    await async_setup_credentials(hass)


def assert_default_account(entry: ConfigEntry, emulator: GraphEmulator) -> None:
    """The entry is the emulator's default user, with the default options."""
    assert entry.title == "Adele Vance"
    assert entry.unique_id == f"{emulator.default_tenant_id}_{emulator.default_user.id}"
    assert entry.options == {
        CONF_READ_INTERVAL: 30,
        CONF_EXPIRATION: 60,
        CONF_CLEAR_ON_REMOVE: True,
    }


def schema_of(result: ConfigFlowResult) -> dict[Any, Any]:
    """The fields of a form, with their markers."""
    assert result["data_schema"] is not None
    return dict(result["data_schema"].schema)


def placeholders_of(result: ConfigFlowResult) -> Mapping[str, str]:
    """The placeholders a step shows."""
    assert result["description_placeholders"] is not None
    return result["description_placeholders"]


# The first step


async def test_custom_endpoints_are_a_cloud_of_their_own(
    hass: HomeAssistant,
) -> None:
    """The addresses are asked only of those who choose them, in a step of their own."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert set(schema_of(result)) == {CONF_AUTH_METHOD, CONF_CLOUD}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_AUTH_METHOD: "device_code", CONF_CLOUD: CLOUD_CUSTOM}
    )
    assert result["step_id"] == "endpoints"
    assert set(schema_of(result)) == {CONF_GRAPH_URL, CONF_LOGIN_URL}


async def test_a_microsoft_cloud_needs_no_addresses(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_AUTH_METHOD: "device_code", CONF_CLOUD: "china"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "device_code"


@pytest.mark.parametrize(
    ("graph_url", "login_url", "errors"),
    [
        (
            "http://graph.contoso.example",
            "https://login.contoso.example",
            {CONF_GRAPH_URL: "insecure_url"},
        ),
        (
            "https://graph.contoso.example",
            "http://10.0.0.8:8443",
            {CONF_LOGIN_URL: "insecure_url"},
        ),
        (
            "graph.contoso.example",
            "https://login.contoso.example/?tenant=x",
            {CONF_GRAPH_URL: "invalid_url", CONF_LOGIN_URL: "invalid_url"},
        ),
        (
            "ftp://graph.contoso.example",
            "https://user:pw@login.contoso.example",
            {CONF_GRAPH_URL: "invalid_url", CONF_LOGIN_URL: "invalid_url"},
        ),
        (
            "http://:secret@127.0.0.1:8443",
            "https://@login.contoso.example",
            {CONF_GRAPH_URL: "invalid_url", CONF_LOGIN_URL: "invalid_url"},
        ),
    ],
)
async def test_custom_endpoints_refused_before_anything_is_sent(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    graph_url: str,
    login_url: str,
    errors: dict[str, str],
) -> None:
    """Tokens and secrets go to these addresses: HTTPS, or plain HTTP on loopback."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_AUTH_METHOD: "device_code", CONF_CLOUD: CLOUD_CUSTOM}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_GRAPH_URL: graph_url, CONF_LOGIN_URL: login_url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "endpoints"
    assert result["errors"] == errors
    assert emulator.requests == []

    # Loopback addresses may use plain HTTP: the emulator's Graph does.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_GRAPH_URL: emulator.graph_url, CONF_LOGIN_URL: emulator.login_url},
    )
    assert result["step_id"] == "device_code"


async def test_a_password_in_a_custom_address_is_refused_in_words(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """`http://:secret@host` once passed; every request then failed inside aiohttp."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_AUTH_METHOD: "device_code", CONF_CLOUD: CLOUD_CUSTOM}
    )
    graph_url = URL(emulator.graph_url).with_password("secret")
    assert str(graph_url).startswith("http://:secret@")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_GRAPH_URL: str(graph_url), CONF_LOGIN_URL: emulator.login_url},
    )
    assert result["errors"] == {CONF_GRAPH_URL: "invalid_url"}
    translations = await async_get_translations(hass, "en", "config", [DOMAIN])
    error = translations[f"component.{DOMAIN}.config.error.invalid_url"]
    assert "without a user name or password" in error
    assert emulator.requests == []


# Browser sign-in


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize("tenant", ["organizations", TENANT_DOMAIN])
async def test_browser_sign_in(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    tenant: str,
) -> None:
    result = await async_start_flow(hass, emulator, "browser")
    assert placeholders_of(result)["redirect_uri"] == (
        "https://my.home-assistant.io/redirect/oauth"
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: tenant}
    )
    authorize = URL(result["url"])
    assert authorize.path == f"/{tenant}/oauth2/v2.0/authorize"
    assert (
        authorize.query["scope"] == "Presence.ReadWrite User.Read offline_access openid"
    )

    result = await async_browser_sign_in(hass, hass_client_no_auth, result)

    entry = entry_of(hass, result)
    user = emulator.default_user
    assert_default_account(entry, emulator)
    token = entry.data["token"]
    assert emulator.directory.access_token(token["access_token"]) is not None
    assert token["refresh_token"]
    assert entry.data == {
        CONF_AUTH_METHOD: "browser",
        CONF_CLOUD: CLOUD_CUSTOM,
        **emulator_urls(emulator, "browser"),
        CONF_TENANT: tenant,
        CONF_TENANT_ID: emulator.default_tenant_id,
        CONF_USER_ID: user.id,
        "auth_implementation": DOMAIN,
        "token": token,
    }
    # The code was redeemed at the emulator's token endpoint for real.
    assert [
        (r.path, r.status)
        for r in emulator.requests
        if isinstance(r.body, dict) and r.body.get("grant_type") == "authorization_code"
    ] == [(f"/{tenant}/oauth2/v2.0/token", 200)]


@pytest.mark.usefixtures("browser_ready")
async def test_browser_same_account_twice_aborts(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    for expected in (FlowResultType.CREATE_ENTRY, FlowResultType.ABORT):
        result = await async_start_flow(hass, emulator, "browser")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_TENANT: "organizations"}
        )
        result = await async_browser_sign_in(hass, hass_client_no_auth, result)
        assert result["type"] is expected
    assert result["reason"] == "already_configured"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert result["description_placeholders"] == {"account": entry.title}


async def test_browser_without_credentials_aborts(
    hass: HomeAssistant, emulator: GraphEmulator, current_request_with_host: None
) -> None:
    result = await async_start_flow(hass, emulator, "browser")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_credentials"


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("access_denied", "authorization_declined"),
        ("consent_required", "consent_required"),
        ("server_error", "sign_in_refused"),
    ],
)
async def test_browser_sign_in_refused(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    error: str,
    reason: str,
) -> None:
    """Entra ID sends the user back with an error instead of a code."""
    result = await async_start_flow(hass, emulator, "browser")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations"}
    )
    state = URL(result["url"]).query["state"]
    location = str(
        URL("https://example.com/auth/external/callback").with_query(
            state=state, error=error
        )
    )

    result = await async_call_back(
        hass, hass_client_no_auth, result["flow_id"], location
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    # Without a translation of its own, Entra ID's words are shown.
    assert placeholders_of(result)["entra_error"] == error
    assert not hass.config_entries.async_entries(DOMAIN)


@pytest.mark.usefixtures("browser_ready")
async def test_browser_consent_missing(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Nobody consented to Presence.ReadWrite: Entra ID says so on the redirect."""
    emulator.default_app.consented_scopes = {"User.Read"}
    result = await async_start_flow(hass, emulator, "browser")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations"}
    )
    result = await async_browser_sign_in(hass, hass_client_no_auth, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "consent_required"


async def test_browser_wrong_secret(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    enable_custom_integrations: None,
    current_request_with_host: None,
) -> None:
    await async_setup_credentials(hass, secret="not-the-secret")
    result = await async_start_flow(hass, emulator, "browser")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations"}
    )
    result = await async_browser_sign_in(hass, hass_client_no_auth, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "oauth_unauthorized"
    assert not hass.config_entries.async_entries(DOMAIN)


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize(
    ("status", "reason"),
    [(403, "missing_permission"), (500, "cannot_connect"), (400, "unknown")],
)
async def test_browser_graph_refuses(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    status: int,
    reason: str,
) -> None:
    result = await async_start_flow(hass, emulator, "browser")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations"}
    )
    emulator.fail(1, status)
    result = await async_browser_sign_in(hass, hass_client_no_auth, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert not hass.config_entries.async_entries(DOMAIN)


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize(
    ("method", "tenant", "error"),
    [
        ("browser", "Consumers", "personal_account"),
        ("device_code", "consumers", "personal_account"),
        ("browser", "contoso.example/../common", "invalid_tenant"),
        ("device_code", "contoso.example?x=1", "invalid_tenant"),
        ("device_code", "organizations#", "invalid_tenant"),
        ("device_code", "common", "invalid_tenant"),
        ("browser", "1234-not-a-guid", "invalid_tenant"),
    ],
)
async def test_tenant_refused_before_asking_entra(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    method: str,
    tenant: str,
    error: str,
) -> None:
    """The tenant goes into sign-in URLs: only an id, a domain or organizations pass.

    Personal accounts have no presence: said at once, too.
    """
    result = await async_start_flow(hass, emulator, method)
    user_input = {CONF_TENANT: tenant}
    if method == "device_code":
        user_input[CONF_CLIENT_ID] = CLIENT_ID
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == method
    assert result["errors"] == {"base": error}
    assert not emulator.requests


# Code on another device


async def async_submit_device_code(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    *,
    tenant: str = "organizations",
    client_id: str = CLIENT_ID,
) -> ConfigFlowResult:
    """Start a device-code flow and submit its form."""
    result = await async_start_flow(hass, emulator, "device_code")
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: tenant, CONF_CLIENT_ID: client_id}
    )


async def test_device_code_sign_in(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    result = await async_submit_device_code(hass, emulator)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "device_code_wait"
    assert result["progress_action"] == "device_code"
    placeholders = placeholders_of(result)
    assert placeholders["url"] == f"{emulator.login_url}/devicelogin"

    emulator.approve_device_code(placeholders["code"])
    result = await async_wait_for_device_code(hass, result)

    entry = entry_of(hass, result)
    user = emulator.default_user
    assert_default_account(entry, emulator)
    cache = entry.data[CONF_TOKEN_CACHE]
    assert entry.data == {
        CONF_AUTH_METHOD: "device_code",
        CONF_CLOUD: CLOUD_CUSTOM,
        **emulator_urls(emulator, "device_code"),
        CONF_TENANT: "organizations",
        CONF_TENANT_ID: emulator.default_tenant_id,
        CONF_USER_ID: user.id,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_TOKEN_CACHE: cache,
    }
    assert json.loads(cache)["RefreshToken"]


async def test_device_code_same_account_twice_aborts(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    emulator.auto_approve_device_codes = emulator.default_user
    for expected in (FlowResultType.CREATE_ENTRY, FlowResultType.ABORT):
        result = await async_submit_device_code(hass, emulator)
        result = await async_wait_for_device_code(hass, result)
        assert result["type"] is expected
    assert result["reason"] == "already_configured"
    assert result["description_placeholders"] == {
        "account": emulator.default_user.display_name
    }


@pytest.mark.parametrize(
    ("tenant", "client_id", "error"),
    [
        ("organizations", OTHER_CLIENT_ID, "app_not_found"),
        ("nowhere.example", CLIENT_ID, "tenant_not_found"),
    ],
)
async def test_device_code_refused_at_start(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    tenant: str,
    client_id: str,
    error: str,
) -> None:
    result = await async_submit_device_code(
        hass, emulator, tenant=tenant, client_id=client_id
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "device_code"
    assert result["errors"] == {"base": error}


async def test_device_code_sign_in_service_unreachable(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    await emulator.refuse_connections()
    result = await async_submit_device_code(hass, emulator)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


def _personal_user(emulator: GraphEmulator) -> User:
    return emulator.add_user(
        display_name="Pat", upn="pat@outlook.example", personal=True
    )


def _refuse_public_flows(emulator: GraphEmulator) -> None:
    emulator.default_app.public_client_flows = False


def _withdraw_consent(emulator: GraphEmulator) -> None:
    emulator.default_app.consented_scopes = {"User.Read"}


@pytest.mark.parametrize(
    ("arrange", "error"),
    [
        (_refuse_public_flows, "public_client_disabled"),
        (_withdraw_consent, "consent_required"),
    ],
)
async def test_device_code_refused_after_sign_in(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    arrange: Callable[[GraphEmulator], None],
    error: str,
) -> None:
    """Refusals while msal polls end the progress and show the form again."""
    result = await async_submit_device_code(hass, emulator)
    arrange(emulator)
    emulator.approve_device_code(placeholders_of(result)["code"])
    result = await async_wait_for_device_code(hass, result)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "device_code"
    assert result["errors"] == {"base": error}
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_device_code_declined(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    result = await async_submit_device_code(hass, emulator)
    emulator.deny_device_code(placeholders_of(result)["code"])
    result = await async_wait_for_device_code(hass, result)
    assert result["errors"] == {"base": "authorization_declined"}


async def test_device_code_personal_account(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    result = await async_submit_device_code(hass, emulator)
    emulator.approve_device_code(
        placeholders_of(result)["code"], _personal_user(emulator)
    )
    result = await async_wait_for_device_code(hass, result)
    assert result["errors"] == {"base": "personal_account"}


async def test_device_code_expired_then_retried(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """An expired code says so; submitting again gets a new code that works."""
    result = await async_submit_device_code(hass, emulator)
    code = emulator.directory.pending_device_code(placeholders_of(result)["code"])
    code.issued_at -= code.expires_at - code.issued_at
    result = await async_wait_for_device_code(hass, result)
    assert result["errors"] == {"base": "device_code_expired"}

    emulator.auto_approve_device_codes = emulator.default_user
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TENANT: "organizations", CONF_CLIENT_ID: CLIENT_ID},
    )
    result = await async_wait_for_device_code(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_device_code_token_endpoint_down(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    result = await async_submit_device_code(hass, emulator)
    emulator.login_down = True
    result = await async_wait_for_device_code(hass, result)
    assert result["errors"] == {"base": "cannot_connect"}


@pytest.mark.parametrize(
    ("status", "error"), [(403, "missing_permission"), (404, "user_not_found")]
)
async def test_device_code_graph_refuses(
    hass: HomeAssistant, emulator: GraphEmulator, status: int, error: str
) -> None:
    emulator.auto_approve_device_codes = emulator.default_user
    result = await async_submit_device_code(hass, emulator)
    emulator.fail(1, status)
    result = await async_wait_for_device_code(hass, result)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_device_code_cancel_stops_polling(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """Closing the dialog ends msal's polling thread within a second or two."""
    polling = threading.Event()
    ended = threading.Event()
    poll = msal.PublicClientApplication.acquire_token_by_device_flow

    def watched_poll(
        self: msal.PublicClientApplication, flow: dict[str, Any], **kwargs: Any
    ) -> Any:
        polling.set()
        try:
            return poll(self, flow, **kwargs)
        finally:
            ended.set()

    with patch.object(
        msal.PublicClientApplication, "acquire_token_by_device_flow", watched_poll
    ):
        result = await async_submit_device_code(hass, emulator)
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        assert await hass.async_add_executor_job(polling.wait, 5)
        started = time.monotonic()
        hass.config_entries.flow.async_abort(result["flow_id"])
        assert await hass.async_add_executor_job(ended.wait, 5)
    assert time.monotonic() - started < 3
    assert not hass.config_entries.flow.async_progress()
    assert not hass.config_entries.async_entries(DOMAIN)


# Application permission


async def async_submit_application(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    **changes: str,
) -> ConfigFlowResult:
    """Start an application-permission flow and submit its form."""
    result = await async_start_flow(hass, emulator, "application")
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], _application_input(**changes)
    )


def _application_input(**changes: str) -> dict[str, str]:
    return {
        CONF_TENANT: TENANT_DOMAIN,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_TARGET_USER: "AdeleV@contoso.example",
        **changes,
    }


async def test_application_sign_in(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    result = await async_submit_application(hass, emulator)

    entry = entry_of(hass, result)
    user = emulator.default_user
    assert_default_account(entry, emulator)
    assert entry.data == {
        CONF_AUTH_METHOD: "application",
        CONF_CLOUD: CLOUD_CUSTOM,
        **emulator_urls(emulator, "application"),
        CONF_TENANT: TENANT_DOMAIN,
        CONF_TENANT_ID: emulator.default_tenant_id,
        CONF_USER_ID: user.id,
        CONF_TARGET_USER: user.id,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
    }


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({CONF_TENANT: "organizations"}, "tenant_required"),
        ({CONF_TENANT: "Common"}, "tenant_required"),
        ({CONF_TENANT: "nowhere.example"}, "tenant_not_found"),
        ({CONF_CLIENT_ID: OTHER_CLIENT_ID}, "app_not_found"),
        ({CONF_CLIENT_SECRET: "not-the-secret"}, "invalid_secret"),
        ({CONF_TARGET_USER: "nobody@contoso.example"}, "user_not_found"),
    ],
)
async def test_application_refused(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    changes: dict[str, str],
    error: str,
) -> None:
    result = await async_submit_application(hass, emulator, **changes)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "application"
    assert result["errors"] == {"base": error}
    # The secret is never sent back to the browser as a suggestion.
    for key in schema_of(result):
        if key == CONF_CLIENT_SECRET:
            assert not (key.description or {}).get("suggested_value")
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_application_without_presence_permission(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """The app may read users but was not granted Presence.ReadWrite.All."""
    emulator.default_app.app_roles = {"User.Read.All"}
    result = await async_submit_application(hass, emulator)
    assert result["errors"] == {"base": "missing_permission"}


async def test_application_fixed_after_an_error(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    result = await async_submit_application(
        hass, emulator, **{CONF_CLIENT_SECRET: "not-the-secret"}
    )
    assert result["errors"] == {"base": "invalid_secret"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _application_input()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("token_endpoint_down", [True, False])
async def test_application_sign_in_unreachable(
    hass: HomeAssistant, emulator: GraphEmulator, token_endpoint_down: bool
) -> None:
    """A 503 from the token endpoint, or nothing listening at all."""
    result = await async_start_flow(hass, emulator, "application")
    if token_endpoint_down:
        emulator.login_down = True
    else:
        await emulator.refuse_connections()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _application_input()
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_application_graph_unreachable(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    emulator.drop(2)  # aiohttp retries an idempotent request once
    result = await async_submit_application(hass, emulator)
    assert result["errors"] == {"base": "cannot_connect"}


# Reauth


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize(
    ("same_account", "reason"), [(True, "reauth_successful"), (False, "wrong_account")]
)
async def test_browser_reauth(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    other_user: User,
    sign_in_guards: SignInWatch,
    same_account: bool,
    reason: str,
) -> None:
    entry = await async_browser_entry(hass, emulator, hass_client_no_auth)
    old_token = entry.data["token"]
    setup_entry = sign_in_guards.setup_entry
    assert setup_entry is not None
    setup_entry.reset_mock()
    if not same_account:
        emulator.authorize_as = other_user

    result = await start_reauth_flow(hass, entry)
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {"name": "Adele Vance"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "browser"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations"}
    )
    result = await async_browser_sign_in(hass, hass_client_no_auth, result)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert (entry.data["token"] != old_token) is same_account
    assert setup_entry.called is same_account
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


@pytest.mark.parametrize(
    ("same_account", "reason"), [(True, "reauth_successful"), (False, "wrong_account")]
)
async def test_device_code_reauth(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    other_user: User,
    same_account: bool,
    reason: str,
) -> None:
    entry = await async_device_code_entry(hass, emulator)
    old_cache = entry.data[CONF_TOKEN_CACHE]
    emulator.auto_approve_device_codes = (
        emulator.default_user if same_account else other_user
    )

    result = await start_reauth_flow(hass, entry)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "device_code"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations", CONF_CLIENT_ID: CLIENT_ID}
    )
    result = await async_wait_for_device_code(hass, result)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert (entry.data[CONF_TOKEN_CACHE] != old_cache) is same_account


async def test_application_reauth_with_a_new_secret(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """The secret expired: the form comes prefilled, but without the secret."""
    entry = await async_application_entry(hass, emulator)
    emulator.default_app.secret = "rotated-secret"

    result = await start_reauth_flow(hass, entry)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "application"
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in schema_of(result)
    }
    assert suggested == {
        CONF_TENANT: emulator.default_tenant_id,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: None,
        CONF_TARGET_USER: emulator.default_user.id,
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        _application_input(
            **{
                CONF_CLIENT_SECRET: "rotated-secret",
                CONF_TARGET_USER: emulator.default_user.id,
            }
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_CLIENT_SECRET] == "rotated-secret"


# Reconfigure


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_browser_reconfigure_tenant(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    entry = await async_browser_entry(hass, emulator, hass_client_no_auth)
    result = await async_start_reconfigure(hass, entry)
    assert result["step_id"] == "browser"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: emulator.default_tenant_id}
    )
    assert URL(result["url"]).path.startswith(f"/{emulator.default_tenant_id}/")
    result = await async_browser_sign_in(hass, hass_client_no_auth, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_TENANT] == emulator.default_tenant_id


@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_device_code_reconfigure_client_id(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry = await async_device_code_entry(hass, emulator)
    emulator.add_app(client_id=OTHER_CLIENT_ID)
    result = await async_start_reconfigure(hass, entry)
    assert result["step_id"] == "device_code"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TENANT: emulator.default_tenant_id, CONF_CLIENT_ID: OTHER_CLIENT_ID},
    )
    result = await async_wait_for_device_code(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_CLIENT_ID] == OTHER_CLIENT_ID
    assert entry.data[CONF_TENANT] == emulator.default_tenant_id
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {CONF_CLIENT_ID: OTHER_CLIENT_ID, CONF_CLIENT_SECRET: "other-secret"},
            "reconfigure_successful",
        ),
        ({CONF_TARGET_USER: "meganb@contoso.example"}, "wrong_account"),
    ],
)
@pytest.mark.parametrize("entries_set_up_for_real", [True])
@pytest.mark.usefixtures("other_user")
async def test_application_reconfigure(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    changes: dict[str, str],
    reason: str,
) -> None:
    entry = await async_application_entry(hass, emulator)
    emulator.add_app(client_id=OTHER_CLIENT_ID, secret="other-secret")
    result = await async_start_reconfigure(hass, entry)
    assert result["step_id"] == "application"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _application_input(**changes)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    expected = changes if reason == "reconfigure_successful" else {}
    assert entry.data[CONF_CLIENT_ID] == expected.get(CONF_CLIENT_ID, CLIENT_ID)
    assert entry.data[CONF_TARGET_USER] == emulator.default_user.id
    # The reload done, unloaded before the emulator stops: no TLS connection is
    # left closing.
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


# Options


async def test_options(hass: HomeAssistant, emulator: GraphEmulator) -> None:
    entry = await async_application_entry(hass, emulator)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    # Without Instant updates, which Graph offers delegated sign-ins only.
    assert result["step_id"] == "application"
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in schema_of(result)
    }
    assert suggested == {
        CONF_READ_INTERVAL: 30,
        CONF_EXPIRATION: 60,
        CONF_CLEAR_ON_REMOVE: True,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_READ_INTERVAL: 120.0, CONF_EXPIRATION: 240, CONF_CLEAR_ON_REMOVE: False},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_READ_INTERVAL: 120,
        CONF_EXPIRATION: 240,
        CONF_CLEAR_ON_REMOVE: False,
    }


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        (
            {CONF_READ_INTERVAL: 5, CONF_EXPIRATION: 60, CONF_CLEAR_ON_REMOVE: True},
            {CONF_READ_INTERVAL: "read_interval_out_of_range"},
        ),
        (
            {CONF_READ_INTERVAL: 30, CONF_EXPIRATION: 241, CONF_CLEAR_ON_REMOVE: True},
            {CONF_EXPIRATION: "expiration_out_of_range"},
        ),
    ],
)
async def test_options_out_of_range(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    user_input: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """A number out of range gets a translated sentence in whole units, and is kept."""
    entry = await async_application_entry(hass, emulator)
    options = dict(entry.options)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert result["description_placeholders"] == {
        "read_interval_min": "10",
        "read_interval_max": "3600",
        "expiration_min": "5",
        "expiration_max": "240",
        "most": "649",
        "people": "0",
    }
    suggested = {
        str(key): (key.description or {}).get("suggested_value")
        for key in schema_of(result)
    }
    assert suggested == user_input
    assert dict(entry.options) == options


# Guarantees across methods


async def test_msal_never_runs_on_the_event_loop(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    sign_in_guards: SignInWatch,
    other_user: User,
) -> None:
    """Both msal methods, watched request by request: all of it in the executor."""
    await async_device_code_entry(hass, emulator)
    entry_of(
        hass,
        await async_submit_application(
            hass, emulator, **{CONF_TARGET_USER: other_user.upn}
        ),
    )
    endpoints = {URL(url).path.rsplit("/", 1)[-1] for url in sign_in_guards.off_loop}
    assert endpoints == {"openid-configuration", "devicecode", "token"}
    assert not sign_in_guards.on_loop


async def test_device_code_is_not_logged(
    hass: HomeAssistant, emulator: GraphEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Msal logs token requests at debug level; the device code stays masked."""
    await async_device_code_entry(hass, emulator)
    device_codes = [
        r.body["device_code"]
        for r in emulator.requests
        if isinstance(r.body, dict) and "device_code" in r.body
    ]
    events = [r.getMessage() for r in caplog.records if r.name == "msal.token_cache"]
    assert device_codes
    assert events
    assert not any(code in event for code in device_codes for event in events)


# Strings


def _strings() -> dict[str, Any]:
    return dict(json.loads(STRINGS.read_text(encoding="utf-8")))


def test_translations_match_strings() -> None:
    assert (
        json.loads(
            (STRINGS.parent / "translations" / "en.json").read_text(encoding="utf-8")
        )
        == _strings()
    )


def test_every_sign_in_error_is_translated() -> None:
    """Forms show them as errors; the browser method can only abort with them."""
    config = _strings()["config"]
    keys = {*AADSTS_ERRORS.values(), *_OAUTH_ERRORS.values(), "sign_in_refused"}
    assert keys <= config["error"].keys()
    assert keys <= config["abort"].keys()


def test_every_field_is_described() -> None:
    strings = _strings()
    steps = {**strings["config"]["step"], "options": strings["options"]["step"]["init"]}
    for name, step in steps.items():
        assert step.get("data", {}).keys() == step.get("data_description", {}).keys(), (
            name
        )
