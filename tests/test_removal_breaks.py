"""Breaks found at the edges of an account's life: its addresses and stored sign-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from http import HTTPStatus
import json

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_CLIENT_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    start_reauth_flow,
)
from yarl import URL

from custom_components.teams_presence_keeper.auth import msal_clients
from custom_components.teams_presence_keeper.const import (
    CONF_CLEAR_ON_REMOVE,
    CONF_LOGIN_URL,
    CONF_TENANT,
    CONF_TOKEN_CACHE,
    DOMAIN,
)
from custom_components.teams_presence_keeper.graph import endpoint_url_problem
from graph_emulator import GraphEmulator
from graph_emulator.faults import Fault
from tests.common import select, step_until
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import (
    CLIENT_ID,
    async_device_code_entry,
    async_wait_for_device_code,
)
from tests.test_auth import assert_setup_asks_to_sign_in_again
from tests.test_init import remove_during_a_select
from tests.test_reload import OTHER_CLIENT_ID, async_loaded_entry


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        # Hosts whose international form does not decode: yarl raises as the host
        # is read, after the address was parsed.
        ("https://xn--/", "invalid_url"),
        ("http://xn--localhost-.com", "invalid_url"),
        # Characters no host name has: the request could never be sent.
        ("https://graph contoso.example", "invalid_url"),
        ("https://graph%41contoso.example", "invalid_url"),
        ("https://graph.contoso.example:0", "invalid_url"),
        ("https://graph.contoso.example:+443", "invalid_url"),
        ("https://exämple.com", None),
        ("http://[::1]:8080/graph", None),
        ("https://[v1.graph.contoso.example]/", "invalid_url"),
    ],
)
def test_an_odd_endpoint_address_is_refused_not_raised(
    url: str, problem: str | None
) -> None:
    assert endpoint_url_problem(url) == problem


ACCOUNT = {
    "home_account_id": "uid.utid",
    "environment": "login.microsoftonline.com",
    "realm": "organizations",
    "local_account_id": "uid",
    "username": "user@contoso.example",
    "authority_type": "MSSTS",
}


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
@pytest.mark.parametrize(
    "cache",
    [
        {"Account": {"key": {}}},
        {"Account": {"key": {**ACCOUNT, "environment": 5}}},
        {"Account": {"key": {**ACCOUNT, "environment": None}}},
        {"Account": {"key": ACCOUNT}, "RefreshToken": {"key": {}}},
        {
            "Account": {"key": ACCOUNT},
            "AccessToken": {
                "key": {
                    "home_account_id": "uid.utid",
                    "environment": "login.microsoftonline.com",
                    "realm": "organizations",
                    "client_id": "client",
                    "target": "Presence.ReadWrite",
                    "credential_type": "AccessToken",
                    "secret": "x",
                    "expires_on": "soon",
                }
            },
        },
    ],
    ids=["empty account", "int env", "null env", "empty rt", "bad expiry"],
)
async def test_a_damaged_msal_cache_of_readable_shape_asks_to_sign_in_again(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
    cache: dict[str, object],
) -> None:
    """Items by kind, as msal writes them, but not what msal reads: no traceback."""
    entry = await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_TOKEN_CACHE: json.dumps(cache)}
    )
    await assert_setup_asks_to_sign_in_again(hass, entry, caplog)


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_reauth_to_another_app_ends_the_old_session(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    """A reauth (say, the Instant updates consent) may name another app, as reconfigure."""
    entry, _ = await async_loaded_entry(hass, emulator)
    await select(hass, "busy_in_a_call")
    assert emulator.app_session(CLIENT_ID) is not None
    emulator.add_app(client_id=OTHER_CLIENT_ID)

    result = await start_reauth_flow(hass, entry)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TENANT: emulator.default_tenant_id, CONF_CLIENT_ID: OTHER_CLIENT_ID},
    )
    result = await async_wait_for_device_code(hass, result)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_CLIENT_ID] == OTHER_CLIENT_ID
    assert emulator.app_session(CLIENT_ID) is None
    assert emulator.app_session(OTHER_CLIENT_ID) is not None
    assert emulator.presence() == ("Busy", "InACall")


async def test_a_write_refused_after_removal_raises_no_repair_for_the_account_gone(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    """A 403 that lands after removal deleted the repairs must not raise one again."""
    # Slow, then refused (an emulator fault of both kinds), as Graph may answer.
    emulator._faults.append(Fault(HTTPStatus.FORBIDDEN, "Forbidden", delay=15))
    selecting, _ = await remove_during_a_select(
        hass, freezer, emulator, setup_integration, 0
    )
    await step_until(hass, freezer, selecting.done)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert isinstance(selecting.exception(), HomeAssistantError)  # the caller is told
    assert [call.status for call in emulator.graph_calls("setPresence")] == [403]
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    assert [
        issue for (domain, issue) in ir.async_get(hass).issues if domain == DOMAIN
    ] == []


@pytest.fixture
async def black_hole(emulator: GraphEmulator) -> AsyncIterator[str]:
    """A sign-in address (TLS the emulator's) that takes requests, never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    host = URL(emulator.login_url).host
    certificates = emulator._certificates  # the listeners' own, the CA msal trusts
    assert certificates is not None
    server = await asyncio.start_server(
        hold, host, 0, ssl=certificates.server_context()
    )
    port = server.sockets[0].getsockname()[1]
    yield f"https://{host}:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_removal_never_waits_forever_on_a_silent_sign_in_service(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    black_hole: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Entra ID takes the connection and never answers: removal ends all the same."""
    monkeypatch.setattr(msal_clients, "SIGN_IN_TIMEOUT", 1)
    emulator.token_lifetime = timedelta(seconds=120)  # msal refreshes it at once
    entry = await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, CONF_LOGIN_URL: black_hole},
        options={**entry.options, CONF_CLEAR_ON_REMOVE: True},
    )

    async with asyncio.timeout(10):
        await hass.config_entries.async_remove(entry.entry_id)
