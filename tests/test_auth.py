"""Token providers: each sign-in method's tokens, refreshes and failures."""

from __future__ import annotations

from datetime import timedelta
import json
import logging
from typing import Any
from unittest.mock import MagicMock

from aiohttp import ClientResponseError, RequestInfo
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import config_entry_oauth2_flow
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.teams_presence_keeper.auth import tokens
from custom_components.teams_presence_keeper.auth.entry import (
    delegated_scopes,
    endpoints_from_data,
)
from custom_components.teams_presence_keeper.auth.errors import (
    AppRegistrationError,
    SignInRequiredError,
    SignInUnavailableError,
    sign_in_error,
)
from custom_components.teams_presence_keeper.auth.tokens import (
    async_get_account_access,
)
from custom_components.teams_presence_keeper.const import (
    AUTH_METHOD_APPLICATION,
    AUTH_METHOD_BROWSER,
    AUTH_METHOD_DEVICE_CODE,
    CONF_AUTH_METHOD,
    CONF_CLOUD,
    CONF_INSTANT_UPDATES,
    CONF_TOKEN_CACHE,
    DOMAIN,
)
from custom_components.teams_presence_keeper.graph import CLOUD_ENDPOINTS, Cloud
from graph_emulator import GraphEmulator
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import (
    CLIENT_ID,
    async_application_entry,
    async_browser_entry,
    async_device_code_entry,
    async_setup_credentials,
)

pytestmark = SIGN_IN_GUARDS


@pytest.fixture
def short_lived_tokens(emulator: GraphEmulator) -> None:
    """Tokens that msal refreshes at once (it refreshes below 5 minutes left)."""
    emulator.token_lifetime = timedelta(seconds=120)


def token_requests(emulator: GraphEmulator, grant_type: str) -> list[int]:
    """Statuses of the token requests of one grant type."""
    return [
        r.status
        for r in emulator.requests
        if isinstance(r.body, dict) and r.body.get("grant_type") == grant_type
    ]


def holder(emulator: GraphEmulator, token: str) -> str | None:
    """Who the emulator issued an access token for (the app for app-only tokens)."""
    issued = emulator.directory.access_token(token)
    assert issued is not None
    return issued.user.id if issued.user else issued.app.client_id


def refresh_tokens_of(cache: str) -> list[str]:
    """The refresh tokens in a serialized msal cache."""
    return [rt["secret"] for rt in json.loads(cache)["RefreshToken"].values()]


def refresh_tokens(entry: ConfigEntry) -> list[str]:
    """The refresh tokens in an entry's msal cache."""
    return refresh_tokens_of(entry.data[CONF_TOKEN_CACHE])


@pytest.fixture(
    params=[AUTH_METHOD_BROWSER, AUTH_METHOD_DEVICE_CODE, AUTH_METHOD_APPLICATION]
)
async def stale_entry(
    request: pytest.FixtureRequest,
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    current_request_with_host: None,
) -> ConfigEntry:
    """An account of each method whose next token has to come from Entra ID.

    Browser: its access token is past due. Device code: its access token has two
    minutes left, which msal refreshes. Application: msal starts with no app token.
    """
    if request.param == AUTH_METHOD_APPLICATION:
        return await async_application_entry(hass, emulator)
    if request.param == AUTH_METHOD_DEVICE_CODE:
        emulator.token_lifetime = timedelta(seconds=120)
        entry = await async_device_code_entry(hass, emulator)
        emulator.token_lifetime = timedelta(hours=1)
        return entry
    await async_setup_credentials(hass)
    entry = await async_browser_entry(hass, emulator, hass_client_no_auth)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "token": {**entry.data["token"], "expires_at": 0}}
    )
    return entry


async def test_token_from_entra_id(
    hass: HomeAssistant, emulator: GraphEmulator, stale_entry: ConfigEntry
) -> None:
    access = await async_get_account_access(hass, stale_entry)
    assert access.client_id == CLIENT_ID
    assert access.endpoints.graph_url == emulator.graph_url
    requests_before = len(emulator.requests)

    token = await access.get_access_token()

    user = emulator.default_user
    app_only = stale_entry.data[CONF_AUTH_METHOD] == AUTH_METHOD_APPLICATION
    assert access.user == (user.id if app_only else "me")
    assert holder(emulator, token) == (CLIENT_ID if app_only else user.id)
    # msal reads the tenant's OpenID configuration first; the browser need not.
    [asked] = [r for r in emulator.requests[requests_before:] if r.method == "POST"]
    assert asked.path == f"/{emulator.default_tenant_id}/oauth2/v2.0/token"
    assert asked.status == 200
    # Valid now: the next call asks nobody.
    requests_after = len(emulator.requests)
    assert await access.get_access_token() == token
    assert len(emulator.requests) == requests_after


