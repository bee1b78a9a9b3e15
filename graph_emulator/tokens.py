"""Entra ID's records: tenants, app registrations, users, and what it issues them.

Checks raise `EntraError` carrying the AADSTS code Entra ID would answer with, so the
routes only translate requests and errors; nothing here knows about HTTP.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import hashlib
import json
import os
from pathlib import Path
import secrets
from typing import Any
import uuid

from .presence import Clock, User, UserPresence

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
DEFAULT_DELEGATED_SCOPES = frozenset(
    {"Presence.ReadWrite", "User.Read", "offline_access", "openid", "profile"}
)
DEFAULT_APP_ROLES = frozenset({"Presence.ReadWrite.All", "User.Read.All"})
DEFAULT_SCOPE = ".default"
MULTI_TENANT_ALIASES = frozenset({"organizations", "common"})
DEVICE_CODE_LIFETIME = timedelta(seconds=900)
AUTH_CODE_LIFETIME = timedelta(minutes=10)
# Refresh tokens lapse when unused this long (each use issues a fresh one).
REFRESH_TOKEN_IDLE_LIFETIME = timedelta(days=90)
ID_TOKEN_LIFETIME = timedelta(hours=1)
STATE_VERSION = 1
"""Format of the file `Directory.keep_in` writes."""
# Unambiguous characters, as people type the user code by hand.
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_USER_CODE_LENGTH = 8


class EntraError(Exception):
    """A refusal in Entra ID's terms: HTTP status, OAuth error, AADSTS code."""

    def __init__(
        self,
        status: int,
        error: str,
        code: int,
        message: str,
        *,
        suberror: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Keep what the error answer needs; the description leads with the code."""
        self.description = f"AADSTS{code}: {message}"
        super().__init__(self.description)
        self.status = status
        self.error = error
        self.code = code
        self.suberror = suberror
        self.retry_after = retry_after


def missing_parameter(name: str) -> EntraError:
    """Build the error Entra ID answers when a required parameter is absent."""
    return EntraError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


@dataclass
class Tenant:
    """A work or school directory; its domains come from its users' UPNs."""

    id: str
    display_name: str
    domains: set[str] = field(default_factory=set)


@dataclass(eq=False)
class AppRegistration:
    """An app registration; tests change its fields to change Entra ID's answers."""

    client_id: str
    tenant_id: str
    secret: str | None = None
    public_client_flows: bool = True
    consented_scopes: set[str] = field(
        default_factory=lambda: set(DEFAULT_DELEGATED_SCOPES)
    )
    app_roles: set[str] = field(default_factory=lambda: set(DEFAULT_APP_ROLES))


@dataclass(frozen=True)
class AccessToken:
    """What an opaque access token stands for; `user` is None for app-only tokens."""

    value: str
    app: AppRegistration
    user: User | None
    scopes: frozenset[str]
    roles: frozenset[str]
    expires_at: datetime


@dataclass(frozen=True)
class Grant:
    """A user's sign-in to an app, which codes and refresh tokens carry."""

    user: User
    app: AppRegistration
    scopes: frozenset[str]
    nonce: str | None = None


@dataclass(eq=False)
class DeviceCode:
    """A device-code sign-in; `user` is set on approval."""

    device_code: str
    user_code: str
    app: AppRegistration
    scopes: frozenset[str]
    issued_at: datetime
    user: User | None = None
    denied: bool = False

    @property
    def expires_at(self) -> datetime:
        """When polling gets expired_token."""
        return self.issued_at + DEVICE_CODE_LIFETIME


@dataclass(eq=False)
class _AuthCode:
    grant: Grant
    redirect_uri: str
    expires_at: datetime
    redeemed: bool = False


@dataclass(eq=False)
class _RefreshToken:
    grant: Grant
    expires_at: datetime
    revoked: bool = False


def issuer_url(base: str, tenant_id: str) -> str:
    """Return the issuer Entra ID names in tokens and discovery for a tenant."""
    return f"{base}/{tenant_id}/v2.0"


def _b64url_json(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def check_consent(app: AppRegistration, scopes: Iterable[str]) -> None:
    """Refuse scopes the app has no consent for (OpenID scopes need none)."""
    missing = set(scopes) - OIDC_SCOPES - app.consented_scopes
    if missing:
        raise EntraError(
            400,
            "invalid_grant",
            65001,
            "The user or administrator has not consented to use the application"
            f" with ID '{app.client_id}' for {', '.join(sorted(missing))}."
            " Send an interactive authorization request for this user and resource.",
            suberror="consent_required",
        )


def check_user(user: User) -> None:
    """Refuse personal Microsoft accounts: presence needs a work or school account."""
    if user.personal:
        raise EntraError(
            400,
            "access_denied",
            50020,
            f"User account '{user.upn}' from identity provider 'live.com' does not"
            " exist in the tenant and cannot access the application; personal"
            " Microsoft accounts are not supported by this application.",
        )


def authenticate_client(
    app: AppRegistration, secret: str | None, *, public_allowed: bool
) -> None:
    """Check the client secret; without one, the app must allow public flows."""
    if secret is not None:
        if app.secret is None or not secrets.compare_digest(secret, app.secret):
            raise EntraError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the"
                f" request is the client secret value for app '{app.client_id}'.",
            )
    elif not (public_allowed and app.public_client_flows):
        raise EntraError(
            400,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter:"
            " 'client_assertion' or 'client_secret'.",
        )


class Directory:
    """Everything Entra ID knows, and the codes and tokens outstanding.

    Kept in memory; `keep_in` also keeps tenants, users, apps and tokens in a file
    across restarts (device and authorization codes, which live minutes, are not).
    """

    def __init__(self, clock: Clock) -> None:
        """Start empty; the emulator seeds it."""
        self._clock = clock
        self._state_file: Path | None = None
        self.tenants: dict[str, Tenant] = {}
        self.users: list[User] = []
        self.apps: dict[str, AppRegistration] = {}
        self._access_tokens: dict[str, AccessToken] = {}
        self._revoked_access_tokens: set[str] = set()
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._auth_codes: dict[str, _AuthCode] = {}
        self._device_codes: dict[str, DeviceCode] = {}

    def add_tenant(self, tenant_id: str, display_name: str) -> Tenant:
        """Register a tenant (users and apps of unknown tenants add it too)."""
        tenant = self.tenants[tenant_id] = Tenant(tenant_id, display_name)
        self._changed()
        return tenant

    def _tenant(self, tenant_id: str) -> Tenant:
        return self.tenants.get(tenant_id) or self.add_tenant(tenant_id, tenant_id)

    def add_user(
        self,
        *,
        display_name: str,
        upn: str,
        tenant_id: str,
        user_id: str | None = None,
        personal: bool = False,
    ) -> User:
        """Register a user; a work account's UPN domain becomes a tenant domain."""
        tenant = self._tenant(tenant_id)
        if not personal:
            tenant.domains.add(upn.rpartition("@")[2].lower())
        user = User(
            id=user_id or str(uuid.uuid4()),
            display_name=display_name,
            upn=upn,
            tenant_id=tenant_id,
            presence=UserPresence(self._clock),
            personal=personal,
        )
        self.users.append(user)
        self._changed()
        return user

    def remove_user(self, user: User) -> None:
        """Remove a user; their tokens stop working, as a deleted account's do."""
        self.users.remove(user)
        self.revoke_access_tokens(user)
        self.revoke_refresh_tokens(user)
        self._changed()

    def add_app(self, app: AppRegistration) -> AppRegistration:
        """Register an app, replacing any with the same client id."""
        self._tenant(app.tenant_id)
        self.apps[app.client_id] = app
        self._changed()
        return app

    def find_user(self, key: str) -> User | None:
        """Find a user by object id or (case-insensitive) UPN."""
        key = key.lower()
        return next(
            (u for u in self.users if key in (u.id.lower(), u.upn.lower())), None
        )

    def tenant(self, segment: str) -> Tenant | None:
        """Resolve a tenant path segment; None stands for a multi-tenant alias."""
        key = segment.lower()
        if key in MULTI_TENANT_ALIASES:
            return None
        if key == "consumers":
            raise EntraError(
                400,
                "unauthorized_client",
                9002331,
                "The application is configured for use by Microsoft Entra ID users"
                " only; personal Microsoft accounts are not supported. Please do not"
                " use the /consumers endpoint to serve this request.",
            )
        for tenant in self.tenants.values():
            if key == tenant.id.lower() or key in tenant.domains:
                return tenant
        raise EntraError(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{segment}' not found. Check to make sure you have the correct"
            " tenant ID and are signing into the correct cloud.",
        )

    def app(self, client_id: str | None, tenant: Tenant | None) -> AppRegistration:
        """Find the app a request names, as registered in the tenant addressed."""
        if not client_id:
            raise missing_parameter("client_id")
        app = self.apps.get(client_id)
        if app is None or (tenant is not None and app.tenant_id != tenant.id):
            directory = tenant.display_name if tenant else "organizations"
            raise EntraError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the"
                f" directory '{directory}'. This can happen if the application has"
                " not been installed by the administrator of the tenant or consented"
                " to by any user in the tenant. You may have sent your authentication"
                " request to the wrong tenant.",
            )
        return app

    @staticmethod
    def requested_scopes(app: AppRegistration, raw: str) -> frozenset[str]:
        """Short scope names; a resource's .default stands for the app's consent."""
        names = {scope.rpartition("/")[2] for scope in raw.split()}
        if DEFAULT_SCOPE in names:
            names = (names - {DEFAULT_SCOPE}) | app.consented_scopes
        return frozenset(names)

    # Access tokens

    def issue_access_token(
        self,
        app: AppRegistration,
        user: User | None,
        *,
        scopes: Iterable[str] = (),
        roles: Iterable[str] = (),
        lifetime: timedelta,
    ) -> AccessToken:
        """Issue an opaque access token, delegated when `user` is given."""
        token = AccessToken(
            value=secrets.token_urlsafe(32),
            app=app,
            user=user,
            scopes=frozenset(scopes),
            roles=frozenset(roles),
            expires_at=self._clock() + lifetime,
        )
        self._access_tokens[token.value] = token
        self._changed()
        return token

    def access_token(self, value: str) -> AccessToken | None:
        """Look up an access token, expired or not."""
        return self._access_tokens.get(value)

    # Authorization codes

    def create_auth_code(self, grant: Grant, redirect_uri: str) -> str:
        """Issue a one-time authorization code for a sign-in."""
        code = secrets.token_urlsafe(32)
        self._auth_codes[code] = _AuthCode(
            grant, redirect_uri, expires_at=self._clock() + AUTH_CODE_LIFETIME
        )
        return code

    def redeem_auth_code(
        self, app: AppRegistration, code: str, redirect_uri: str | None
    ) -> Grant:
        """Redeem an authorization code once, for the app and redirect it was for."""
        record = self._auth_codes.get(code)
        if record is None or record.grant.app is not app:
            raise EntraError(
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
            )
        if record.redeemed:
            raise EntraError(
                400,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a"
                " new valid code or use an existing refresh token.",
            )
        if self._clock() >= record.expires_at:
            raise EntraError(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due"
                " to inactivity. Send a new interactive authorization request for"
                " this user and resource.",
            )
        if redirect_uri != record.redirect_uri:
            raise EntraError(
                400,
                "invalid_grant",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not"
                " match the redirect URI the authorization code was issued for.",
            )
        record.redeemed = True
        return record.grant

    # Device codes

    def create_device_code(
        self, app: AppRegistration, scopes: frozenset[str]
    ) -> DeviceCode:
        """Start a device-code sign-in with a fresh, unique user code."""
        taken = {code.user_code for code in self._device_codes.values()}
        user_code = ""
        while not user_code or user_code in taken:
            user_code = "".join(
                secrets.choice(_USER_CODE_ALPHABET) for _ in range(_USER_CODE_LENGTH)
            )
        code = DeviceCode(
            device_code=secrets.token_urlsafe(48),
            user_code=user_code,
            app=app,
            scopes=scopes,
            issued_at=self._clock(),
        )
        self._device_codes[code.device_code] = code
        return code

    def pending_device_code(self, user_code: str) -> DeviceCode:
        """Find an undecided, unexpired device code by the code the user types."""
        now = self._clock()
        for code in self._device_codes.values():
            if (
                code.user_code == user_code.strip().upper()
                and code.user is None
                and not code.denied
                and now < code.expires_at
            ):
                return code
        raise KeyError(f"No pending device code '{user_code}'.")

    def poll_device_code(
        self,
        app: AppRegistration,
        device_code: str,
        *,
        approve_as: User | None,
        approve_after: timedelta,
    ) -> Grant:
        """Answer one poll: the grant once approved (and only once), else why not.

        With `approve_as` set, a pending code is approved for that user at the first
        poll at least `approve_after` past its issue, as if they had signed in.
        """
        code = self._device_codes.get(device_code)
        if code is None or code.app is not app:
            raise EntraError(
                400,
                "bad_verification_code",
                70000,
                "Provided grant is invalid or malformed: unknown device code.",
            )
        now = self._clock()
        if now >= code.expires_at:
            raise EntraError(
                400,
                "expired_token",
                70019,
                "Verification code expired. Restart the device code sign-in.",
            )
        if code.denied:
            raise EntraError(
                400,
                "authorization_declined",
                70020,
                "The end user denied the authorization request.",
            )
        if code.user is None and approve_as and now - code.issued_at >= approve_after:
            code.user = approve_as
        if code.user is None:
            raise EntraError(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending."
                " Continue polling.",
            )
        del self._device_codes[device_code]
        return Grant(code.user, app, code.scopes)

    # Refresh tokens

    def redeem_refresh_token(self, app: AppRegistration, token: str) -> Grant:
        """Accept a refresh token unless unknown, revoked or lapsed.

        Like Entra ID, a used refresh token stays valid; its replacement is fresh.
        """
        record = self._refresh_tokens.get(token)
        if record is None or record.grant.app is not app:
            raise EntraError(
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid: unknown refresh"
                " token.",
            )
        if record.revoked:
            raise EntraError(
                400,
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth"
                " token is needed. The user might have changed or reset their"
                " password.",
            )
        if self._clock() >= record.expires_at:
            raise EntraError(
                400,
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was"
                f" issued on {record.expires_at - REFRESH_TOKEN_IDLE_LIFETIME} and"
                " was inactive for 90.00:00:00.",
            )
        return record.grant

    def issue_refresh_token(self, grant: Grant) -> str:
        """Issue a refresh token for a sign-in that never went through a flow."""
        refresh = secrets.token_urlsafe(48)
        self._refresh_tokens[refresh] = _RefreshToken(
            grant, expires_at=self._clock() + REFRESH_TOKEN_IDLE_LIFETIME
        )
        self._changed()
        return refresh

    def issued_secrets(self) -> set[str]:
        """Every credential issued or registered, for tests that look for leaks."""
        return {
            *self._access_tokens,
            *self._refresh_tokens,
            *self._auth_codes,
            *self._device_codes,
            *(app.secret for app in self.apps.values() if app.secret),
        }

    def revoke_access_tokens(self, user: User) -> None:
        """Revoke a user's access tokens before they expire (Graph then answers 401)."""
        self._revoked_access_tokens.update(
            value for value, token in self._access_tokens.items() if token.user is user
        )
        self._changed()

    def access_token_revoked(self, value: str) -> bool:
        """Whether an access token was revoked."""
        return value in self._revoked_access_tokens

    def revoke_refresh_tokens(self, user: User) -> None:
        """Revoke every refresh token of a user, as an administrator can."""
        for record in self._refresh_tokens.values():
            if record.grant.user is user:
                record.revoked = True
        self._changed()

    # Persistence

    def keep_in(self, state_file: Path) -> None:
        """Load what `state_file` holds, then save there after every change.

        For an emulator that restarts (the demo's): clients keep working with the
        refresh and access tokens it issued before. What the file names replaces
        records with the same id (the seeded ones); the rest stays.
        """
        if state_file.exists():
            self._restore(json.loads(state_file.read_text(encoding="utf-8")))
        self._state_file = state_file
        self._changed()

    def _changed(self) -> None:
        """Save the records, when kept in a file: atomically, readable by the owner."""
        if self._state_file is None:
            return
        temporary = self._state_file.with_name(f".{self._state_file.name}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(self._state(), file, indent=1)
        temporary.replace(self._state_file)

    def _state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "tenants": [
                {
                    "id": tenant.id,
                    "display_name": tenant.display_name,
                    "domains": sorted(tenant.domains),
                }
                for tenant in self.tenants.values()
            ],
            "users": [
                {
                    "id": user.id,
                    "display_name": user.display_name,
                    "upn": user.upn,
                    "tenant_id": user.tenant_id,
                    "personal": user.personal,
                }
                for user in self.users
            ],
            "apps": [
                {
                    "client_id": app.client_id,
                    "tenant_id": app.tenant_id,
                    "secret": app.secret,
                    "public_client_flows": app.public_client_flows,
                    "consented_scopes": sorted(app.consented_scopes),
                    "app_roles": sorted(app.app_roles),
                }
                for app in self.apps.values()
            ],
            "access_tokens": [
                {
                    "value": token.value,
                    "client_id": token.app.client_id,
                    "user_id": token.user.id if token.user else None,
                    "scopes": sorted(token.scopes),
                    "roles": sorted(token.roles),
                    "expires_at": token.expires_at.isoformat(),
                    "revoked": token.value in self._revoked_access_tokens,
                }
                for token in self._access_tokens.values()
            ],
            "refresh_tokens": [
                {
                    "value": value,
                    "client_id": record.grant.app.client_id,
                    "user_id": record.grant.user.id,
                    "scopes": sorted(record.grant.scopes),
                    "nonce": record.grant.nonce,
                    "expires_at": record.expires_at.isoformat(),
                    "revoked": record.revoked,
                }
                for value, record in self._refresh_tokens.items()
            ],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        """Take the saved records; those already here are updated, not replaced."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"Unknown emulator state version: {state.get('version')}")
        for saved in state["tenants"]:
            tenant = self._tenant(saved["id"])
            tenant.display_name = saved["display_name"]
            tenant.domains.update(saved["domains"])
        for saved in state["users"]:
            if (user := self.find_user(saved["id"])) is None:
                user = self.add_user(
                    display_name=saved["display_name"],
                    upn=saved["upn"],
                    tenant_id=saved["tenant_id"],
                    user_id=saved["id"],
                )
            user.display_name, user.upn = saved["display_name"], saved["upn"]
            user.tenant_id, user.personal = saved["tenant_id"], saved["personal"]
        for saved in state["apps"]:
            app = self.apps.get(saved["client_id"]) or self.add_app(
                AppRegistration(saved["client_id"], saved["tenant_id"])
            )
            app.tenant_id, app.secret = saved["tenant_id"], saved["secret"]
            app.public_client_flows = saved["public_client_flows"]
            app.consented_scopes = set(saved["consented_scopes"])
            app.app_roles = set(saved["app_roles"])
        users = {user.id: user for user in self.users}
        for token in state["access_tokens"]:
            access = AccessToken(
                value=token["value"],
                app=self.apps[token["client_id"]],
                user=users[token["user_id"]] if token["user_id"] else None,
                scopes=frozenset(token["scopes"]),
                roles=frozenset(token["roles"]),
                expires_at=datetime.fromisoformat(token["expires_at"]),
            )
            self._access_tokens[access.value] = access
            if token["revoked"]:
                self._revoked_access_tokens.add(access.value)
        for token in state["refresh_tokens"]:
            grant = Grant(
                users[token["user_id"]],
                self.apps[token["client_id"]],
                frozenset(token["scopes"]),
                token["nonce"],
            )
            self._refresh_tokens[token["value"]] = _RefreshToken(
                grant,
                expires_at=datetime.fromisoformat(token["expires_at"]),
                revoked=token["revoked"],
            )

    # Token answers

    def user_token_response(
        self, grant: Grant, *, lifetime: timedelta, issuer_base: str
    ) -> dict[str, Any]:
        """Issue tokens for a sign-in and answer as Entra ID's token endpoint does.

        Consent is additive: the token carries every Graph scope the app has consent
        for, not only those asked for now (an administrator's later grant included).
        """
        user, app = grant.user, grant.app
        scopes = grant.scopes | (app.consented_scopes - OIDC_SCOPES)
        access = self.issue_access_token(app, user, scopes=scopes, lifetime=lifetime)
        seconds = int(lifetime.total_seconds())
        response: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes - {"offline_access"})),
            "expires_in": seconds,
            "ext_expires_in": seconds,
            "access_token": access.value,
            "client_info": _b64url_json({"uid": user.id, "utid": user.tenant_id}),
        }
        now = self._clock()
        if "offline_access" in grant.scopes:
            response["refresh_token"] = self.issue_refresh_token(
                Grant(user, app, grant.scopes)
            )
        if "openid" in grant.scopes:
            issued = int(now.timestamp())
            claims: dict[str, Any] = {
                "ver": "2.0",
                "iss": issuer_url(issuer_base, user.tenant_id),
                "sub": base64.urlsafe_b64encode(
                    hashlib.sha256(f"{user.id}:{app.client_id}".encode()).digest()
                )
                .rstrip(b"=")
                .decode(),
                "aud": app.client_id,
                "oid": user.id,
                "tid": user.tenant_id,
                "preferred_username": user.upn,
                "name": user.display_name,
                "iat": issued,
                "nbf": issued,
                "exp": issued + int(ID_TOKEN_LIFETIME.total_seconds()),
            }
            if grant.nonce is not None:
                claims["nonce"] = grant.nonce
            # Unsigned (alg none): clients read the claims but do not verify them.
            response["id_token"] = (
                f"{_b64url_json({'typ': 'JWT', 'alg': 'none'})}.{_b64url_json(claims)}."
            )
        return response

    def app_token_response(
        self, app: AppRegistration, *, lifetime: timedelta
    ) -> dict[str, Any]:
        """Issue an app-only token carrying the app's roles (client credentials)."""
        access = self.issue_access_token(
            app, None, roles=app.app_roles, lifetime=lifetime
        )
        seconds = int(lifetime.total_seconds())
        return {
            "token_type": "Bearer",
            "expires_in": seconds,
            "ext_expires_in": seconds,
            "access_token": access.value,
        }
