"""Access to one Microsoft 365 account: a token source, the app id and where Graph is.

One token provider per sign-in method, behind one interface. Failures are reduced to
two kinds the coordinator acts on: sign in again (permanent) or try later (transient).
msal is synchronous and does network I/O even when built, so it only ever runs in the
executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
import json
import logging
import re
import ssl
from typing import Any, Final, TypeGuard, cast
from urllib.parse import urlsplit

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
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import config_entry_oauth2_flow
import msal
from msal.exceptions import MsalServiceError
from requests import RequestException
from requests.exceptions import SSLError

from .application_credentials import authority_context
from .const import (
    APPLICATION_SCOPE,
    AUTH_METHOD_APPLICATION,
    AUTH_METHOD_BROWSER,
    AUTH_METHOD_DEVICE_CODE,
    CONF_AUTH_METHOD,
    CONF_CLOUD,
    CONF_FOLLOW_PEOPLE,
    CONF_GRAPH_URL,
    CONF_INSTANT_UPDATES,
    CONF_LOGIN_URL,
    CONF_TARGET_USER,
    CONF_TENANT_ID,
    CONF_TOKEN_CACHE,
    DEFAULT_INSTANT_UPDATES,
    DELEGATED_SCOPES,
    DOMAIN,
    INSTANT_UPDATES_SCOPE,
    LOGGER,
    PEOPLE_SCOPES,
)
from .graph import (
    CLOUD_ENDPOINTS,
    ME,
    Cloud,
    CloudEndpoints,
    certificate_problem,
    certificate_refusal,
)


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

AADSTS_ERRORS: Final[dict[int, str]] = {
    50020: "personal_account",  # a live.com account is not in the tenant
    500200: "personal_account",
    9002331: "personal_account",  # the app refuses the consumers endpoint
    65001: "consent_required",  # neither the user nor an admin consented
    65004: "authorization_declined",  # the user declined consent
    90094: "consent_required",  # only an administrator may consent
    700016: "app_not_found",  # unknown client id, or registered in another tenant
    90002: "tenant_not_found",
    900023: "tenant_not_found",  # neither a tenant id nor a domain
    7000218: "public_client_disabled",  # "Allow public client flows" is off
    7000215: "invalid_secret",
    7000222: "invalid_secret",  # the secret expired
    70019: "device_code_expired",
    70020: "authorization_declined",
}
"""Entra ID's AADSTS codes, as the flow's translated error keys: the only such map."""

_OAUTH_ERRORS: Final[dict[str, str]] = {
    "access_denied": "authorization_declined",
    "authorization_declined": "authorization_declined",
    "consent_required": "consent_required",
    "expired_token": "device_code_expired",
    # What msal returns when polling stops at the code's expiry (or is cancelled).
    "authorization_pending": "device_code_expired",
    "slow_down": "device_code_expired",
}
"""OAuth error values for answers that carry no known AADSTS code."""

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

APP_REGISTRATION_PROBLEMS: Final = frozenset({"public_client_disabled"})
"""Sign-in errors that a new sign-in would meet again: only a change to the app
registration fixes them, so they raise a repair issue rather than reauthentication."""

_AADSTS_CODE: Final = re.compile(r"AADSTS(\d+)")
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


def sign_in_error(answer: Mapping[str, Any]) -> str:
    """Return the flow error key for an Entra ID error answer (``unknown`` if new)."""
    codes = [int(code) for code in answer.get("error_codes") or ()]
    codes += map(int, _AADSTS_CODE.findall(str(answer.get("error_description"))))
    for code in codes:
        if code in AADSTS_ERRORS:
            return AADSTS_ERRORS[code]
    return _OAUTH_ERRORS.get(str(answer.get("error")), "sign_in_refused")


def entra_error_text(answer: Mapping[str, Any]) -> str:
    """Return Entra ID's own words for an error answer: its code and first line.

    Shown where no translated explanation exists, so the user (or an administrator)
    can look it up. Entra's description holds no secret, only trace and correlation ids.
    """
    description = str(answer.get("error_description") or "").strip().splitlines()
    return ": ".join(
        part
        for part in (
            str(answer.get("error") or ""),
            description[0] if description else "",
        )
        if part
    )


MSAL_CONNECTION_ERRORS: Final = (RequestException, MsalServiceError)
"""What msal raises when Entra ID is unreachable or answers 5xx (no OAuth error)."""
SIGN_IN_TIMEOUT = 20
"""Seconds msal waits for each answer of Entra ID (as long as for Graph's): msal
waits forever by default, and a removal or a reconfigure would with it."""


class SignInRequiredError(HomeAssistantError):
    """The account's sign-in is gone for good (revoked, expired, password changed)."""


class SignInUnavailableError(HomeAssistantError):
    """The sign-in service could not issue a token now; try again later."""


class SignInCertificateError(SignInUnavailableError):
    """The sign-in service's TLS certificate was refused (often a re-signing proxy).

    Retried like an outage; the user is told which host, and why.
    """

    def __init__(self, host: str, reason: str) -> None:
        """Refuse for ``host``'s certificate, OpenSSL's ``reason`` given."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="certificate_refused",
            translation_placeholders={"host": host, "reason": reason},
        )
        self.host = host
        self.reason = reason


def refused_certificate(err: BaseException) -> tuple[str, str] | None:
    """Return the host whose TLS certificate was refused and why, if that is ``err``.

    aiohttp (Graph, Home Assistant's OAuth2 helper) and requests (msal) say it
    differently, and wrap it in their own errors; a proxy that re-signs the
    network's traffic makes both say it.
    """
    msal_request: SSLError | None = None
    for inner in _nested(err):
        if (refusal := certificate_refusal(inner)) is not None:
            return refusal.host, refusal.reason
        if isinstance(inner, SSLError):
            msal_request = inner
        elif isinstance(inner, ssl.SSLCertVerificationError) and msal_request:
            host = urlsplit(str(getattr(msal_request.request, "url", ""))).hostname
            return host or "", certificate_problem(inner)
    return None


def _nested(err: BaseException) -> Iterator[BaseException]:
    """Yield ``err``, then the errors it wraps (causes, arguments, urllib3's reason)."""
    pending: list[object] = [err]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if isinstance(current, BaseException) and id(current) not in seen:
            seen.add(id(current))
            yield current
            pending += [
                *current.args,
                current.__cause__,
                getattr(current, "reason", None),
            ]


class AppRegistrationError(SignInUnavailableError):
    """The app registration no longer allows this sign-in method.

    Retried like an outage, so the account recovers by itself once an administrator
    changes the registration back; ``problem`` names the repair issue that says how.
    """

    def __init__(self, problem: str) -> None:
        """Refuse for ``problem``, a key of `APP_REGISTRATION_PROBLEMS`."""
        super().__init__(translation_domain=DOMAIN, translation_key=problem)
        self.problem = problem


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


def endpoints_from_data(data: Mapping[str, Any]) -> CloudEndpoints:
    """Return the Graph and sign-in URLs an entry (or flow) was configured with."""
    if data.get(CONF_GRAPH_URL) and data.get(CONF_LOGIN_URL):
        return CloudEndpoints(data[CONF_GRAPH_URL], data[CONF_LOGIN_URL])
    return CLOUD_ENDPOINTS[Cloud(data.get(CONF_CLOUD, Cloud.GLOBAL))]


DELEGATED_METHODS: Final = frozenset({AUTH_METHOD_BROWSER, AUTH_METHOD_DEVICE_CODE})
"""Sign-ins that act as the user: only they may subscribe to presence changes."""

_NATIONAL_CLOUDS: Final = frozenset(
    endpoints
    for cloud, endpoints in CLOUD_ENDPOINTS.items()
    if cloud is not Cloud.GLOBAL
)


def delegated_scopes(
    endpoints: CloudEndpoints, *, instant_updates: bool = False, people: bool = False
) -> list[str]:
    """Return the delegated scopes as Entra ID expects them in this cloud.

    Short names stand for the global Microsoft Graph, and token answers name them
    short too, which is what msal's cache matches later requests against. A national
    cloud's Graph has to be named in full. ``instant_updates`` adds the permission
    presence subscriptions need, asked for only once the user turned the option on;
    ``people`` those following people needs, once the user chose to follow someone.
    """
    permissions = [*DELEGATED_SCOPES]
    if instant_updates:
        permissions.append(INSTANT_UPDATES_SCOPE)
    if people:
        permissions = list(dict.fromkeys([*permissions, *PEOPLE_SCOPES]))
    if endpoints in _NATIONAL_CLOUDS:
        return [endpoints.scope(permission) for permission in permissions]
    return permissions


def wants_instant_updates(entry: ConfigEntry) -> bool:
    """Whether the entry signs in delegated and has the Instant updates option on."""
    return entry.data[CONF_AUTH_METHOD] in DELEGATED_METHODS and bool(
        entry.options.get(CONF_INSTANT_UPDATES, DEFAULT_INSTANT_UPDATES)
    )


def wants_people(entry: ConfigEntry) -> bool:
    """Whether the entry signs in delegated and its user chose to follow people."""
    return entry.data[CONF_AUTH_METHOD] in DELEGATED_METHODS and bool(
        entry.data.get(CONF_FOLLOW_PEOPLE)
    )


def lacks_people_consent(entry: ConfigEntry) -> bool:
    """Whether the stored sign-in was granted without what following people needs."""
    return _lacks_consent(entry, PEOPLE_SCOPES)


def lacks_instant_updates_consent(entry: ConfigEntry) -> bool:
    """Whether the stored sign-in was granted without ``Presence.Read.All``."""
    return _lacks_consent(entry, (INSTANT_UPDATES_SCOPE,))


def _lacks_consent(entry: ConfigEntry, scopes: tuple[str, ...]) -> bool:
    """Whether the stored sign-in was granted without one of ``scopes``.

    Entra ID names the granted scopes in each token answer (the browser method
    keeps it) and msal keeps them with each cached token (the device code). A token
    that names none is not judged here: Graph's 403 says it later.
    """
    granted: set[str] = set()
    if _readable_token(token := entry.data.get(CONF_TOKEN)) and isinstance(
        token.get("scope"), str
    ):
        granted.update(token["scope"].split())
    if (cache := _token_cache_state(entry.data.get(CONF_TOKEN_CACHE))) is not None:
        for item in cache.get("AccessToken", {}).values():
            granted.update(str(item.get("target", "")).split())
    names = {scope.rsplit("/", 1)[-1].lower() for scope in granted}
    return bool(names) and any(scope.lower() not in names for scope in scopes)


def _readable_token(token: object) -> TypeGuard[dict[str, Any]]:
    """Whether a stored OAuth token has what Home Assistant's OAuth2 helper reads."""
    return (
        isinstance(token, dict)
        and isinstance(token.get(CONF_ACCESS_TOKEN), str)
        and isinstance(token.get("refresh_token"), str)
        and isinstance(token.get("expires_at"), int | float)
    )


def _token_cache_state(serialized: object) -> dict[str, dict[str, Any]] | None:
    """Parse a stored msal cache; ``None`` unless it has msal's shape (items by kind)."""
    try:
        state = json.loads(serialized) if isinstance(serialized, str) else None
    except ValueError:
        return None
    if isinstance(state, dict) and all(
        isinstance(items, dict) and all(isinstance(i, dict) for i in items.values())
        for items in state.values()
    ):
        return state
    return None


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


class SignInRefused(Exception):  # noqa: N818 - a refusal, not an error of ours
    """A sign-in did not give a token: ``error`` is the flow's error key for why.

    ``entra_error`` holds Entra ID's own words where no translation says more.
    """

    def __init__(self, error: str, entra_error: str = "", *, host: str = "") -> None:
        """Keep the error key, Entra's words, and the host a refusal names."""
        super().__init__(error)
        self.error = error
        self.entra_error = entra_error
        self.host = host

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> SignInRefused:
        """Build from Entra ID's error answer."""
        return cls(sign_in_error(answer), entra_error_text(answer))

    @classmethod
    def unreachable(cls, err: BaseException) -> SignInRefused:
        """Build for a service that could not be reached, naming a refused certificate."""
        if (refusal := refused_certificate(err)) is not None:
            return cls("certificate_refused", host=refusal[0])
        return cls("cannot_connect")


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
    if not _readable_token(entry.data.get(CONF_TOKEN)):
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
                raise _sign_in_required() from err
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
    if _token_cache_state(stored := entry.data.get(CONF_TOKEN_CACHE)) is None:
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
            raise _sign_in_required()
        raise _sign_in_unavailable()


def _stored_sign_in_unreadable() -> ConfigEntryAuthFailed:
    """Ask for a new sign-in: the one stored in the entry is damaged."""
    return ConfigEntryAuthFailed(
        translation_domain=DOMAIN, translation_key="sign_in_required"
    )


def _sign_in_required() -> SignInRequiredError:
    return SignInRequiredError(
        translation_domain=DOMAIN, translation_key="sign_in_required"
    )


def _sign_in_unavailable(cause: BaseException | None = None) -> SignInUnavailableError:
    """Say the sign-in service could not give a token; name a refused certificate."""
    if cause is not None and (refusal := refused_certificate(cause)) is not None:
        return SignInCertificateError(*refusal)
    return SignInUnavailableError(
        translation_domain=DOMAIN, translation_key="sign_in_unavailable"
    )
