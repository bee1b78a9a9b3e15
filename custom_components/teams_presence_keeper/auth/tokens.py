"""The runtime's token providers: one per sign-in method, behind one interface.

Failures are reduced to two kinds the coordinator acts on: sign in again (permanent)
or try later (transient). msal is synchronous and does network I/O even when built,
so it only ever runs in the executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, cast

from aiohttp import ClientError, ClientResponseError
from homeassistant import exceptions as ha_exceptions
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONF_ACCESS_TOKEN,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_TOKEN,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_entry_oauth2_flow
import msal

from ..application_credentials import authority_context
from ..const import (
    APPLICATION_SCOPE,
    AUTH_METHOD_APPLICATION,
    AUTH_METHOD_BROWSER,
    AUTH_METHOD_DEVICE_CODE,
    CONF_AUTH_METHOD,
    CONF_TARGET_USER,
    CONF_TENANT_ID,
    CONF_TOKEN_CACHE,
    DOMAIN,
    LOGGER,
)
from ..graph import ME, CloudEndpoints
from .entry import (
    delegated_scopes,
    endpoints_from_data,
    lacks_instant_updates_consent,
    lacks_people_consent,
    readable_token,
    token_cache_state,
    wants_instant_updates,
    wants_people,
)
from .errors import (
    APP_REGISTRATION_PROBLEMS,
    AppRegistrationError,
    SignInCertificateError,
    SignInRequiredError,
    SignInUnavailableError,
    refused_certificate,
    sign_in_error,
)
from .msal_clients import MSAL_CONNECTION_ERRORS, confidential_client, public_client


def _ha_error(name: str) -> tuple[type[Exception], ...]:
    """Return Home Assistant's error class ``name`` where this release has one."""
    for module in (ha_exceptions, config_entry_oauth2_flow):
        if (error := getattr(module, name, None)) is not None:
            return (error,)
    return ()


# 2026.3+ says whether a failed refresh needs a new sign-in; older releases leave it
# to the HTTP status.
_TOKEN_REAUTH_ERRORS: Final = _ha_error("OAuth2TokenRequestReauthError")
_TOKEN_TRANSIENT_ERRORS: Final = _ha_error("OAuth2TokenRequestTransientError")

_SIGN_IN_REQUIRED_ERRORS: Final = frozenset(
    {
        "consent_required",
        "interaction_required",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
    }
)
"""OAuth errors of a token request that only a new sign-in fixes."""


@dataclass(frozen=True, slots=True)
class AccountAccess:
    """What the Graph client needs to act for one config entry."""

    get_access_token: Callable[[], Awaitable[str]]
    refresh_access_token: Callable[[], Awaitable[str]]
    """A new token, not the cached one: for when Graph rejects a token (401)."""
    client_id: str
    """The application (client) id: Graph's session id for the app presence session."""
    endpoints: CloudEndpoints
    user: str
    """``me`` for delegated sign-in, the target user's id for application permission."""


async def async_get_account_access(
    hass: HomeAssistant, entry: ConfigEntry
) -> AccountAccess:
    """Build the account access for an entry, whatever its sign-in method."""
    method = entry.data[CONF_AUTH_METHOD]
    if method == AUTH_METHOD_BROWSER:
        return await _async_browser_access(hass, entry)
    if method == AUTH_METHOD_DEVICE_CODE:
        return _device_code_access(hass, entry)
    if method == AUTH_METHOD_APPLICATION:
        return _application_access(hass, entry)
    raise ConfigEntryAuthFailed(
        translation_domain=DOMAIN, translation_key="unsupported_auth_method"
    )


async def _async_browser_access(
    hass: HomeAssistant, entry: ConfigEntry
) -> AccountAccess:
    """Tokens from Home Assistant's OAuth2 helper and Application Credentials."""
    endpoints = endpoints_from_data(entry.data)
    try:
        with authority_context(endpoints, entry.data[CONF_TENANT_ID]):
            implementation = (
                await config_entry_oauth2_flow.async_get_config_entry_implementation(
                    hass, entry
                )
            )
    except config_entry_oauth2_flow.ImplementationUnavailableError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="oauth2_implementation_unavailable",
        ) from err
    except ValueError as err:
        # The application credential was deleted: only a new sign-in can fix it.
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="oauth2_implementation_missing",
        ) from err
    if not readable_token(entry.data.get(CONF_TOKEN)):
        raise _stored_sign_in_unreadable()
    session = config_entry_oauth2_flow.OAuth2Session(hass, entry, implementation)

    async def refresh(force: bool) -> str:
        try:
            if force:
                token = await implementation.async_refresh_token(session.token)
                hass.config_entries.async_update_entry(
                    entry, data={**entry.data, "token": token}
                )
            else:
                await session.async_ensure_token_valid()
        except ClientResponseError as err:
            if _refresh_needs_sign_in(err):
                raise SignInRequiredError from err
            raise _sign_in_unavailable() from err
        except (ClientError, TimeoutError) as err:
            raise _sign_in_unavailable(err) from err
        return cast(str, session.token[CONF_ACCESS_TOKEN])

    return AccountAccess(
        get_access_token=partial(refresh, False),
        refresh_access_token=partial(refresh, True),
        client_id=cast(
            str, getattr(implementation, "client_id", entry.data.get(CONF_CLIENT_ID))
        ),
        endpoints=endpoints,
        user=entry.data.get(CONF_TARGET_USER) or ME,
    )


