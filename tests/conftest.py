"""Fixtures shared by every test: the Graph/Entra emulator and a configured account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import time
from typing import Any

from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.teams_presence_keeper.const import (
    AUTH_METHOD_BROWSER,
    CONF_AUTH_METHOD,
    CONF_CLEAR_ON_REMOVE,
    CONF_CLOUD,
    CONF_EXPIRATION,
    CONF_GRAPH_URL,
    CONF_LOGIN_URL,
    CONF_READ_INTERVAL,
    CONF_TENANT,
    CONF_TENANT_ID,
    CONF_USER_ID,
    DEFAULT_CLEAR_ON_REMOVE,
    DEFAULT_EXPIRATION_MINUTES,
    DEFAULT_READ_INTERVAL,
    DOMAIN,
)
from graph_emulator import GraphEmulator
from tests.common import CLIENT_ID, CLIENT_SECRET

# Every test fails if Home Assistant reports the integration's use of a deprecated API.
from tests.deprecation_guard import no_deprecation_reports  # noqa: F401

# Every test fails if a token, secret or device code the emulator issued is logged.
from tests.secrets_guard import no_secrets_in_logs  # noqa: F401

# Sign-in tests (marked SIGN_IN_GUARDS) also fail if msal runs on the event loop.
from tests.sign_in_guard import sign_in_guards  # noqa: F401

TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600
"""Long enough that simulated days never need a refresh in tests that are not about it."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's snapshots (in ``tests/snapshots``), whichever plugin wins.

    syrupy's own fixture would use ``__snapshots__`` and its own serializer.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
async def emulator(socket_enabled: None) -> AsyncIterator[GraphEmulator]:
    """Start an emulator whose clock is the (possibly frozen) wall clock."""
    emulator = GraphEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def entries_set_up_for_real() -> bool:
    """Whether entries a config flow creates really set up, or are only saved.

    Flow tests look at the flow; tests of what a flow does to a running entry
    (reloads, repairs) parametrize this to ``True``.
    """
    return False


@pytest.fixture
def options() -> dict[str, Any]:
    """Options of the account; tests override this fixture to change them."""
    return {
        CONF_READ_INTERVAL: DEFAULT_READ_INTERVAL,
        CONF_EXPIRATION: DEFAULT_EXPIRATION_MINUTES,
        CONF_CLEAR_ON_REMOVE: DEFAULT_CLEAR_ON_REMOVE,
    }


@pytest.fixture
async def config_entry(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    enable_custom_integrations: None,
    options: dict[str, Any],
) -> MockConfigEntry:
    """An account signed in through the browser method, pointed at the emulator."""
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(CLIENT_ID, CLIENT_SECRET), DOMAIN
    )
    user = emulator.default_user
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=user.display_name,
        unique_id=f"{emulator.default_tenant_id}_{user.id}",
        data={
            CONF_AUTH_METHOD: AUTH_METHOD_BROWSER,
            "auth_implementation": DOMAIN,
            CONF_CLOUD: "global",
            CONF_GRAPH_URL: emulator.graph_url,
            CONF_LOGIN_URL: emulator.graph_url,
            CONF_TENANT: emulator.default_tenant_id,
            CONF_TENANT_ID: emulator.default_tenant_id,
            CONF_USER_ID: user.id,
            "token": {
                "access_token": emulator.issue_token(
                    lifetime=timedelta(seconds=TOKEN_LIFETIME_SECONDS)
                ),
                "refresh_token": "unused-refresh-token",
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "expires_at": time.time() + TOKEN_LIFETIME_SECONDS,
            },
        },
        options=options,
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def setup_integration(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> MockConfigEntry:
    """The account, set up and loaded."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry
