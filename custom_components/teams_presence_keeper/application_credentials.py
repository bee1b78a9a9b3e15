"""Application Credentials: the authorization server of the entry's cloud and tenant.

Home Assistant asks for one authorization server per integration, but ours depends on
the cloud (or custom sign-in URL) and the tenant of the flow or entry at hand. Callers
name them with `authority_context` around anything that builds implementations, as
core's onedrive_for_business does with its tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from homeassistant.components.application_credentials import AuthorizationServer
from homeassistant.core import HomeAssistant

from .const import DOMAIN
from .graph import CloudEndpoints

_authority: ContextVar[tuple[CloudEndpoints, str]] = ContextVar(f"{DOMAIN}_authority")


@contextmanager
def authority_context(endpoints: CloudEndpoints, tenant: str) -> Iterator[None]:
    """Make the implementations built inside sign in at ``tenant`` of ``endpoints``."""
    token = _authority.set((endpoints, tenant))
    try:
        yield
    finally:
        _authority.reset(token)


async def async_get_authorization_server(hass: HomeAssistant) -> AuthorizationServer:
    """Return the authorize and token URLs of the authority in context."""
    endpoints, tenant = _authority.get()
    return AuthorizationServer(
        authorize_url=endpoints.authorize_url(tenant),
        token_url=endpoints.token_url(tenant),
    )
