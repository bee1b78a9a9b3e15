"""Diagnostics show the keeper's state and never a credential nor who the account is."""

from __future__ import annotations

from datetime import timedelta
import json

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.teams_presence_keeper.const import (
    AUTH_METHOD_APPLICATION,
    AUTH_METHOD_DEVICE_CODE,
    DOMAIN,
)
from custom_components.teams_presence_keeper.diagnostics import (
    async_get_config_entry_diagnostics,
)
from graph_emulator import GraphEmulator

from .common import CLIENT_ID, advance
from .secrets_guard import leaked
from .sign_in_guard import SIGN_IN_GUARDS
from .sign_in_helpers import async_application_entry, async_device_code_entry


def identities(emulator: GraphEmulator) -> set[str]:
    """What says who the account is: tenant, app, user, and where Graph was reached."""
    user = emulator.default_user
    return {
        emulator.default_tenant_id,
        CLIENT_ID,
        user.id,
        user.upn,
        user.display_name,
        "127.0.0.1",  # the emulator's custom endpoints
    }


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.services.async_call(
        DOMAIN,
        "set_presence",
        {"config_entry_id": config_entry.entry_id, "presence": "busy_in_a_call"},
        blocking=True,
    )
    emulator.fail(1, status=503)
    await advance(hass, freezer, timedelta(seconds=30))

    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)

    assert not leaked(emulator, json.dumps(diagnostics))
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    # The time of the run differs from run to run.
    assert diagnostics == snapshot(
        exclude=props(
            "sent_at", "expires_at", "next_sync", "last_write", "recent_errors"
        )
    )


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
@pytest.mark.parametrize("method", [AUTH_METHOD_DEVICE_CODE, AUTH_METHOD_APPLICATION])
async def test_no_identity_even_in_error_texts(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    method: str,
) -> None:
    """Each method keeps other ids; errors quote the host Graph could not be reached at."""
    entry: ConfigEntry
    if method == AUTH_METHOD_DEVICE_CODE:
        entry = await async_device_code_entry(hass, emulator)
    else:
        entry = await async_application_entry(hass, emulator)
    await hass.async_block_till_done()
    await emulator.refuse_connections()
    await advance(hass, freezer, timedelta(seconds=30))
    await emulator.accept_connections()

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)

    text = json.dumps(diagnostics)
    assert "Cannot connect to host **REDACTED**:" in text
    assert not {value for value in identities(emulator) if value in text}
    assert not leaked(emulator, text)
