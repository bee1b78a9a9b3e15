"""Breaks found at the edges of an account's life: its addresses and stored sign-in."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
import pytest

from custom_components.teams_presence_keeper.const import CONF_TOKEN_CACHE
from custom_components.teams_presence_keeper.graph import endpoint_url_problem
from graph_emulator import GraphEmulator
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import async_device_code_entry
from tests.test_auth import assert_setup_asks_to_sign_in_again

pytestmark = SIGN_IN_GUARDS


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