async def test_withdrawn_sign_in_needs_a_new_one(
    hass: HomeAssistant, emulator: GraphEmulator, stale_entry: ConfigEntry
) -> None:
    """Refresh tokens revoked by an administrator; for an app, its secret."""
    emulator.revoke_refresh_tokens()
    emulator.default_app.secret = "rotated-secret"
    access = await async_get_account_access(hass, stale_entry)
    with pytest.raises(SignInRequiredError):
        await access.get_access_token()


async def test_sign_in_service_down_is_transient(
    hass: HomeAssistant, emulator: GraphEmulator, stale_entry: ConfigEntry
) -> None:
    emulator.login_down = True
    access = await async_get_account_access(hass, stale_entry)
    with pytest.raises(SignInUnavailableError):
        await access.get_access_token()


async def test_sign_in_service_unreachable_is_transient(
    hass: HomeAssistant, emulator: GraphEmulator, stale_entry: ConfigEntry
) -> None:
    await emulator.refuse_connections()
    access = await async_get_account_access(hass, stale_entry)
    with pytest.raises(SignInUnavailableError):
        await access.get_access_token()


@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_an_action_in_a_sign_in_outage_says_the_sign_in_service_is_down(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    """The caller reads the sign-in's own words, not only that Graph is unreachable."""
    emulator.login_down = True
    token = {**setup_integration.data["token"], "expires_at": 0}
    hass.config_entries.async_update_entry(
        setup_integration, data={**setup_integration.data, "token": token}
    )

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_status_message",
            {"config_entry_id": setup_integration.entry_id, "message": "Focus"},
            blocking=True,
        )

    assert err.value.translation_key == "sign_in_unavailable"
    assert str(err.value) == (
        "The Microsoft sign-in service could not be reached. It will be tried again"
    )
    assert emulator.graph_calls("setStatusMessage") == []


# Code on another device


@pytest.mark.usefixtures("short_lived_tokens")
async def test_device_code_keeps_the_rotated_refresh_token(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry = await async_device_code_entry(hass, emulator)
    signed_in = refresh_tokens(entry)
    access = await async_get_account_access(hass, entry)

    await access.get_access_token()

    assert token_requests(emulator, "refresh_token") == [200]
    # Kept in the entry, so the next start refreshes with the new one.
    assert refresh_tokens(entry) != signed_in


@pytest.mark.usefixtures("short_lived_tokens")
async def test_device_code_without_public_client_flows_needs_the_app_fixed(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """Not a new sign-in: that would be refused the same way."""
    entry = await async_device_code_entry(hass, emulator)
    emulator.default_app.public_client_flows = False
    access = await async_get_account_access(hass, entry)
    with pytest.raises(AppRegistrationError) as err:
        await access.get_access_token()
    assert err.value.problem == "public_client_disabled"
    assert isinstance(err.value, SignInUnavailableError)
    assert "public client flows" in str(
        HomeAssistantError(
            translation_domain=DOMAIN, translation_key=err.value.translation_key
        )
    )
    assert token_requests(emulator, "refresh_token") == [400]


async def test_device_code_empty_cache_needs_sign_in(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry = await async_device_code_entry(hass, emulator)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_TOKEN_CACHE: "{}"}
    )
    access = await async_get_account_access(hass, entry)
    with pytest.raises(SignInRequiredError):
        await access.get_access_token()


async def assert_setup_asks_to_sign_in_again(
    hass: HomeAssistant, entry: ConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Setting the entry up fails into reauthentication, with no error logged."""
    caplog.clear()
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert flow["step_id"] == "reauth_confirm"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("entries_set_up_for_real", [True])
@pytest.mark.parametrize("instant_updates", [False, True])
@pytest.mark.parametrize(
    "cache",
    [
        "not json{",
        "null",
        "[]",
        '{"RefreshToken": []}',
        '{"Account": {"key": "not an account"}}',
    ],
)
async def test_device_code_corrupt_cache_asks_to_sign_in_again(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
    cache: str,
    instant_updates: bool,
) -> None:
    """An entry's msal cache that msal cannot read: sign in again, no traceback."""
    entry = await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, CONF_TOKEN_CACHE: cache},
        options={**entry.options, CONF_INSTANT_UPDATES: instant_updates},
    )
    await assert_setup_asks_to_sign_in_again(hass, entry, caplog)


# Browser sign-in


@pytest.mark.parametrize("entries_set_up_for_real", [True])
@pytest.mark.parametrize(
    "token",
    [
        None,
        "not a token",
        {},
        {"access_token": "x", "refresh_token": "y"},
        {"access_token": "x", "refresh_token": "y", "expires_at": "soon"},
    ],
)
async def test_browser_corrupt_token_asks_to_sign_in_again(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    token: object,
) -> None:
    """A stored OAuth token Home Assistant cannot read: sign in again, no traceback."""
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": token}
    )
    await assert_setup_asks_to_sign_in_again(hass, config_entry, caplog)