def _refresh_needs_sign_in(err: ClientResponseError) -> bool:
    """Tell a refused refresh token from a token endpoint that failed for now."""
    if isinstance(err, _TOKEN_TRANSIENT_ERRORS):
        return False
    if isinstance(err, _TOKEN_REAUTH_ERRORS):
        return True
    return 400 <= err.status < 500 and err.status != 429


def _device_code_access(hass: HomeAssistant, entry: ConfigEntry) -> AccountAccess:
    """Tokens refreshed silently from the msal cache the device-code sign-in left."""
    endpoints = endpoints_from_data(entry.data)
    if token_cache_state(stored := entry.data.get(CONF_TOKEN_CACHE)) is None:
        raise _stored_sign_in_unreadable()
    # Until the consent Instant updates needs is granted, refresh with what was:
    # asking for more fails, and the account would stop reading (the repair asks).
    scopes = delegated_scopes(
        endpoints,
        instant_updates=wants_instant_updates(entry)
        and not lacks_instant_updates_consent(entry),
        people=wants_people(entry) and not lacks_people_consent(entry),
    )
    cache = msal.SerializableTokenCache()
    cache.deserialize(stored)

    def build() -> msal.PublicClientApplication:
        return public_client(
            endpoints, entry.data[CONF_TENANT_ID], entry.data[CONF_CLIENT_ID], cache
        )

    def acquire(
        app: msal.PublicClientApplication, force: bool
    ) -> dict[str, Any] | None:
        accounts = app.get_accounts()
        if not accounts:
            return None
        return cast(
            dict[str, Any] | None,
            app.acquire_token_silent_with_error(
                scopes, account=accounts[0], force_refresh=force
            ),
        )

    tokens = _MsalTokens(hass, build, acquire)

    async def get_access_token(force: bool) -> str:
        try:
            return await tokens.async_get_access_token(force)
        finally:
            # A refresh rotates the refresh token: keep the new one across restarts.
            if cache.has_state_changed:
                hass.config_entries.async_update_entry(
                    entry, data={**entry.data, CONF_TOKEN_CACHE: cache.serialize()}
                )

    return AccountAccess(
        get_access_token=partial(get_access_token, False),
        refresh_access_token=partial(get_access_token, True),
        client_id=entry.data[CONF_CLIENT_ID],
        endpoints=endpoints,
        user=ME,
    )


def _application_access(hass: HomeAssistant, entry: ConfigEntry) -> AccountAccess:
    """App-only tokens from the client secret; msal caches them until near expiry."""
    endpoints = endpoints_from_data(entry.data)
    scopes = [endpoints.scope(APPLICATION_SCOPE)]

    def build() -> msal.ConfidentialClientApplication:
        return confidential_client(
            endpoints,
            entry.data[CONF_TENANT_ID],
            entry.data[CONF_CLIENT_ID],
            entry.data[CONF_CLIENT_SECRET],
        )

    def acquire(
        app: msal.ConfidentialClientApplication, force: bool
    ) -> dict[str, Any] | None:
        if force:
            app.remove_tokens_for_client()
        return cast(dict[str, Any], app.acquire_token_for_client(scopes=scopes))

    tokens = _MsalTokens(hass, build, acquire)
    return AccountAccess(
        get_access_token=partial(tokens.async_get_access_token, False),
        refresh_access_token=partial(tokens.async_get_access_token, True),
        client_id=entry.data[CONF_CLIENT_ID],
        endpoints=endpoints,
        user=entry.data[CONF_TARGET_USER],
    )


class _MsalTokens[AppT]:
    """One msal client, built on first use, asked for a token one call at a time."""

    def __init__(
        self,
        hass: HomeAssistant,
        build: Callable[[], AppT],
        acquire: Callable[[AppT, bool], dict[str, Any] | None],
    ) -> None:
        """Keep how to build the client and how to ask it for a token."""
        self._hass = hass
        self._build = build
        self._acquire = acquire
        self._app: AppT | None = None
        # Callers share one client and cache; one at a time avoids duplicate refreshes.
        self._lock = asyncio.Lock()

    def _get_token(self, force: bool) -> dict[str, Any] | None:
        """Run in the executor: build the client if needed, then ask for a token."""
        if self._app is None:
            self._app = self._build()
        return self._acquire(self._app, force)

    async def async_get_access_token(self, force: bool) -> str:
        """Return a valid access token (``force``: a new one), or raise why not."""
        async with self._lock:
            try:
                result = await self._hass.async_add_executor_job(self._get_token, force)
            except (*MSAL_CONNECTION_ERRORS, ValueError) as err:
                # Unreachable, a 5xx, or an answer that is not JSON.
                raise _sign_in_unavailable(err) from err
        if result and "access_token" in result:
            return str(result["access_token"])
        if result is not None:
            LOGGER.debug(
                "Token request refused: %s %s",
                result.get("error"),
                result.get("error_description"),
            )
        if result is not None and (
            (problem := sign_in_error(result)) in APP_REGISTRATION_PROBLEMS
        ):
            raise AppRegistrationError(problem)
        if result is None or result.get("error") in _SIGN_IN_REQUIRED_ERRORS:
            raise SignInRequiredError
        raise _sign_in_unavailable()


def _stored_sign_in_unreadable() -> ConfigEntryAuthFailed:
    """Ask for a new sign-in: the one stored in the entry is damaged."""
    return ConfigEntryAuthFailed(
        translation_domain=DOMAIN, translation_key="sign_in_required"
    )


def _sign_in_unavailable(cause: BaseException | None = None) -> SignInUnavailableError:
    """Say the sign-in service could not give a token; name a refused certificate."""
    if cause is not None and (refusal := refused_certificate(cause)) is not None:
        return SignInCertificateError(*refusal)
    return SignInUnavailableError()
