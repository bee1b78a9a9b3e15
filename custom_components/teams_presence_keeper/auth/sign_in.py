"""The config flow's sign-ins: a device code, or the app's own secret.

Each gives an access token to read the account with, or raises ``SignInRefused``
with the form's error key. msal runs in the executor only.
"""

from __future__ import annotations

from collections.abc import Callable
import logging
import re
from typing import Any, Final

from homeassistant.core import HomeAssistant
import msal

from ..const import APPLICATION_SCOPE
from ..graph import CloudEndpoints
from .entry import delegated_scopes
from .errors import SignInRefused
from .msal_clients import MSAL_CONNECTION_ERRORS, confidential_client, public_client

_DEVICE_CODE_FIELD: Final = re.compile(r'("(?:device_code|code)": )"[^"]*"')


class _RedactDeviceCode(logging.Filter):
    """Hide the device code in msal's token-cache event log.

    msal logs each token request's fields at debug level, masking secrets and
    refresh tokens but not the device code it polls with: whoever reads the log
    before the code expires could redeem it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the code in the record's arguments; never drop the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                _DEVICE_CODE_FIELD.sub(r'\1"********"', arg)
                if isinstance(arg, str)
                else arg
                for arg in record.args
            )
        return True


logging.getLogger("msal.token_cache").addFilter(_RedactDeviceCode())


class DeviceCodeSignIn:
    """msal's device-code sign-in: a code to show, then a wait while the user signs in."""

    def __init__(
        self,
        app: msal.PublicClientApplication,
        code: dict[str, Any],
        cache: msal.SerializableTokenCache,
    ) -> None:
        """Keep msal's client, its device code and the cache the sign-in fills."""
        self._app = app
        self._code = code
        self.cache = cache

    @classmethod
    async def async_start(
        cls,
        hass: HomeAssistant,
        endpoints: CloudEndpoints,
        tenant: str,
        client_id: str,
        *,
        instant_updates: bool = False,
        people: bool = False,
    ) -> DeviceCodeSignIn:
        """Ask Entra ID for a code; raise ``SignInRefused`` if it gives none."""
        cache = msal.SerializableTokenCache()
        scopes = delegated_scopes(
            endpoints, instant_updates=instant_updates, people=people
        )

        def start() -> tuple[msal.PublicClientApplication, dict[str, Any]]:
            app = public_client(endpoints, tenant, client_id, cache)
            return app, app.initiate_device_flow(scopes=scopes)

        app, code = await _async_msal_sign_in(hass, start)
        if "user_code" not in code:
            raise SignInRefused.from_answer(code)
        return cls(app, code, cache)

    @property
    def url(self) -> str:
        """Where the user enters the code."""
        return str(self._code["verification_uri"])

    @property
    def user_code(self) -> str:
        """The code to enter."""
        return str(self._code["user_code"])

    async def async_wait(self, hass: HomeAssistant) -> str:
        """Wait for the sign-in and return its access token, or raise why not."""
        try:
            # msal blocks its thread while it polls, until sign-in or expiry.
            result: dict[str, Any] = await hass.async_add_executor_job(
                self._app.acquire_token_by_device_flow, self._code
            )
        except (*MSAL_CONNECTION_ERRORS, ValueError) as err:
            raise SignInRefused.unreachable(err) from err
        if "access_token" not in result:
            raise SignInRefused.from_answer(result)
        return str(result["access_token"])

    def cancel(self) -> None:
        """Stop msal's polling thread (it checks this every second)."""
        self._code["expires_at"] = 0


async def _async_msal_sign_in[T](hass: HomeAssistant, start: Callable[[], T]) -> T:
    """Run the start of a sign-in in the executor; its failures become refusals."""
    try:
        return await hass.async_add_executor_job(start)
    except MSAL_CONNECTION_ERRORS as err:
        raise SignInRefused.unreachable(err) from err
    except ValueError as err:
        # msal could not read the tenant's OpenID configuration.
        raise SignInRefused("tenant_not_found") from err


async def async_sign_in_application(
    hass: HomeAssistant,
    endpoints: CloudEndpoints,
    tenant: str,
    client_id: str,
    secret: str,
) -> tuple[str, str]:
    """Sign in as the app itself; return the tenant's id and an access token.

    msal reads the tenant's id from its OpenID configuration (the token endpoint
    names it), also when the user typed a domain.
    """

    def sign_in() -> tuple[str, dict[str, Any]]:
        app = confidential_client(endpoints, tenant, client_id, secret)
        result = app.acquire_token_for_client(
            scopes=[endpoints.scope(APPLICATION_SCOPE)]
        )
        return app.authority.tenant, result

    tenant_id, result = await _async_msal_sign_in(hass, sign_in)
    if "access_token" not in result:
        raise SignInRefused.from_answer(result)
    return tenant_id, str(result["access_token"])
