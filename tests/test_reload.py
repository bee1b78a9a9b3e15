"""What a config flow does to a running entry: each change reloads it exactly once.

The entries here really set up (no stand-in for the integration's setup), so Home
Assistant's own checks of how a reload is scheduled run, and the suite-wide
deprecation guard sees any report they make.
"""

from __future__ import annotations

from datetime import timedelta

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
)
from homeassistant.const import CONF_CLIENT_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import start_reauth_flow
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.teams_presence_keeper.const import (
    CONF_CLEAR_ON_REMOVE,
    CONF_EXPIRATION,
    CONF_READ_INTERVAL,
    CONF_TENANT,
)
from graph_emulator import GraphEmulator
from tests.common import APP_PRESENCE, select, state_of
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import (
    CLIENT_ID,
    async_browser_entry,
    async_browser_reconfigure_to_app,
    async_device_code_entry,
    async_setup_credentials,
    async_start_reconfigure,
    async_wait_for_device_code,
)

OTHER_CLIENT_ID = "22222222-2222-2222-2222-222222222222"

pytestmark = [
    SIGN_IN_GUARDS,
    pytest.mark.parametrize("entries_set_up_for_real", [True]),
]


async def async_loaded_entry(
    hass: HomeAssistant, emulator: GraphEmulator
) -> tuple[ConfigEntry, list[ConfigEntryState]]:
    """A device-code account, set up, and the states it goes through from now on."""
    entry = await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    states: list[ConfigEntryState] = []
    entry.async_on_state_change(lambda: states.append(entry.state))
    return entry, states


def loads(states: list[ConfigEntryState]) -> int:
    return states.count(ConfigEntryState.LOADED)


async def test_options_reload_once_and_apply(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry, states = await async_loaded_entry(hass, emulator)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_READ_INTERVAL: 120, CONF_EXPIRATION: 60, CONF_CLEAR_ON_REMOVE: True},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loads(states) == 1
    assert entry.runtime_data.coordinator.update_interval == timedelta(seconds=120)


async def test_unchanged_options_do_not_reload(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry, states = await async_loaded_entry(hass, emulator)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], dict(entry.options)
    )
    await hass.async_block_till_done()
    assert states == []


async def test_token_refresh_does_not_reload(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """A refreshed token cache updates the entry's data: the account keeps running."""
    entry, states = await async_loaded_entry(hass, emulator)
    hass.config_entries.async_update_entry(entry, data={**entry.data, "refreshed": 1})
    await hass.async_block_till_done()
    assert states == []


async def test_reauth_reloads_once(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry, states = await async_loaded_entry(hass, emulator)
    result = await start_reauth_flow(hass, entry)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: "organizations", CONF_CLIENT_ID: CLIENT_ID}
    )
    result = await async_wait_for_device_code(hass, result)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loads(states) == 1
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_reloads_once(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry, states = await async_loaded_entry(hass, emulator)
    result = await async_start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TENANT: emulator.default_tenant_id, CONF_CLIENT_ID: CLIENT_ID},
    )
    result = await async_wait_for_device_code(hass, result)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_TENANT] == emulator.default_tenant_id
    assert loads(states) == 1
    assert entry.state is ConfigEntryState.LOADED


@pytest.mark.parametrize("graph_refuses_writes", [False, True])
async def test_reconfigure_to_another_app_ends_the_old_session(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
    graph_refuses_writes: bool,
) -> None:
    """The old session's id is the old app's: left alone, Teams keeps it for hours."""
    entry, _ = await async_loaded_entry(hass, emulator)
    await select(hass, "busy_in_a_call")
    assert emulator.app_session(CLIENT_ID) is not None
    emulator.add_app(client_id=OTHER_CLIENT_ID)
    if graph_refuses_writes:
        emulator.start_write_outage()

    result = await async_start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TENANT: emulator.default_tenant_id, CONF_CLIENT_ID: OTHER_CLIENT_ID},
    )
    result = await async_wait_for_device_code(hass, result)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["reason"] == "reconfigure_successful"
    if graph_refuses_writes:
        # Logged, not in the way: Graph ends the old session at its expiry.
        assert "Could not end the Teams app presence" in caplog.text
        assert emulator.app_session(CLIENT_ID) is not None
        return
    assert emulator.app_session(CLIENT_ID) is None
    new_session = emulator.app_session(OTHER_CLIENT_ID)
    assert new_session is not None
    assert emulator.presence() == ("Busy", "InACall")
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"


@pytest.mark.usefixtures("current_request_with_host")
async def test_browser_reconfigure_to_another_app_ends_the_old_session(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A browser entry's app is its application credential, not a client id of its own."""
    await async_setup_credentials(hass)
    entry = await async_browser_entry(hass, emulator, hass_client_no_auth)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await select(hass, "busy_in_a_call")
    assert emulator.app_session(CLIENT_ID) is not None
    emulator.add_app(client_id=OTHER_CLIENT_ID, secret="other-secret")

    result = await async_browser_reconfigure_to_app(
        hass, hass_client_no_auth, entry, OTHER_CLIENT_ID, "other-secret"
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["reason"] == "reconfigure_successful"
    assert entry.data["auth_implementation"] == OTHER_CLIENT_ID
    assert emulator.app_session(CLIENT_ID) is None
    assert emulator.app_session(OTHER_CLIENT_ID) is not None
    assert emulator.presence() == ("Busy", "InACall")
