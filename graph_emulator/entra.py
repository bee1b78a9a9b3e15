"""Entra ID's sign-in routes: discovery, authorize, device code, token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
import html
from typing import Any, Protocol
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from ._http import read_form
from .notification_crypto import SigningKey
from .presence import Clock, User
from .tokens import (
    DEVICE_CODE_LIFETIME,
    OIDC_SCOPES,
    AppRegistration,
    Directory,
    EntraError,
    Grant,
    authenticate_client,
    check_consent,
    check_user,
    issuer_url,
    missing_parameter,
)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The scopes a client-credentials request may ask for Graph: Graph's application id
# URI in each cloud, or its application id, plus /.default. Entra knows resources by
# these names, not by the address requests go to (a test server's, here).
GRAPH_DEFAULT_SCOPES = frozenset(
    f"{resource}/.default"
    for resource in (
        "https://graph.microsoft.com",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
        "00000003-0000-0000-c000-000000000000",
    )
)
# Kept at one second so that clients polling a device code finish quickly in tests.
DEVICE_CODE_INTERVAL = 1


class EntraHost(Protocol):
    """What the sign-in routes read at request time; tests change it as they go."""

    @property
    def clock(self) -> Clock:
        """The emulator's clock."""

    @property
    def directory(self) -> Directory:
        """Tenants, users, apps, codes and tokens."""

    @property
    def default_user(self) -> User:
        """Who signs in unless told otherwise."""

    @property
    def login_url(self) -> str:
        """Base URL of the HTTPS sign-in listener."""

    def take_sign_in_fault(self) -> EntraError | None:
        """Return the token endpoint's next queued refusal, if any."""

    login_down: bool
    signing_keys_down: bool
    signing_key: SigningKey
    authorize_as: User | None
    auto_approve_device_codes: User | None
    auto_approve_delay: timedelta
    token_lifetime: timedelta


def _base(request: web.Request) -> str:
    """Return the URL prefix clients used, so that each listener advertises itself."""
    return f"{request.scheme}://{request.host}"


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise missing_parameter(name)
    return value


def _check_response_type(response_type: str | None) -> None:
    """Only the authorization code flow is offered."""
    if response_type != "code":
        raise EntraError(
            400,
            "unsupported_response_type",
            700054,
            f"response_type '{response_type}' is not enabled for the application.",
        )


def _page(status: int, title: str, text: str) -> web.Response:
    return web.Response(
        status=status,
        content_type="text/html",
        text=f"<!doctype html><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>",
    )


def _sign_in_error_page(err: EntraError) -> web.Response:
    return _page(
        err.status,
        "Sign in",
        f"Sorry, but we're having trouble signing you in. {err.description}",
    )


