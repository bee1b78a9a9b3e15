"""Repair issues: raised for what only the user can fix, gone by themselves once fixed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import (
    async_device_code_entry,
)

from .common import (
    APP_PRESENCE,
    CLIENT_ID,
    PRESENCE,
    advance,
    reauth_flows,
    select,
    set_calls,
    state_of,
)


def issue(hass: HomeAssistant, kind: str, entry_id: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{kind}_{entry_id}")


@pytest.fixture
async def restore_permission(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> Callable[[], None]:
    """The account holds Available, loses Presence.ReadWrite, and a write is refused.

    Call the returned function to grant the permission again.
    """
    await select(hass, "available")
    original = setup_integration.data["token"]
    read_only = emulator.issue_token(scopes=("Presence.Read", "User.Read"))

    def use(access_token: str) -> None:
        hass.config_entries.async_update_entry(
            setup_integration,
            data={
                **setup_integration.data,
                "token": {**original, "access_token": access_token},
            },
        )

    use(read_only)
    with pytest.raises(HomeAssistantError):
        await select(hass, "away")
    return lambda: use(original["access_token"])


async def test_missing_permission_raises_a_repair_that_clears_itself(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    restore_permission: Callable[[], None],
) -> None:
    raised = issue(hass, "missing_permission", setup_integration.entry_id)
    assert raised is not None
    assert raised.translation_key == "missing_permission"
    assert raised.translation_placeholders == {"account": "Adele Vance"}
    assert raised.severity is ir.IssueSeverity.ERROR
    assert not raised.is_fixable

    restore_permission()
    await select(hass, "away")
    assert issue(hass, "missing_permission", setup_integration.entry_id) is None
    assert emulator.presence() == ("Away", "Away")


async def test_missing_permission_repair_clears_after_a_reload(
    hass: HomeAssistant,
    setup_integration: MockConfigEntry,
    restore_permission: Callable[[], None],
) -> None:
    """The coordinator that finds it fixed need not be the one that raised it."""
    assert issue(hass, "missing_permission", setup_integration.entry_id)

    restore_permission()
    assert await hass.config_entries.async_reload(setup_integration.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue(hass, "missing_permission", setup_integration.entry_id) is None


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_public_client_flows_turned_off_raise_a_repair_not_reauth(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    """Signing in again by code would fail too: the app registration must change.

    The account keeps trying, keeps the wish, and recovers by itself once public
    client flows are back on.
    """
    # msal refreshes tokens with under 5 minutes left: every request asks Entra ID.
    emulator.token_lifetime = timedelta(seconds=120)
    entry = await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    await select(hass, "busy_in_a_call")
    assert emulator.presence() == ("Busy", "InACall")

    emulator.default_app.public_client_flows = False
    broken = dt_util.utcnow()
    await advance(hass, freezer, timedelta(minutes=1))

    raised = issue(hass, "app_registration", entry.entry_id)
    assert raised is not None
    assert raised.translation_key == "public_client_disabled"
    assert raised.translation_placeholders == {
        "account": "Adele Vance",
        "client_id": CLIENT_ID,
    }
    assert raised.learn_more_url
    refused = [
        r
        for r in emulator.requests
        if r.server == "login" and r.time >= broken and r.status == 400
    ]
    assert refused
    assert reauth_flows(hass) == []
    assert entry.state is ConfigEntryState.LOADED
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE

    # A wish made meanwhile is kept, not refused, and sent once sign-in works.
    await select(hass, "do_not_disturb_presenting")
    assert state_of(hass, APP_PRESENCE) == "do_not_disturb_presenting"
    assert emulator.presence() == ("Busy", "InACall")

    emulator.default_app.public_client_flows = True
    fixed = dt_util.utcnow()
    await advance(hass, freezer, timedelta(minutes=2))

    assert issue(hass, "app_registration", entry.entry_id) is None
    assert emulator.presence() == ("DoNotDisturb", "Presenting")
    assert [c.body["availability"] for c in set_calls(emulator) if c.time >= fixed] == [
        "DoNotDisturb"
    ]
    assert state_of(hass, PRESENCE) == "do_not_disturb"
    assert state_of(hass, APP_PRESENCE) == "do_not_disturb_presenting"
    assert reauth_flows(hass) == []


async def test_missing_permission_repair_stays_up_and_logs_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    setup_integration: MockConfigEntry,
    restore_permission: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Reads still work without the write permission: they must not clear the repair."""
    entry_id = setup_integration.entry_id
    caplog.clear()

    def repair_is_up() -> None:
        assert issue(hass, "missing_permission", entry_id) is not None

    # 40 minutes: 80 reads and 8 refused keep-alives, within the token's lifetime.
    await advance(
        hass,
        freezer,
        timedelta(minutes=40),
        step=timedelta(seconds=30),
        check=repair_is_up,
    )
    refusals = [
        record
        for record in caplog.records
        if record.getMessage().startswith("Could not keep the Teams presence")
    ]
    assert len(refusals) == 1

    restore_permission()
    await advance(hass, freezer, timedelta(minutes=6), step=timedelta(seconds=30))
    assert issue(hass, "missing_permission", entry_id) is None


async def test_removing_the_entry_removes_its_repairs(
    hass: HomeAssistant,
    setup_integration: MockConfigEntry,
    restore_permission: Callable[[], None],
) -> None:
    assert issue(hass, "missing_permission", setup_integration.entry_id)
    assert await hass.config_entries.async_remove(setup_integration.entry_id)
    await hass.async_block_till_done()
    assert issue(hass, "missing_permission", setup_integration.entry_id) is None