@pytest.fixture
async def browser_entry(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
    current_request_with_host: None,
) -> ConfigEntry:
    """An account signed in through the browser."""
    await async_setup_credentials(hass)
    return await async_browser_entry(hass, emulator, hass_client_no_auth)


async def test_browser_credential_removed_needs_sign_in(
    hass: HomeAssistant, browser_entry: ConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        browser_entry, data={**browser_entry.data, "auth_implementation": "gone"}
    )
    with pytest.raises(ConfigEntryAuthFailed):
        await async_get_account_access(hass, browser_entry)


async def test_browser_implementation_unavailable_retries(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """A provider that is down (say, Home Assistant Cloud) is worth a retry."""
    unavailable = config_entry_oauth2_flow.ImplementationUnavailableError

    async def provider(hass: HomeAssistant, domain: str) -> list[Any]:
        raise unavailable("down")

    config_entry_oauth2_flow.async_add_implementation_provider(hass, "cloud", provider)
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={
            CONF_AUTH_METHOD: "browser",
            "auth_implementation": "cloud",
            "tenant_id": emulator.default_tenant_id,
        },
    )
    entry.add_to_hass(hass)
    with pytest.raises(ConfigEntryNotReady):
        await async_get_account_access(hass, entry)


def _token_error(status: int, error_class: type[ClientResponseError]) -> Any:
    return error_class(
        RequestInfo(URL("https://login.example/token"), "POST", MagicMock()),
        (),
        status=status,
    )


class _ReauthError(ClientResponseError):
    """Stands in for 2026.3+'s OAuth2TokenRequestReauthError."""


class _TransientError(ClientResponseError):
    """Stands in for 2026.3+'s OAuth2TokenRequestTransientError."""


@pytest.mark.parametrize(
    ("status", "error_class", "needs_sign_in"),
    [
        (400, ClientResponseError, True),
        (401, ClientResponseError, True),
        (429, ClientResponseError, False),
        (503, ClientResponseError, False),
        (400, _TransientError, False),
        (500, _ReauthError, True),
    ],
)
def test_refresh_failure_kinds(
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    error_class: type[ClientResponseError],
    needs_sign_in: bool,
) -> None:
    """2026.3+ says which kind a failed refresh is; older releases go by status."""
    monkeypatch.setattr(tokens, "_TOKEN_REAUTH_ERRORS", (_ReauthError,))
    monkeypatch.setattr(tokens, "_TOKEN_TRANSIENT_ERRORS", (_TransientError,))
    assert (
        tokens._refresh_needs_sign_in(_token_error(status, error_class))
        is needs_sign_in
    )


# The contract


async def test_unknown_method_needs_sign_in(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_AUTH_METHOD: "carrier_pigeon"})
    entry.add_to_hass(hass)
    with pytest.raises(ConfigEntryAuthFailed):
        await async_get_account_access(hass, entry)


def test_endpoints_follow_the_cloud() -> None:
    assert endpoints_from_data({CONF_CLOUD: "china"}) == CLOUD_ENDPOINTS[Cloud.CHINA]
    assert endpoints_from_data({}) == CLOUD_ENDPOINTS[Cloud.GLOBAL]


@pytest.mark.parametrize(
    ("cloud", "scopes"),
    [
        (Cloud.GLOBAL, ["Presence.ReadWrite", "User.Read"]),
        (
            Cloud.US_GOVERNMENT_DOD,
            [
                "https://dod-graph.microsoft.us/Presence.ReadWrite",
                "https://dod-graph.microsoft.us/User.Read",
            ],
        ),
    ],
)
def test_national_clouds_name_their_graph(cloud: Cloud, scopes: list[str]) -> None:
    assert delegated_scopes(CLOUD_ENDPOINTS[cloud]) == scopes


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"error": "invalid_client", "error_codes": [7000215]}, "invalid_secret"),
        (
            {"error": "invalid_client", "error_codes": [7000218]},
            "public_client_disabled",
        ),
        ({"error": "unauthorized_client", "error_codes": [700016]}, "app_not_found"),
        ({"error": "invalid_request", "error_codes": [90002]}, "tenant_not_found"),
        ({"error": "invalid_grant", "error_codes": [65001]}, "consent_required"),
        ({"error": "invalid_grant", "error_codes": [50020]}, "personal_account"),
        (
            {"error": "invalid_grant", "error_description": "AADSTS500200: personal"},
            "personal_account",
        ),
        ({"error": "expired_token"}, "device_code_expired"),
        # msal stops polling at the code's expiry with the last answer it had.
        ({"error": "authorization_pending"}, "device_code_expired"),
        ({"error": "access_denied"}, "authorization_declined"),
        ({"error": "server_error", "error_codes": [1]}, "sign_in_refused"),
        ({}, "sign_in_refused"),
    ],
)
def test_sign_in_errors(answer: dict[str, Any], error: str) -> None:
    assert sign_in_error(answer) == error
