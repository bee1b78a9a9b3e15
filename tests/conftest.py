"""Fixtures shared by every test: the Graph/Entra emulator and a configured account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
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
from syrupy.location import PyTestLocation

from custom_components.teams_presence.const import (
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
    DEFAULT_EXPIRATION,
    DEFAULT_READ_INTERVAL,
    DOMAIN,
)
from graph_emulator import GraphEmulator

# Every test fails if a token, secret or device code the emulator issued is logged.
from tests.secrets_guard import no_secrets_in_logs  # noqa: F401

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_SECRET = "s3cret-value"
TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600
"""Long enough that simulated days never need a refresh in tests that are not about it."""


class SnapshotExtension(HomeAssistantSnapshotExtension):  # type: ignore[misc]
    """Snapshots in ``tests/snapshots`` on every Home Assistant version we test.

    Home Assistant's extension moved them there from syrupy's ``__snapshots__`` after
    2025.4; one folder keeps a single copy of each snapshot.
    """

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        """Return the folder beside the test file."""
        return str(Path(test_location.filepath).parent / "snapshots")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshot assertion that stores in the same folder on every version."""
    return snapshot.use_extension(SnapshotExtension)


@pytest.fixture
async def emulator(socket_enabled: None) -> AsyncIterator[GraphEmulator]:
    """Start an emulator whose clock is the (possibly frozen) wall clock."""
    emulator = GraphEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def options() -> dict[str, Any]:
    """Options of the account; tests override this fixture to change them."""
    return {
        CONF_READ_INTERVAL: DEFAULT_READ_INTERVAL,
        CONF_EXPIRATION: DEFAULT_EXPIRATION,
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
