"""The account a sign-in reaches, read from Graph as its entry will read it.

The config flow saves nothing it has not read this way: the user, their presence
and their tenant. A failure becomes the form's translated error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util

from .auth.entry import endpoints_from_data
from .auth.errors import SignInRefused
from .const import CONF_TARGET_USER, LOGGER
from .graph import ME, GraphPresenceClient
from .policy import FAILURES, FailurePolicy
from .remedies import Operation


@dataclass(frozen=True, slots=True)
class SignedInAccount:
    """Who the entry will act for."""

    user_id: str
    tenant_id: str | None
    """Read only for the signed-in user; an app-permission sign-in names it itself."""
    name: str


async def async_read_account(
    hass: HomeAssistant, data: Mapping[str, Any], access_token: str
) -> SignedInAccount:
    """Read the user and their presence with ``access_token``.

    Raises ``SignInRefused`` with the form's error key when Graph refuses.
    """

    async def get_access_token() -> str:
        return access_token

    target = data.get(CONF_TARGET_USER, ME)
    client = GraphPresenceClient(
        async_get_clientsession(hass),
        get_access_token,
        base_url=endpoints_from_data(data).graph_url,
        user=target,
    )
    try:
        user = await client.get_user()
        await client.get_presence()
        tenant_id = await client.get_tenant_id() if target == ME else None
    except FAILURES as err:
        remedy = FailurePolicy().failed(err, Operation.CHECK_ACCOUNT, dt_util.utcnow())
        error = remedy.error_key or "unknown"
        if error == "unknown":
            LOGGER.exception("Unexpected answer from Graph")
        else:
            LOGGER.debug("Graph refused to read the account: %s", err)
        raise SignInRefused(
            error, host=str(remedy.placeholders.get("host", ""))
        ) from err
    return SignedInAccount(
        user.id, tenant_id, user.display_name or user.user_principal_name or user.id
    )