class EntraApi:
    """The Entra ID routes, answering for one emulator."""

    def __init__(self, host: EntraHost) -> None:
        """Answer from `host`, read at each request."""
        self._host = host

    def routes(self) -> list[web.RouteDef]:
        """Route definitions, for each app that serves sign-in."""
        base = "/{tenant}"
        oauth = f"{base}/oauth2/v2.0"
        return [
            web.get(
                f"{base}/v2.0/.well-known/openid-configuration",
                self._answering_errors(self._discovery),
            ),
            web.get(f"{base}/discovery/v2.0/keys", self._keys),
            web.get(f"{oauth}/authorize", self._authorize),
            web.post(f"{oauth}/devicecode", self._answering_errors(self._device_code)),
            web.post(f"{oauth}/token", self._answering_errors(self._token)),
            web.get(f"{oauth}/logout", self._logout),
            web.get("/devicelogin", self._device_login),
            web.post("/devicelogin", self._device_login),
        ]

    def _answering_errors(self, handler: Handler) -> Handler:
        """Turn refusals raised by a handler into Entra ID's JSON error answers."""

        async def answer(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except EntraError as err:
                body: dict[str, Any] = {
                    "error": err.error,
                    "error_description": err.description,
                    "error_codes": [err.code],
                    "timestamp": f"{self._host.clock():%Y-%m-%d %H:%M:%SZ}",
                    "trace_id": str(uuid.uuid4()),
                    "correlation_id": str(uuid.uuid4()),
                }
                if err.suberror is not None:
                    body["suberror"] = err.suberror
                headers = (
                    {"Retry-After": str(err.retry_after)}
                    if err.retry_after is not None
                    else None
                )
                return web.json_response(body, status=err.status, headers=headers)

        return answer

    def _app(self, request: web.Request, client_id: str | None) -> AppRegistration:
        """Resolve the tenant in the path and the app registered there."""
        directory = self._host.directory
        return directory.app(client_id, directory.tenant(request.match_info["tenant"]))

    async def _discovery(self, request: web.Request) -> web.StreamResponse:
        segment = request.match_info["tenant"]
        tenant = self._host.directory.tenant(segment)
        base = _base(request)
        # Like Entra ID, a tenant named by a domain answers with its id in the
        # endpoints, which is how clients such as msal learn the tenant id.
        path = tenant.id if tenant else segment
        oauth = f"{base}/{path}/oauth2/v2.0"
        return web.json_response(
            {
                # Multi-tenant aliases name a placeholder, as Entra ID does.
                "issuer": issuer_url(base, tenant.id if tenant else "{tenantid}"),
                "authorization_endpoint": f"{oauth}/authorize",
                "token_endpoint": f"{oauth}/token",
                "device_authorization_endpoint": f"{oauth}/devicecode",
                "end_session_endpoint": f"{oauth}/logout",
                "jwks_uri": f"{base}/{path}/discovery/v2.0/keys",
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    DEVICE_CODE_GRANT,
                ],
                "scopes_supported": sorted(OIDC_SCOPES),
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["none"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
        )

    async def _keys(self, request: web.Request) -> web.StreamResponse:
        """Publish the key validation tokens are signed with (id_tokens are unsigned)."""
        if self._host.signing_keys_down:
            return web.Response(status=503, text="Service Unavailable")
        return web.json_response(self._host.signing_key.jwks())

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        target = request.query.get("post_logout_redirect_uri")
        if target:
            raise web.HTTPFound(target)
        return _page(200, "Sign out", "You have signed out of your account.")

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        """Sign in without a page: the default user (or `authorize_as`) approves."""
        query = request.query
        directory = self._host.directory
        try:
            app = self._app(request, query.get("client_id"))
            redirect_uri = _required(query, "redirect_uri")
            scopes = directory.requested_scopes(app, _required(query, "scope"))
        except EntraError as err:
            return _sign_in_error_page(err)
        user = self._host.authorize_as or self._host.default_user
        params = {"state": query["state"]} if "state" in query else {}
        try:
            _check_response_type(query.get("response_type"))
            check_user(user)
            check_consent(app, scopes)
        except EntraError as err:
            params |= {
                "error": err.suberror or err.error,
                "error_description": err.description,
            }
        else:
            grant = Grant(user, app, scopes, nonce=query.get("nonce"))
            params["code"] = directory.create_auth_code(grant, redirect_uri)
        raise web.HTTPFound(URL(redirect_uri).update_query(params))

    async def _device_code(self, request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        app = self._app(request, form.get("client_id"))
        scopes = self._host.directory.requested_scopes(app, _required(form, "scope"))
        code = self._host.directory.create_device_code(app, scopes)
        uri = f"{self._host.login_url}/devicelogin"
        return web.json_response(
            {
                "device_code": code.device_code,
                "user_code": code.user_code,
                "verification_uri": uri,
                "expires_in": int(DEVICE_CODE_LIFETIME.total_seconds()),
                "interval": DEVICE_CODE_INTERVAL,
                "message": f"To sign in, use a web browser to open the page {uri}"
                f" and enter the code {code.user_code} to authenticate.",
            }
        )

    async def _device_login(self, request: web.Request) -> web.StreamResponse:
        """Approve a device code for the default user, as a browser sign-in would."""
        user_code = request.query.get("code") or (await read_form(request)).get("code")
        if not user_code:
            return web.Response(
                content_type="text/html",
                text="<!doctype html><title>Enter code</title>"
                '<form method="post"><label>Code <input name="code"></label>'
                "<button>Next</button></form>",
            )
        user = self._host.default_user
        try:
            code = self._host.directory.pending_device_code(user_code)
        except KeyError:
            return _page(
                400,
                "Enter code",
                "That code didn't work. Check the code and try again.",
            )
        code.user = user
        return _page(
            200,
            "Signed in",
            f"{user.upn} signed in to {code.app.client_id}. You can close this window.",
        )

    async def _token(self, request: web.Request) -> web.StreamResponse:
        if self._host.login_down:
            raise EntraError(
                503,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
                retry_after=1,
            )
        if (fault := self._host.take_sign_in_fault()) is not None:
            raise fault
        form = await read_form(request)
        app = self._app(request, form.get("client_id"))
        grant_type = _required(form, "grant_type")
        secret = form.get("client_secret")
        lifetime = self._host.token_lifetime
        directory = self._host.directory
        if grant_type == "client_credentials":
            authenticate_client(app, secret, public_allowed=False)
            scope = _required(form, "scope")
            if scope.strip() not in GRAPH_DEFAULT_SCOPES:
                raise EntraError(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client"
                    " credential flows must have a scope value with /.default"
                    " suffixed to the resource identifier (application ID URI).",
                )
            return web.json_response(
                directory.app_token_response(app, lifetime=lifetime)
            )
        authenticate_client(app, secret, public_allowed=True)
        grant = self._user_grant(grant_type, app, form)
        check_user(grant.user)
        check_consent(app, grant.scopes)
        return web.json_response(
            directory.user_token_response(
                grant, lifetime=lifetime, issuer_base=_base(request)
            )
        )

    def _user_grant(
        self, grant_type: str, app: AppRegistration, form: Mapping[str, str]
    ) -> Grant:
        """Redeem what a delegated grant type presents for the sign-in behind it."""
        directory = self._host.directory
        if grant_type == "authorization_code":
            return directory.redeem_auth_code(
                app, _required(form, "code"), form.get("redirect_uri")
            )
        if grant_type == DEVICE_CODE_GRANT:
            # msal sends the device code both as device_code and as code.
            return directory.poll_device_code(
                app,
                form.get("device_code") or _required(form, "code"),
                approve_as=self._host.auto_approve_device_codes,
                approve_after=self._host.auto_approve_delay,
            )
        if grant_type == "refresh_token":
            grant = directory.redeem_refresh_token(
                app, _required(form, "refresh_token")
            )
            scope = form.get("scope")
            if not scope:
                return grant
            return Grant(grant.user, app, directory.requested_scopes(app, scope))
        raise EntraError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
