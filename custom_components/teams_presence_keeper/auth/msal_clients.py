"""msal's clients, built alike for the flow's sign-ins and the runtime's tokens.

Building one is blocking (msal fetches the tenant's OpenID discovery): callers build
them in the executor.
"""

from __future__ import annotations

from typing import Final

import msal
from msal.exceptions import MsalServiceError
from requests import RequestException

from ..graph import CloudEndpoints

MSAL_CONNECTION_ERRORS: Final = (RequestException, MsalServiceError)
"""What msal raises when Entra ID is unreachable or answers 5xx (no OAuth error)."""
SIGN_IN_TIMEOUT = 20
"""Seconds msal waits for each answer of Entra ID (as long as for Graph's): msal
waits forever by default, and a removal or a reconfigure would with it."""


def public_client(
    endpoints: CloudEndpoints,
    tenant: str,
    client_id: str,
    cache: msal.SerializableTokenCache,
) -> msal.PublicClientApplication:
    """Build msal's device-code client; blocking, as msal fetches OpenID discovery."""
    return msal.PublicClientApplication(
        client_id,
        authority=endpoints.authority(tenant),
        token_cache=cache,
        # The authority comes from our own cloud table or the user: never ask the
        # public cloud to vouch for it (a custom sign-in URL would fail that check).
        instance_discovery=False,
        timeout=SIGN_IN_TIMEOUT,
    )


def confidential_client(
    endpoints: CloudEndpoints, tenant: str, client_id: str, secret: str
) -> msal.ConfidentialClientApplication:
    """Build msal's client-credentials client; blocking, like `public_client`."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=endpoints.authority(tenant),
        instance_discovery=False,
        timeout=SIGN_IN_TIMEOUT,
    )
